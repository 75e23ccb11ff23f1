#include "serve/thumbnails.h"

#include <pthread.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "transcode/thumbnail.h"

namespace sluice::serve {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

bool thumbnail_current(const CachedThumbnail& cached, std::uint64_t session,
                       std::int64_t keyframe_dts_ms, Clock::time_point now,
                       std::chrono::milliseconds interval) {
  if (!cached.jpeg || cached.session != session) return false;
  return cached.keyframe_dts_ms == keyframe_dts_ms || now - cached.made_at < interval;
}

Thumbnails::Thumbnails(ThumbnailConfig config) : config_(config) {
  // Named, so that its CPU time can be told apart (bench/thumbnail_bench.py reads it).
  asio::post(pool_, [] { pthread_setname_np(pthread_self(), "thumbnails"); });
}

Thumbnails::~Thumbnails() {
  pool_.join();
}

media::SharedBytes Thumbnails::current(const std::string& playback_id, std::uint64_t session,
                                       std::int64_t keyframe_dts_ms) {
  std::lock_guard lock(mutex_);
  auto it = kept_.find(playback_id);
  if (it == kept_.end() ||
      !thumbnail_current(it->second, session, keyframe_dts_ms, Clock::now(), config_.interval))
    return nullptr;
  counters_.reused.fetch_add(1, std::memory_order_relaxed);
  return it->second.jpeg;
}

asio::awaitable<Result<media::SharedBytes>> Thumbnails::get(
    std::shared_ptr<ingest::Stream> stream) {
  auto [config, keyframe] = stream->latest_keyframe();
  if (!config || !keyframe) co_return make_error(Errc::kNotFound, "no keyframe yet");
  if (auto kept = current(stream->playback_id(), stream->session_id(), keyframe->dts_ms))
    co_return kept;
  auto made = co_await asio::co_spawn(
      pool_, make(stream->playback_id(), stream->session_id(), config, keyframe),
      asio::use_awaitable);
  if (auto* error = std::get_if<Error>(&made)) co_return *error;
  co_return std::get<media::SharedBytes>(std::move(made));
}

asio::awaitable<std::variant<media::SharedBytes, Error>> Thumbnails::make(
    std::string playback_id, std::uint64_t session, media::PacketPtr config,
    media::PacketPtr keyframe) {
  if (auto kept = current(playback_id, session, keyframe->dts_ms)) co_return kept;
  auto jpeg = transcode::make_thumbnail(*config, *keyframe, {config_.max_width});
  if (!jpeg) {
    counters_.failed.fetch_add(1, std::memory_order_relaxed);
    co_return jpeg.error();
  }
  auto shared = std::make_shared<const media::Bytes>(std::move(*jpeg));
  counters_.made.fetch_add(1, std::memory_order_relaxed);
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  // Pictures of streams nobody asked about for a while go, so the map stays as small as the
  // set of streams being looked at.
  for (auto it = kept_.begin(); it != kept_.end();) {
    if (now - it->second.made_at > 10 * config_.interval && it->first != playback_id)
      it = kept_.erase(it);
    else
      ++it;
  }
  kept_[playback_id] = {session, keyframe->dts_ms, now, shared};
  co_return shared;
}

}  // namespace sluice::serve
