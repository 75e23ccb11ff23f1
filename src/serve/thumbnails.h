// Still pictures of live streams, for /<playbackId>/thumbnail.jpg. A picture is made only
// when someone asks, from the stream's latest keyframe (transcode/thumbnail), and kept: it is
// made again only once the interval has passed and a newer keyframe has come. Pictures are
// made one at a time on a thread of their own, so they cost at most one core however many
// ask, never hold an I/O thread, and requests queued behind one find it made.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include "ingest/stream_hub.h"
#include "media/packet.h"
#include "media/result.h"

namespace sluice::serve {

struct ThumbnailConfig {
  std::chrono::milliseconds interval{10'000};  // zero: no thumbnails
  int max_width = 640;
};

// A picture as kept: which keyframe of which publish it shows, and when it was made.
struct CachedThumbnail {
  std::uint64_t session = 0;
  std::int64_t keyframe_dts_ms = -1;
  std::chrono::steady_clock::time_point made_at;
  media::SharedBytes jpeg;
};

// Pure: whether `cached` may be served when the stream's latest keyframe is (`session`,
// `keyframe_dts_ms`): it shows that very keyframe, or it is younger than `interval`.
bool thumbnail_current(const CachedThumbnail& cached, std::uint64_t session,
                       std::int64_t keyframe_dts_ms, std::chrono::steady_clock::time_point now,
                       std::chrono::milliseconds interval);

struct ThumbnailCounters {
  std::atomic<std::uint64_t> made{0};    // pictures decoded and encoded
  std::atomic<std::uint64_t> reused{0};  // answers from a kept picture
  std::atomic<std::uint64_t> failed{0};  // keyframes that would not become a picture
};

class Thumbnails {
 public:
  explicit Thumbnails(ThumbnailConfig config);
  ~Thumbnails();  // waits for the picture being made, if any

  // The picture of `stream` now. kNotFound: no keyframe yet; kUnsupported: a codec that
  // is not decoded here.
  boost::asio::awaitable<Result<media::SharedBytes>> get(std::shared_ptr<ingest::Stream> stream);
  const ThumbnailConfig& config() const { return config_; }
  const ThumbnailCounters& counters() const { return counters_; }

 private:
  // On the thumbnail thread: the kept picture if a request ahead of this one made it, else a
  // new one.
  // (A variant, not a Result: what a coroutine hands across executors must have a default.)
  boost::asio::awaitable<std::variant<media::SharedBytes, Error>> make(std::string playback_id,
                                                                       std::uint64_t session,
                                                                       media::PacketPtr config,
                                                                       media::PacketPtr keyframe);
  media::SharedBytes current(const std::string& playback_id, std::uint64_t session,
                             std::int64_t keyframe_dts_ms);

  const ThumbnailConfig config_;
  ThumbnailCounters counters_;
  boost::asio::thread_pool pool_{1};
  std::mutex mutex_;                             // guards kept_
  std::map<std::string, CachedThumbnail> kept_;  // by playback ID
};

}  // namespace sluice::serve
