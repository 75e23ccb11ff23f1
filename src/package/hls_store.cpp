#include "package/hls_store.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

#include "package/master_playlist.h"
#include "package/media_playlist.h"
#include "package/segmenter.h"

namespace sluice::package {
namespace {

constexpr const char* kSourceRendition = "source";
// Segments kept retrievable beyond the window, for players that fetched the playlist just
// before it slid.
constexpr std::size_t kExtraRetained = 3;

std::uint64_t epoch_millis(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return ms > 0 ? static_cast<std::uint64_t>(ms) : 0;
}

}  // namespace

namespace detail {

// The store's state. Writers hold it weakly, so it is a named type rather than the private
// HlsStore::Impl.
struct StoreState {
  struct Rendition {
    MediaPlaylist playlist;
    std::deque<SegmentPtr> segments;  // window + kExtraRetained, oldest first
    std::string text;                 // render(playlist), cached so readers only copy
  };

  struct Stream {
    std::uint64_t generation = 0;  // of the writer allowed to publish
    bool live = true;
    std::chrono::system_clock::time_point ended_at;
    std::uint64_t next_sequence = 0;
    bool next_discontinuity = false;  // republish or takeover: flag the next segment
    Rendition source;
    StreamInfo info;
    std::optional<std::string> master_text;  // only once a segment measured the bandwidth
  };

  HlsConfig config;
  HlsStore::Clock clock;

  // Guards everything below. Held only to update the model and swap cached strings, never
  // while muxing or calling listeners.
  mutable std::mutex mutex;
  std::map<std::string, Stream, std::less<>> streams;
  // Last sequence number used per playback ID, kept after a stream is dropped so numbering
  // never goes back even if the clock does. One integer per ID ever published.
  std::map<std::string, std::uint64_t, std::less<>> last_sequence;
  std::vector<SegmentListener*> listeners;
  std::uint64_t next_generation = 1;

  StoreState(HlsConfig c, HlsStore::Clock k) : config(c), clock(std::move(k)) {}

  void render_master(Stream& s) const {
    const auto& segments = s.source.segments;
    if (segments.empty()) return;
    // Bandwidth over the listed window only, so it tracks the current encoder settings.
    const std::size_t listed = std::min(segments.size(), s.source.playlist.entries.size());
    double peak = 0, total_bits = 0, total_s = 0;
    for (std::size_t i = segments.size() - listed; i < segments.size(); ++i) {
      const double bits = 8.0 * static_cast<double>(segments[i]->data->size());
      const double seconds = segments[i]->duration_s;
      total_bits += bits;
      total_s += seconds;
      if (seconds > 0) peak = std::max(peak, bits / seconds);
    }
    Variant v;
    v.rendition = kSourceRendition;
    v.peak_bps = static_cast<std::uint64_t>(std::ceil(peak));
    v.average_bps =
        total_s > 0 ? static_cast<std::uint64_t>(std::llround(total_bits / total_s)) : 0;
    if (v.peak_bps == 0) v.peak_bps = v.average_bps;
    v.width = s.info.width;
    v.height = s.info.height;
    v.codecs = s.info.codecs;
    v.frame_rate = s.info.frame_rate;
    s.master_text = render(MasterPlaylist{{std::move(v)}});
  }

  // Stores a finished segment of writer `generation`. Returns the segment to announce, or
  // null when the writer was superseded (takeover) or the stream dropped.
  SegmentPtr publish(const std::string& id, std::uint64_t generation,
                     std::chrono::system_clock::time_point session_start,
                     FinishedSegment&& finished, std::vector<SegmentListener*>& notify) {
    std::lock_guard lock(mutex);
    auto it = streams.find(id);
    if (it == streams.end() || it->second.generation != generation || !it->second.live) {
      return nullptr;
    }
    Stream& s = it->second;
    auto segment = std::make_shared<Segment>();
    segment->sequence = s.next_sequence++;
    segment->duration_s = static_cast<double>(finished.duration_ms) / 1000.0;
    segment->discontinuity = finished.discontinuity || std::exchange(s.next_discontinuity, false);
    segment->program_date_time = session_start + std::chrono::milliseconds(finished.start_dts_ms);
    segment->data = std::make_shared<const media::Bytes>(std::move(finished.data));
    last_sequence[id] = segment->sequence;

    s.source.playlist.add(PlaylistEntry{segment->sequence, segment->duration_s,
                                        segment->discontinuity, segment->program_date_time},
                          config.window);
    s.source.segments.push_back(segment);
    while (s.source.segments.size() > config.window + kExtraRetained) {
      s.source.segments.pop_front();
    }
    s.source.text = render(s.source.playlist);
    s.info = std::move(finished.info);
    render_master(s);
    notify = listeners;
    return segment;
  }

  void end(const std::string& id, std::uint64_t generation) {
    std::lock_guard lock(mutex);
    auto it = streams.find(id);
    if (it == streams.end() || it->second.generation != generation) return;
    Stream& s = it->second;
    s.live = false;
    s.ended_at = clock();
    s.source.playlist.ended = true;
    s.source.text = render(s.source.playlist);
  }
};

}  // namespace detail

struct HlsStore::Impl : detail::StoreState {
  using StoreState::StoreState;
};

namespace {

class Writer final : public HlsWriter {
 public:
  Writer(std::weak_ptr<detail::StoreState> impl, std::string id, std::uint64_t generation,
         std::chrono::system_clock::time_point session_start, const HlsConfig& config)
      : impl_(std::move(impl)),
        id_(std::move(id)),
        generation_(generation),
        session_start_(session_start),
        segmenter_(SegmenterConfig{config.target_duration_s, config.max_segment_bytes},
                   [this](FinishedSegment&& s) { publish(std::move(s)); }) {}

