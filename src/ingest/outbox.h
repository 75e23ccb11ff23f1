// A connection's bounded send queue. The session queues control messages; for players the
// StreamHub queues media from the publisher's thread. One writer coroutine drains it.
// Slow-player policy: past the byte limit, media is dropped until the
// next video keyframe (or, for audio-only streams, until the queue has half drained), and
// the drops are counted. The queue never grows past the limit plus control messages.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <mutex>

#include "ingest/stream_hub.h"

namespace sluice::ingest {

class Outbox final : public Subscriber, public std::enable_shared_from_this<Outbox> {
 public:
  using Executor = boost::asio::strand<boost::asio::any_io_executor>;
  // `coalesce`: how long the writer lets media accumulate before a write (0 = write at once);
  // control and command messages are never held back.
  // Fewer, larger writes cut per-player syscall and wake-up cost at a small latency cost.
  Outbox(Executor executor, std::size_t media_limit_bytes, std::atomic<std::uint64_t>& drops,
         std::chrono::milliseconds coalesce = {});

  // Control and command messages: always queued.
  void send(media::SharedBytes bytes);
  void send(media::Bytes bytes) { send(std::make_shared<const media::Bytes>(std::move(bytes))); }

  // Subscriber (called by the Stream, on the publisher's thread): the item's shared RTMP
  // chunks.
  void on_item(const LiveItemPtr& item) override;
  // A packet's chunks, under the same drop policy.
  void queue_media(const media::Packet& packet, const media::SharedBytes& chunks);
  void on_stream_end() override;

  // Bytes to send when the stream ends (a player's StreamEOF and UnpublishNotify); the writer
  // then stops, which ends the player's session.
  void set_farewell(media::Bytes bytes);

  // Writes queued bytes until close() or a write error. `write_started` is set while a
  // write is in progress so the session's watchdog can time out a stuck peer.
  // Instantiated for a TCP socket (players) and a TLS stream over one (RTMPS relays).
  template <typename AsyncWriteStream>
  boost::asio::awaitable<void> run_writer(AsyncWriteStream& stream,
                                          std::chrono::steady_clock::time_point& write_started);
  // Stops the writer once everything queued so far has been written.
  void close();

  std::uint64_t bytes_sent() const { return bytes_sent_; }

 private:
  void wake_locked();

  Executor executor_;
  boost::asio::steady_timer wake_;
  const std::size_t media_limit_;
  const std::chrono::milliseconds coalesce_;
  std::atomic<std::uint64_t>& drops_;

  mutable std::mutex mutex_;  // guards the fields below
  std::deque<media::SharedBytes> queue_;
  std::size_t queued_bytes_ = 0;
  bool wake_pending_ = false;
  bool control_queued_ = false;  // send() queued something: do not hold it back to coalesce
  bool closed_ = false;
  media::SharedBytes farewell_;
  bool waiting_for_keyframe_ = false;
  bool saw_video_ = false;

  std::uint64_t bytes_sent_ = 0;  // writer only
};

}  // namespace sluice::ingest
