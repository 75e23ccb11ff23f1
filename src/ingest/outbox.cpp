#include "ingest/outbox.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "ingest/rtmp_wire.h"

namespace sluice::ingest {

namespace asio = boost::asio;

namespace {
constexpr std::size_t kCoalesceBytes = 64 * 1024;  // write at once past this much
}  // namespace

Outbox::Outbox(Executor executor, std::size_t media_limit_bytes, std::atomic<std::uint64_t>& drops,
               std::chrono::milliseconds coalesce)
    : executor_(executor),
      wake_(executor),
      media_limit_(media_limit_bytes),
      coalesce_(coalesce),
      drops_(drops) {
  wake_.expires_at(asio::steady_timer::time_point::max());
}

void Outbox::wake_locked() {
  if (wake_pending_) return;
  wake_pending_ = true;
  asio::post(executor_, [self = shared_from_this()] { self->wake_.cancel(); });
}

void Outbox::send(media::SharedBytes bytes) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  queued_bytes_ += bytes->size();
  queue_.push_back(std::move(bytes));
  control_queued_ = true;
  wake_locked();
}

void Outbox::on_item(const LiveItemPtr& item) {
  queue_media(*item->packet, rtmp_chunks(*item));
}

void Outbox::queue_media(const media::Packet& packet, const media::SharedBytes& chunks) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  const bool media = !packet.config && packet.kind != media::TrackKind::kData;
  if (packet.kind == media::TrackKind::kVideo) saw_video_ = true;
  if (media) {
    const bool keyframe = packet.kind == media::TrackKind::kVideo && packet.keyframe;
    if (waiting_for_keyframe_) {
      const bool resume = keyframe || (!saw_video_ && queued_bytes_ < media_limit_ / 2);
      if (!resume || queued_bytes_ + chunks->size() > media_limit_) {
        drops_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      waiting_for_keyframe_ = false;
    } else if (queued_bytes_ + chunks->size() > media_limit_) {
      waiting_for_keyframe_ = true;
      drops_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  queued_bytes_ += chunks->size();
  queue_.push_back(chunks);
  wake_locked();
}

void Outbox::set_farewell(media::Bytes bytes) {
  std::lock_guard lock(mutex_);
  farewell_ = std::make_shared<const media::Bytes>(std::move(bytes));
}

void Outbox::on_stream_end() {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  if (farewell_) {
    queued_bytes_ += farewell_->size();
    queue_.push_back(farewell_);
  }
  closed_ = true;
  wake_locked();
}

void Outbox::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  wake_locked();
}

template <typename AsyncWriteStream>
asio::awaitable<void> Outbox::run_writer(AsyncWriteStream& socket,
                                         std::chrono::steady_clock::time_point& write_started) {
  std::vector<media::SharedBytes> batch;
  std::vector<asio::const_buffer> buffers;
  asio::steady_timer coalesce_timer(executor_);
  for (;;) {
    if (coalesce_.count() > 0) {
      bool small = false;
      {
        std::lock_guard lock(mutex_);
        // Only media waits: answers to commands go at once (each would otherwise add the
        // coalescing delay to a client's connect-to-publish round trips).
        small = !queue_.empty() && !closed_ && !control_queued_ && queued_bytes_ < kCoalesceBytes;
      }
      if (small) {
        // wake_pending_ stays set meanwhile, so producers do not post more wake-ups.
        coalesce_timer.expires_after(coalesce_);
        auto [ec] = co_await coalesce_timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
      }
    }
    batch.clear();
    bool closed = false;
    {
      std::lock_guard lock(mutex_);
      closed = closed_;
      if (queue_.empty()) {
        wake_pending_ = false;
      } else {
        // Gather up to ~1 MiB per write: fewer syscalls, bounded latency for control.
        std::size_t bytes = 0;
        while (!queue_.empty() && bytes < (1u << 20)) {
          bytes += queue_.front()->size();
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        queued_bytes_ -= bytes;
        if (queue_.empty()) control_queued_ = false;
      }
    }
    if (batch.empty()) {
      if (closed) co_return;
      wake_.expires_at(asio::steady_timer::time_point::max());
      auto [ec] = co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec && ec != asio::error::operation_aborted) co_return;
      // operation_aborted means either "new bytes" (wake_locked) or the session itself was
      // cancelled; only the latter sets the coroutine's cancellation state.
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) co_return;
      continue;
    }
    buffers.clear();
    for (const auto& b : batch)
      buffers.emplace_back(b->data(), b->size());
    write_started = std::chrono::steady_clock::now();
    auto [ec, n] = co_await asio::async_write(socket, buffers, asio::as_tuple(asio::use_awaitable));
    write_started = {};
    if (ec) co_return;
    bytes_sent_ += n;
  }
}

template asio::awaitable<void> Outbox::run_writer(asio::ip::tcp::socket&,
                                                  std::chrono::steady_clock::time_point&);
template asio::awaitable<void> Outbox::run_writer(asio::ssl::stream<asio::ip::tcp::socket>&,
                                                  std::chrono::steady_clock::time_point&);

}  // namespace sluice::ingest