  ~Writer() override {
    // A session torn down without end() must still enter its grace period and be swept.
    if (!ended_) Writer::end();
  }

  Status on_packet(const media::Packet& packet) override {
    if (ended_ || stale_) return Ok{};
    return segmenter_.on_packet(packet);
  }

  void end() override {
    if (ended_) return;
    segmenter_.finish();
    ended_ = true;
    if (auto impl = impl_.lock(); impl && !stale_) impl->end(id_, generation_);
  }

 private:
  void publish(FinishedSegment&& finished) {
    auto impl = impl_.lock();
    if (!impl) {
      stale_ = true;
      return;
    }
    std::vector<SegmentListener*> notify;
    SegmentPtr segment =
        impl->publish(id_, generation_, session_start_, std::move(finished), notify);
    if (!segment) {
      stale_ = true;  // taken over: stop muxing for a session nobody reads
      return;
    }
    for (auto* listener : notify)
      listener->on_segment(id_, kSourceRendition, segment);
  }

  std::weak_ptr<detail::StoreState> impl_;  // the store may go away before the ingest session
  std::string id_;
  std::uint64_t generation_;
  std::chrono::system_clock::time_point session_start_;
  Segmenter segmenter_;
  bool ended_ = false;
  bool stale_ = false;
};

}  // namespace

HlsStore::HlsStore(HlsConfig config, Clock clock)
    : impl_(std::make_shared<Impl>(config, std::move(clock))) {}

HlsStore::~HlsStore() = default;

std::unique_ptr<HlsWriter> HlsStore::begin(const std::string& playback_id) {
  bool dropped_expired = false;
  std::vector<SegmentListener*> notify;
  std::uint64_t generation = 0;
  std::chrono::system_clock::time_point now;
  {
    std::lock_guard lock(impl_->mutex);
    now = impl_->clock();
    generation = impl_->next_generation++;
    auto it = impl_->streams.find(playback_id);
    if (it != impl_->streams.end()) {
      detail::StoreState::Stream& s = it->second;
      if (s.live || now < s.ended_at + impl_->config.grace) {
        // Republish within grace, or a takeover of a live session: same playlist, numbering
        // continues, and players are told the timeline jumps.
        s.generation = generation;
        s.live = true;
        s.next_discontinuity = !s.source.playlist.entries.empty();
        s.source.playlist.ended = false;
        s.source.text = render(s.source.playlist);
        return std::make_unique<Writer>(impl_, playback_id, generation, now, impl_->config);
      }
      impl_->streams.erase(it);  // expired but not yet swept
      dropped_expired = true;
      notify = impl_->listeners;
    }
    detail::StoreState::Stream s;
    s.generation = generation;
    s.source.playlist.configured_target_s = impl_->config.target_duration_s;
    s.next_sequence = epoch_millis(now);
    if (auto last = impl_->last_sequence.find(playback_id); last != impl_->last_sequence.end()) {
      s.next_sequence = std::max(s.next_sequence, last->second + 1);
    }
    impl_->streams.emplace(playback_id, std::move(s));
  }
  if (dropped_expired) {
    for (auto* listener : notify)
      listener->on_stream_dropped(playback_id);
  }
  return std::make_unique<Writer>(impl_, playback_id, generation, now, impl_->config);
}

std::optional<std::string> HlsStore::master_playlist(const std::string& playback_id) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->streams.find(playback_id);
  if (it == impl_->streams.end()) return std::nullopt;
  return it->second.master_text;
}

std::optional<std::string> HlsStore::media_playlist(const std::string& playback_id,
                                                    const std::string& rendition) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->streams.find(playback_id);
  if (it == impl_->streams.end() || rendition != kSourceRendition) return std::nullopt;
  // No segment yet: a playlist without segments makes players give up, so 404 until then.
  if (it->second.source.playlist.entries.empty()) return std::nullopt;
  return it->second.source.text;
}

SegmentPtr HlsStore::segment(const std::string& playback_id, const std::string& rendition,
                             std::uint64_t sequence) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->streams.find(playback_id);
  if (it == impl_->streams.end() || rendition != kSourceRendition) return nullptr;
  const auto& segments = it->second.source.segments;
  // Sequence numbers are increasing in the deque, so binary search.
  auto pos =
      std::lower_bound(segments.begin(), segments.end(), sequence,
                       [](const SegmentPtr& s, std::uint64_t seq) { return s->sequence < seq; });
  if (pos == segments.end() || (*pos)->sequence != sequence) return nullptr;
  return *pos;
}

bool HlsStore::has_stream(const std::string& playback_id) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->streams.contains(playback_id);
}

void HlsStore::sweep() {
  std::vector<std::string> dropped;
  std::vector<SegmentListener*> notify;
  {
    std::lock_guard lock(impl_->mutex);
    const auto now = impl_->clock();
    for (auto it = impl_->streams.begin(); it != impl_->streams.end();) {
      if (!it->second.live && now >= it->second.ended_at + impl_->config.grace) {
        dropped.push_back(it->first);
        it = impl_->streams.erase(it);
      } else {
        ++it;
      }
    }
    notify = impl_->listeners;
  }
  for (const auto& id : dropped) {
    for (auto* listener : notify)
      listener->on_stream_dropped(id);
  }
}

void HlsStore::add_listener(SegmentListener* listener) {
  std::lock_guard lock(impl_->mutex);
  impl_->listeners.push_back(listener);
}

}  // namespace sluice::package
