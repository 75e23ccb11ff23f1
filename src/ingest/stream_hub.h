// The live streams of this node: one Stream per playback ID, the one distribution point of a
// publisher's packets, which every consumer subscribes to: its outputs (HLS passthrough or the
// transcoder), RTMP players and relays. The hub knows no protocol.
// Thread-safety: StreamHub and Stream are safe to call from any thread. The publisher calls
// Stream::publish from its own strand; subscribers must not block in on_item (they queue).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "media/packet.h"
#include "media/result.h"

namespace sluice::ingest {

// A packet as fanned out, shared by every subscriber. A protocol's subscribers can keep one
// encoding of it with it (RTMP's chunks, ingest/rtmp_wire.h): made once, by the first that
// asks, and shared by every player of the stream.
class LiveItem {
 public:
  explicit LiveItem(media::PacketPtr p) : packet(std::move(p)) {}
  const media::PacketPtr packet;

  // `encode(packet)`, made at most once per item. Thread-safe.
  template <typename Encode>
  const media::SharedBytes& encoded(Encode&& encode) const {
    std::call_once(once_, [&] { encoded_ = encode(*packet); });
    return encoded_;
  }

 private:
  mutable std::once_flag once_;
  mutable media::SharedBytes encoded_;
};
using LiveItemPtr = std::shared_ptr<const LiveItem>;

class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // Called with the stream's lock held, in publish order. Must not block.
  virtual void on_item(const LiveItemPtr& item) = 0;
  // The publisher left (or was replaced); no more items will come.
  virtual void on_stream_end() = 0;
};

// Who publishes a stream, and how.
struct Publisher {
  std::string protocol;  // rtmp, rtmps
  std::string remote;    // the publisher's address
};

struct StreamStats {
  std::string playback_id;
  Publisher publisher;
  std::chrono::steady_clock::time_point started;
  std::uint64_t bytes_in = 0;
  std::uint64_t video_frames = 0;
  std::uint64_t audio_frames = 0;
  std::size_t subscribers = 0;
};

class Stream {
 public:
  Stream(std::string playback_id, std::uint64_t session_id, Publisher publisher = {});

  const std::string& playback_id() const { return playback_id_; }
  std::uint64_t session_id() const { return session_id_; }

  // Publisher side. Keeps the codec configs, metadata and the GOP since the last keyframe,
  // so a new player starts on a keyframe at once.
  void publish(const media::PacketPtr& packet);
  // Publisher side: ends the stream for every subscriber.
  void end();
  // True once ended, e.g. because a new publisher took the playback ID over.
  bool ended() const;

  // Subscriber side. Replays metadata, configs and the GOP cache, then live items.
  // Returns false if the stream has already ended.
  bool subscribe(const std::shared_ptr<Subscriber>& subscriber);
  void unsubscribe(const Subscriber* subscriber);

  StreamStats stats() const;
  // The codecs of the latest video and audio packets (kUnknown before the first).
  std::pair<media::Codec, media::Codec> codecs() const;
  // The video configuration and the latest video keyframe, what a still picture is made of;
  // either is null while the stream has none (or its last GOP outgrew the cache).
  std::pair<media::PacketPtr, media::PacketPtr> latest_keyframe() const;

 private:
  void replay_to(Subscriber& subscriber) const;

  const std::string playback_id_;
  const std::uint64_t session_id_;
  const Publisher publisher_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  mutable std::mutex mutex_;  // guards everything below
  bool ended_ = false;
  LiveItemPtr metadata_;
  LiveItemPtr video_config_;
  LiveItemPtr audio_config_;
  std::vector<LiveItemPtr> gop_;  // from the last video keyframe (bounded by kMaxGopBytes)
  std::size_t gop_bytes_ = 0;
  std::vector<std::shared_ptr<Subscriber>> subscribers_;
  std::uint64_t bytes_in_ = 0, video_frames_ = 0, audio_frames_ = 0;
  media::Codec video_codec_ = media::Codec::kUnknown;
  media::Codec audio_codec_ = media::Codec::kUnknown;
};

class StreamHub {
 public:
  explicit StreamHub(std::size_t max_streams) : max_streams_(max_streams) {}

  // Claims playback_id for a new publish session. A live publisher of the same ID makes this
  // fail (kRejected), unless takeover is set: then the old Stream is ended and replaced.
  Result<std::shared_ptr<Stream>> start_publish(const std::string& playback_id, bool takeover,
                                                Publisher publisher = {});
  // Releases the ID if `stream` still holds it (a replaced publisher's late call is a no-op).
  void end_publish(const std::shared_ptr<Stream>& stream);

  std::shared_ptr<Stream> find(const std::string& playback_id) const;
  std::vector<StreamStats> list() const;
  std::size_t size() const;
  std::size_t max_streams() const { return max_streams_; }

 private:
  const std::size_t max_streams_;
  mutable std::mutex mutex_;  // guards streams_ and next_session_
  std::unordered_map<std::string, std::shared_ptr<Stream>> streams_;
  std::uint64_t next_session_ = 1;
};

}  // namespace sluice::ingest
