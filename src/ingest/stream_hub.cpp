#include "ingest/stream_hub.h"

#include <algorithm>

namespace sluice::ingest {

namespace {
// A GOP longer than this (a publisher that never sends keyframes) stops being cached; players
// then wait for the next keyframe instead of receiving an unbounded backlog.
constexpr std::size_t kMaxGopBytes = 32u << 20;
}  // namespace

Stream::Stream(std::string playback_id, std::uint64_t session_id, Publisher publisher)
    : playback_id_(std::move(playback_id)),
      session_id_(session_id),
      publisher_(std::move(publisher)) {}

void Stream::publish(const media::PacketPtr& packet) {
  auto item = std::make_shared<const LiveItem>(packet);
  std::lock_guard lock(mutex_);
  if (ended_) return;
  bytes_in_ += packet->body ? packet->body->size() : 0;
  if (packet->kind == media::TrackKind::kVideo) video_codec_ = packet->codec;
  if (packet->kind == media::TrackKind::kAudio) audio_codec_ = packet->codec;

  if (packet->config) {
    (packet->kind == media::TrackKind::kVideo ? video_config_ : audio_config_) = item;
  } else if (packet->kind == media::TrackKind::kData) {
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
      gop_.push_back(item);
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

std::pair<media::PacketPtr, media::PacketPtr> Stream::latest_keyframe() const {
  std::lock_guard lock(mutex_);
  // The GOP cache starts with its keyframe whenever it has anything.
  media::PacketPtr keyframe = gop_.empty() ? nullptr : gop_.front()->packet;
  return {video_config_ ? video_config_->packet : nullptr, keyframe};
}

std::pair<media::Codec, media::Codec> Stream::codecs() const {
  std::lock_guard lock(mutex_);
  return {video_codec_, audio_codec_};
}

bool Stream::ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

void Stream::replay_to(Subscriber& subscriber) const {
  for (const auto* item : {&metadata_, &video_config_, &audio_config_}) {
    if (*item) subscriber.on_item(*item);
  }
  for (const auto& item : gop_)
    subscriber.on_item(item);
}

bool Stream::subscribe(const std::shared_ptr<Subscriber>& subscriber) {
  std::lock_guard lock(mutex_);
  if (ended_) return false;
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
  return StreamStats{playback_id_,  publisher_,    started_,           bytes_in_,
                     video_frames_, audio_frames_, subscribers_.size()};
}

Result<std::shared_ptr<Stream>> StreamHub::start_publish(const std::string& playback_id,
                                                         bool takeover, Publisher publisher) {
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
    stream = std::make_shared<Stream>(playback_id, next_session_++, std::move(publisher));
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
