#include "ingest/stream_hub.h"

#include <algorithm>

#include "proto/rtmp/chunk.h"
#include "proto/rtmp/server_messages.h"

namespace sluice::ingest {

namespace {
// A GOP longer than this (a publisher that never sends keyframes) stops being cached; players
// then wait for the next keyframe instead of receiving an unbounded backlog.
constexpr std::size_t kMaxGopBytes = 32u << 20;

std::uint8_t rtmp_type(media::TrackKind kind) {
  switch (kind) {
    case media::TrackKind::kVideo:
      return rtmp::kVideo;
    case media::TrackKind::kAudio:
      return rtmp::kAudio;
    case media::TrackKind::kData:
      return rtmp::kDataAmf0;
  }
  return rtmp::kDataAmf0;
}

// Chunk stream ids for media sent to players (any value >= 3 works; these match librtmp).
std::uint32_t play_csid(media::TrackKind kind) {
  return kind == media::TrackKind::kAudio ? 4 : kind == media::TrackKind::kVideo ? 6 : 5;
}
}  // namespace

Stream::Stream(std::string playback_id, std::uint64_t session_id)
    : playback_id_(std::move(playback_id)), session_id_(session_id) {}

LiveItem Stream::make_item(const media::PacketPtr& packet) const {
  auto chunks = std::make_shared<media::Bytes>();
  const auto& body = *packet->body;
  chunks->reserve(body.size() + body.size() / rtmp::kServerChunkSize + 16);
  rtmp::encode_message(play_csid(packet->kind), rtmp_type(packet->kind), rtmp::kMediaStreamId,
                       static_cast<std::uint32_t>(packet->dts_ms), body, rtmp::kServerChunkSize,
                       *chunks);
  return LiveItem{packet, std::move(chunks)};
}

void Stream::publish(const media::PacketPtr& packet) {
  std::lock_guard lock(mutex_);
  if (ended_) return;
  // Encoded lazily per packet: with no player, nobody pays for the wire form.
  LiveItem item = subscribers_.empty() ? LiveItem{packet, nullptr} : make_item(packet);
  bytes_in_ += packet->body ? packet->body->size() : 0;

  if (packet->config) {
    if (!item.rtmp_chunks) item = make_item(packet);
    (packet->kind == media::TrackKind::kVideo ? video_config_ : audio_config_) = item;
  } else if (packet->kind == media::TrackKind::kData) {
    if (!item.rtmp_chunks) item = make_item(packet);
    metadata_ = item;
  } else {
    if (packet->kind == media::TrackKind::kVideo) ++video_frames_;
    if (packet->kind == media::TrackKind::kAudio) ++audio_frames_;
    if (packet->kind == media::TrackKind::kVideo && packet->keyframe) {
      gop_.clear();
      gop_bytes_ = 0;
    }
    const bool have_keyframe =
        !gop_.empty() || (packet->kind == media::TrackKind::kVideo && packet->keyframe);
    const std::size_t size = packet->body ? packet->body->size() : 0;
    if (have_keyframe && gop_bytes_ + size <= kMaxGopBytes) {
      gop_.push_back(item);  // wire form made on replay if a player arrives later
      gop_bytes_ += size;
    }
  }
  for (const auto& s : subscribers_)
    s->on_item(item);
}

void Stream::end() {
  std::vector<std::shared_ptr<Subscriber>> subscribers;
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    ended_ = true;
    subscribers.swap(subscribers_);
    gop_.clear();
  }
  for (const auto& s : subscribers)
    s->on_stream_end();
}

bool Stream::ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

void Stream::replay_to(Subscriber& subscriber) const {
  for (const LiveItem* item : {&metadata_, &video_config_, &audio_config_}) {
    if (item->packet) subscriber.on_item(*item);
  }
  for (const auto& item : gop_) {
    subscriber.on_item(item.rtmp_chunks ? item : make_item(item.packet));
  }
}

bool Stream::subscribe(const std::shared_ptr<Subscriber>& subscriber) {
  std::lock_guard lock(mutex_);
  if (ended_) return false;
  // Items cached before the first player have no wire form yet; fill it in once.
  for (auto& item : gop_) {
    if (!item.rtmp_chunks) item = make_item(item.packet);
  }
  replay_to(*subscriber);
  subscribers_.push_back(subscriber);
  return true;
}

void Stream::unsubscribe(const Subscriber* subscriber) {
  std::lock_guard lock(mutex_);
  std::erase_if(subscribers_, [&](const auto& s) { return s.get() == subscriber; });
}

StreamStats Stream::stats() const {
  std::lock_guard lock(mutex_);
  return StreamStats{playback_id_,  started_,      bytes_in_,
                     video_frames_, audio_frames_, subscribers_.size()};
}

Result<std::shared_ptr<Stream>> StreamHub::start_publish(const std::string& playback_id,
                                                         bool takeover) {
  std::shared_ptr<Stream> replaced;
  std::shared_ptr<Stream> stream;
  {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(playback_id);
    if (it != streams_.end()) {
      if (!takeover) return make_error(Errc::kRejected, "stream already publishing");
      replaced = it->second;
    } else if (streams_.size() >= max_streams_) {
      return make_error(Errc::kLimitExceeded,
                        "node is at its limit of " + std::to_string(max_streams_) + " streams");
    }
    stream = std::make_shared<Stream>(playback_id, next_session_++);
    streams_[playback_id] = stream;
  }
  if (replaced) replaced->end();
  return stream;
}

void StreamHub::end_publish(const std::shared_ptr<Stream>& stream) {
  {
    std::lock_guard lock(mutex_);
    auto it = streams_.find(stream->playback_id());
    if (it != streams_.end() && it->second == stream) streams_.erase(it);
  }
  stream->end();
}

std::shared_ptr<Stream> StreamHub::find(const std::string& playback_id) const {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(playback_id);
  return it == streams_.end() ? nullptr : it->second;
}

std::vector<StreamStats> StreamHub::list() const {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, s] : streams_)
      streams.push_back(s);
  }
  std::vector<StreamStats> out;
  for (const auto& s : streams)
    out.push_back(s->stats());
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.playback_id < b.playback_id; });
  return out;
}

std::size_t StreamHub::size() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

}  // namespace sluice::ingest
