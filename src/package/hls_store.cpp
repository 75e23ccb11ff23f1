#include "package/hls_store.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

#include "media/bytes_pool.h"
#include "observe/metrics.h"
#include "package/master_playlist.h"
#include "package/media_playlist.h"
#include "package/segmenter.h"

namespace sluice::package {
namespace {

// Segments kept retrievable beyond the window, for players that fetched the playlist just
// before it slid.
constexpr std::size_t kExtraRetained = 3;
// Parts stay retrievable this many target durations: listed for three, then three more for
// players that fetched the playlist just before they left it.
constexpr double kPartRetentionTargets = 6;

std::uint64_t epoch_millis(std::chrono::system_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return ms > 0 ? static_cast<std::uint64_t>(ms) : 0;
}

}  // namespace

namespace detail {

// The store's state. Writers hold it weakly, so it is a named type rather than the private
// HlsStore::Impl.
const std::vector<double> kSegmentSecondsBuckets = {0.5, 1, 2, 3, 4, 6, 8, 10, 15, 20, 30, 60};
const std::vector<double> kPartSecondsBuckets = {0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2, 5};

struct StoreState {
  struct Rendition {
    MediaPlaylist playlist;
    std::deque<SegmentPtr> segments;  // window + kExtraRetained, oldest first
    std::string text;                 // render(playlist), cached so readers only copy
    std::string delta_text;           // low-latency: render(playlist, delta)
    std::uint64_t next_sequence = 0;
    // Low-latency: recent parts, oldest first, each with the media time at its end.
    struct RetainedPart {
      PartPtr part;
      double end_s = 0;
    };
    std::deque<RetainedPart> parts;
    double part_clock_s = 0;  // media seconds of all parts so far
    std::uint64_t next_part = 0;
    // fMP4: the current init segment, and those the retained segments still need, by ID.
    media::SharedBytes init;
    std::uint64_t init_id = 0;
    std::map<std::uint64_t, media::SharedBytes> inits;
    // Wall seconds from the newest part's first media arriving at ingest to its publication.
    std::optional<double> part_delay_s;
    bool next_discontinuity = false;    // republish or takeover: flag the next segment
    std::uint64_t discontinuities = 0;  // tags emitted in this rendition's timeline
    bool open = false;                  // part of the current session
    // A segment since the session opened it. The master waits for one in every rendition,
    // also in low-latency mode: a player that ignores parts sees an empty playlist before.
    bool has_session_media = false;
    std::uint64_t declared_peak_bps = 0;
    StreamInfo info;
  };

  struct Stream {
    std::uint64_t generation = 0;  // of the session allowed to publish
    bool live = true;
    std::chrono::system_clock::time_point ended_at;
    std::uint64_t session_base = 0;         // first sequence number of the current session
    std::uint64_t part_base = 0;            // first part number of a rendition
    std::optional<Continuation> continued;  // moved here from another server
    bool endlist_pending = false;           // ended; ENDLIST once endlist_delay has passed
    std::map<std::string, Rendition, std::less<>> renditions;
    std::optional<std::string> master_text;  // once every open rendition has a segment
  };

  HlsConfig config;
  HlsStore::Clock clock;
  observe::Histogram segment_duration{kSegmentSecondsBuckets};
  observe::Histogram segment_production{kSegmentSecondsBuckets};
  observe::Histogram part_production{kPartSecondsBuckets};

  // Guards everything below. Held only to update the model and swap cached strings, never
  // while muxing or calling listeners.
  mutable std::mutex mutex;
  std::map<std::string, Stream, std::less<>> streams;
  // Last sequence number used per playback ID, kept after a stream is dropped so numbering
  // never goes back even if the clock does. One integer per ID ever published.
  std::map<std::string, std::uint64_t, std::less<>> last_sequence;
  std::map<std::string, std::uint64_t, std::less<>> last_part;  // likewise for part numbers
  std::vector<SegmentListener*> listeners;
  HlsStore::UpdateListener update_listener;
  std::uint64_t next_generation = 1;
  HlsStore::ContinuationSource continuation_source;

  StoreState(HlsConfig c, HlsStore::Clock k) : config(c), clock(std::move(k)) {}

  bool low_latency() const { return config.format == HlsFormat::kLowLatency; }

  Variant measure(const std::string& name, const Rendition& r) const {
    // Bandwidth over the listed window only, so it tracks the current encoder settings;
    // before the first segment, over the parts so far.
    const std::size_t listed = std::min(r.segments.size(), r.playlist.entries.size());
    double peak = 0, total_bits = 0, total_s = 0;
    auto add = [&](const media::SharedBytes& data, double seconds) {
      const double bits = 8.0 * static_cast<double>(data->size());
      total_bits += bits;
      total_s += seconds;
      if (seconds > 0) peak = std::max(peak, bits / seconds);
    };
    for (std::size_t i = r.segments.size() - listed; i < r.segments.size(); ++i)
      add(r.segments[i]->data, r.segments[i]->duration_s);
    if (listed == 0) {
      for (const auto& retained : r.parts)
        add(retained.part->data, retained.part->duration_s);
      // A part is a fraction of a GOP: its peak says little about a segment's.
      peak = total_s > 0 ? total_bits / total_s : 0;
    }
    Variant v;
    v.rendition = name;
    v.average_bps =
        total_s > 0 ? static_cast<std::uint64_t>(std::llround(total_bits / total_s)) : 0;
    v.peak_bps =
        std::max({static_cast<std::uint64_t>(std::ceil(peak)), v.average_bps, r.declared_peak_bps});
    v.width = r.info.width;
    v.height = r.info.height;
    v.codecs = r.info.codecs;
    v.frame_rate = r.info.frame_rate;
    return v;
  }

  void render_master(Stream& s) const {
    MasterPlaylist master;
    for (const auto& [name, r] : s.renditions) {
      if (!r.open) continue;
      if (!r.has_session_media) {
        // Players pick a variant from the first master they see; wait until all can play.
        // Before the first one, keep nothing; afterwards keep the last complete one.
        return;
      }
      master.variants.push_back(measure(name, r));
    }
    if (master.variants.empty()) return;
    std::stable_sort(master.variants.begin(), master.variants.end(),
                     [](const Variant& a, const Variant& b) { return a.peak_bps < b.peak_bps; });
    s.master_text = render(master);
  }

  // Where a rendition (re)opening now starts, so that it lines up with the others.
  std::uint64_t reached_sequence(const Stream& s) const {
    std::uint64_t next = s.session_base;
    for (const auto& [name, r] : s.renditions)
      next = std::max(next, r.next_sequence);
    return next;
  }

  // Opens rendition `name` for session `generation`; false if superseded.
  bool open(const std::string& id, std::uint64_t generation, const std::string& name,
            std::uint64_t declared_peak_bps) {
    std::lock_guard lock(mutex);
    auto it = streams.find(id);
    if (it == streams.end() || it->second.generation != generation || !it->second.live) {
      return false;
    }
    Stream& s = it->second;
    const std::uint64_t start = reached_sequence(s);
    Rendition& r = s.renditions[name];
    r.playlist.configured_target_s = config.target_duration_s;
    r.playlist.part_target_s = low_latency() ? config.part_target_s : 0;
    r.next_part = std::max(r.next_part, s.part_base);
    r.next_discontinuity = !r.playlist.entries.empty();
    if (s.continued && r.playlist.entries.empty() && r.discontinuities == 0) {
      // The first segment here follows another server's last: one discontinuity, counted on.
      r.next_discontinuity = true;
      r.discontinuities = s.continued->discontinuities;
      r.playlist.discontinuity_sequence = s.continued->discontinuities;
    }
    r.next_sequence = std::max(r.next_sequence, start);
    r.playlist.ended = false;
    r.open = true;
    r.has_session_media = false;
    r.declared_peak_bps = declared_peak_bps;
    r.playlist.partial = {};
    r.playlist.next_sequence = r.next_sequence;
    r.playlist.next_part = r.next_part;
    render_texts(r);
    return true;
  }

  void render_texts(Rendition& r) const {
    r.text = render(r.playlist);
    if (r.playlist.low_latency()) r.delta_text = render(r.playlist, /*delta=*/true);
  }

  // The rendition `name` of stream `id`, or null. Under `mutex`.
  const Rendition* find(const std::string& id, const std::string& name) const {
    auto it = streams.find(id);
    if (it == streams.end()) return nullptr;
    auto rit = it->second.renditions.find(name);
    return rit == it->second.renditions.end() ? nullptr : &rit->second;
  }

  // The rendition `name` open in the live session `generation`, or null.
  Rendition* writable(const std::string& id, std::uint64_t generation, const std::string& name) {
    auto it = streams.find(id);
    if (it == streams.end() || it->second.generation != generation || !it->second.live) {
      return nullptr;
    }
    auto rit = it->second.renditions.find(name);
    if (rit == it->second.renditions.end() || !rit->second.open) return nullptr;
    return &rit->second;
  }

  // The map ID (init<ID>.mp4) of media muxed with `init`: the sequence number of the first
  // segment that uses it. 0 for MPEG-TS.
  std::uint64_t adopt_init(Rendition& r, const media::SharedBytes& init) {
    if (!init) return 0;
    if (init != r.init) {
      r.init = init;
      r.init_id = r.next_sequence;
      r.inits[r.init_id] = init;
    }
    return r.init_id;
  }

  // Stores a finished part. Returns it, or null when the session was superseded or the
  // stream dropped.
  PartPtr publish_part(const std::string& id, std::uint64_t generation, const std::string& name,
                       std::chrono::system_clock::time_point session_start,
                       FinishedPart&& finished) {
    std::lock_guard lock(mutex);
    Rendition* found = writable(id, generation, name);
    if (!found) return nullptr;
    Rendition& r = *found;
    const std::uint64_t map = adopt_init(r, finished.init);
    auto& partial = r.playlist.partial;
    const auto arrived = session_start + std::chrono::milliseconds(finished.start_dts_ms);
    if (partial.parts.empty()) {
      partial.discontinuity = finished.discontinuity || r.next_discontinuity;
      partial.program_date_time = arrived;
      partial.map = map;
    }
    r.part_delay_s = std::chrono::duration<double>(clock() - arrived).count();
    auto part = std::make_shared<Part>();
    part->number = r.next_part++;
    part->sequence = r.next_sequence;
    part->duration_s = static_cast<double>(finished.duration_ms) / 1000.0;
    part->independent = finished.independent;
    part->data = media::BytesPool::shared().share(std::move(finished.data));
    auto& last = last_part[id];
    last = std::max(last, part->number);

    partial.parts.push_back(PartEntry{part->number, part->duration_s, part->independent});
    r.playlist.next_part = r.next_part;
    r.part_clock_s += part->duration_s;
    r.parts.push_back({part, r.part_clock_s});
    const double keep_s = kPartRetentionTargets * r.playlist.target_duration();
    while (!r.parts.empty() && r.parts.front().end_s < r.part_clock_s - keep_s) {
      r.parts.pop_front();
    }
    render_texts(r);
    return part;
  }

  // Stores a finished segment. Returns the segment to announce, or null when the session was
  // superseded (takeover) or the stream dropped.
  SegmentPtr publish(const std::string& id, std::uint64_t generation, const std::string& name,
                     std::chrono::system_clock::time_point session_start,
                     FinishedSegment&& finished, std::vector<SegmentListener*>& notify) {
    std::lock_guard lock(mutex);
    Rendition* found = writable(id, generation, name);
    if (!found) return nullptr;
    Rendition& r = *found;
    Stream& s = streams.find(id)->second;
    const std::uint64_t map = adopt_init(r, finished.init);
    auto segment = std::make_shared<Segment>();
    segment->sequence = r.next_sequence++;
    segment->duration_s = static_cast<double>(finished.duration_ms) / 1000.0;
    segment->discontinuity = finished.discontinuity || std::exchange(r.next_discontinuity, false);
    if (segment->discontinuity) ++r.discontinuities;
    segment->discontinuities = r.discontinuities;
    segment->session = generation;
    segment->program_date_time = session_start + std::chrono::milliseconds(finished.start_dts_ms);
    segment->data = media::BytesPool::shared().share(std::move(finished.data));
    segment->init = finished.init;
    segment->init_id = map;
    auto& last = last_sequence[id];
    last = std::max(last, segment->sequence);

    r.playlist.add(
        PlaylistEntry{segment->sequence, segment->duration_s, segment->discontinuity,
                      segment->program_date_time, map, std::move(r.playlist.partial.parts)},
        config.window);
    r.playlist.partial = {};
    r.playlist.next_sequence = r.next_sequence;
    r.segments.push_back(segment);
    while (r.segments.size() > config.window + kExtraRetained) {
      r.segments.pop_front();
    }
    std::erase_if(r.inits, [&](const auto& entry) {
      return entry.first < r.segments.front()->init_id && entry.first != r.init_id;
    });
    render_texts(r);
    r.info = std::move(finished.info);
    r.has_session_media = true;
    render_master(s);
    notify = listeners;
    return segment;
  }

  void close(const std::string& id, std::uint64_t generation, const std::string& name) {
    std::lock_guard lock(mutex);
    auto it = streams.find(id);
    if (it == streams.end() || it->second.generation != generation) return;
    auto rit = it->second.renditions.find(name);
    if (rit == it->second.renditions.end() || !rit->second.open) return;
    Rendition& r = rit->second;
    r.open = false;
    r.playlist.ended = true;
    render_texts(r);
    render_master(it->second);
  }

  void end(const std::string& id, std::uint64_t generation) {
    std::lock_guard lock(mutex);
    auto it = streams.find(id);
    if (it == streams.end() || it->second.generation != generation) return;
    Stream& s = it->second;
    s.live = false;
    s.ended_at = clock();
    s.endlist_pending = true;
    if (config.endlist_delay.count() == 0) add_endlist(s);
  }

  void add_endlist(Stream& s) {
    s.endlist_pending = false;
    for (auto& [name, r] : s.renditions) {
      r.playlist.ended = true;
      render_texts(r);
    }
  }
};

}  // namespace detail

struct HlsStore::Impl : detail::StoreState {
  using StoreState::StoreState;
};

namespace {

using detail::StoreState;

// Everything a session's writers share: where to publish and under which generation.
struct SessionContext {
  std::weak_ptr<StoreState> store;  // the store may go away before the ingest session
  std::string id;
  std::uint64_t generation = 0;
  std::chrono::system_clock::time_point start;
};

class RenditionWriter final : public media::RenditionOutput {
 public:
  RenditionWriter(const SessionContext& session, std::string name, const HlsConfig& config)
      : session_(session),
        name_(std::move(name)),
        segmenter_(
            SegmenterConfig{
                config.target_duration_s, config.max_segment_bytes,
                config.format == HlsFormat::kMpegTs ? Container::kMpegTs : Container::kFmp4,
                config.format == HlsFormat::kLowLatency ? config.part_target_s : 0},
            [this](FinishedSegment&& s) { publish(std::move(s)); },
            [this](FinishedPart&& p) { publish_part(std::move(p)); }) {}

  Status on_packet(const media::PacketPtr& packet) override {
    if (ended_ || stale_) return Ok{};
    last_packet_at_ = std::chrono::steady_clock::now();
    if (!segment_started_) segment_started_ = last_packet_at_;
    if (!part_started_) part_started_ = last_packet_at_;
    return segmenter_.on_packet(*packet);
  }

  // Flushes the last segment. The session marks the playlists ended.
  void end() override {
    if (ended_) return;
    segmenter_.finish();
    ended_ = true;
  }

 private:
  void publish(FinishedSegment&& finished) {
    auto store = session_.store.lock();
    if (!store) {
      stale_ = true;
      return;
    }
    std::vector<SegmentListener*> notify;
    SegmentPtr segment = store->publish(session_.id, session_.generation, name_, session_.start,
                                        std::move(finished), notify);
    if (!segment) {
      stale_ = true;  // taken over: stop muxing for a session nobody reads
      return;
    }
    store->segment_duration.observe(segment->duration_s);
    if (segment_started_) {
      store->segment_production.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - *segment_started_)
              .count());
    }
    // The packet that cut this segment (a keyframe) is the first of the next one.
    segment_started_ = last_packet_at_;
    part_started_ = last_packet_at_;
    for (auto* listener : notify)
      listener->on_segment(session_.id, name_, segment);
    if (store->update_listener) store->update_listener(session_.id, name_);
  }

  void publish_part(FinishedPart&& finished) {
    auto store = session_.store.lock();
    if (!store) {
      stale_ = true;
      return;
    }
    if (!store->publish_part(session_.id, session_.generation, name_, session_.start,
                             std::move(finished))) {
      stale_ = true;
      return;
    }
    if (part_started_) {
      store->part_production.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - *part_started_).count());
    }
    part_started_ = last_packet_at_;
    if (store->update_listener) store->update_listener(session_.id, name_);
  }

  const SessionContext& session_;
  std::string name_;
  Segmenter segmenter_;
  bool ended_ = false;
  bool stale_ = false;
  std::chrono::steady_clock::time_point last_packet_at_;
  std::optional<std::chrono::steady_clock::time_point> segment_started_;
  std::optional<std::chrono::steady_clock::time_point> part_started_;
};

class Session final : public media::RenditionSink {
 public:
  Session(SessionContext context, const HlsConfig& config)
      : context_(std::move(context)), config_(config) {}
  ~Session() override { Session::end(); }

  media::RenditionOutput& rendition(const media::RenditionInfo& info) override {
    auto it = writers_.find(info.name);
    if (it != writers_.end()) return *it->second;
    if (auto store = context_.store.lock()) {
      store->open(context_.id, context_.generation, info.name, info.declared_peak_bps);
    }
    auto writer = std::make_unique<RenditionWriter>(context_, info.name, config_);
    return *writers_.emplace(info.name, std::move(writer)).first->second;
  }

  void close_rendition(const std::string& name) override {
    auto it = writers_.find(name);
    if (it == writers_.end()) return;
    it->second->end();
    writers_.erase(it);
    if (auto store = context_.store.lock()) {
      store->close(context_.id, context_.generation, name);
      if (store->update_listener) store->update_listener(context_.id, name);
    }
  }

  void end() override {
    if (ended_) return;
    ended_ = true;
    for (auto& [name, writer] : writers_)
      writer->end();
    auto store = context_.store.lock();
    if (!store) return;
    store->end(context_.id, context_.generation);
    if (store->update_listener) store->update_listener(context_.id, "");
    std::vector<SegmentListener*> notify;
    {
      std::lock_guard lock(store->mutex);
      notify = store->listeners;
    }
    for (auto* listener : notify)
      listener->on_session_ended(context_.id, context_.generation);
  }

 private:
  SessionContext context_;
  HlsConfig config_;
  std::map<std::string, std::unique_ptr<RenditionWriter>> writers_;
  bool ended_ = false;
};

// begin(): one "source" rendition whose writer owns its session.
class SourceWriter final : public media::RenditionOutput {
 public:
  explicit SourceWriter(std::unique_ptr<media::RenditionSink> session)
      : session_(std::move(session)), writer_(session_->rendition({media::kSourceRendition, 0})) {}
  Status on_packet(const media::PacketPtr& packet) override { return writer_.on_packet(packet); }
  void end() override { session_->end(); }

 private:
  std::unique_ptr<media::RenditionSink> session_;
  media::RenditionOutput& writer_;
};

}  // namespace

HlsStore::HlsStore(HlsConfig config, Clock clock)
    : impl_(std::make_shared<Impl>(config, std::move(clock))) {}

HlsStore::~HlsStore() = default;

std::unique_ptr<media::RenditionSink> HlsStore::begin_session(const std::string& playback_id) {
  bool dropped_expired = false;
  std::vector<SegmentListener*> notify;
  SessionContext context{impl_, playback_id, 0, {}};
  // Asked outside the lock (it reads another component); used only for a new stream.
  std::optional<Continuation> continuation;
  if (impl_->continuation_source && !has_stream(playback_id)) {
    continuation = impl_->continuation_source(playback_id);
  }
  {
    std::lock_guard lock(impl_->mutex);
    const auto now = impl_->clock();
    context.start = now;
    context.generation = impl_->next_generation++;
    auto it = impl_->streams.find(playback_id);
    if (it != impl_->streams.end()) {
      StoreState::Stream& s = it->second;
      if (s.live || now < s.ended_at + impl_->config.grace) {
        // Republish within grace, or a takeover of a live session: same playlists, numbering
        // continues, and players are told the timeline jumps.
        s.session_base = impl_->reached_sequence(s);
        for (auto& [name, r] : s.renditions)
          r.open = false;
        s.generation = context.generation;
        s.live = true;
        s.endlist_pending = false;
        return std::make_unique<Session>(std::move(context), impl_->config);
      }
      impl_->streams.erase(it);  // expired but not yet swept
      dropped_expired = true;
      notify = impl_->listeners;
    }
    StoreState::Stream s;
    s.generation = context.generation;
    s.session_base = continuation ? continuation->next_sequence : epoch_millis(now);
    s.part_base = epoch_millis(now);
    s.continued = continuation;
    if (auto last = impl_->last_sequence.find(playback_id); last != impl_->last_sequence.end()) {
      s.session_base = std::max(s.session_base, last->second + 1);
    }
    if (auto last = impl_->last_part.find(playback_id); last != impl_->last_part.end()) {
      s.part_base = std::max(s.part_base, last->second + 1);
    }
    impl_->streams.emplace(playback_id, std::move(s));
  }
  if (dropped_expired) {
    for (auto* listener : notify)
      listener->on_stream_dropped(playback_id);
  }
  return std::make_unique<Session>(std::move(context), impl_->config);
}

std::unique_ptr<media::RenditionOutput> HlsStore::begin(const std::string& playback_id) {
  return std::make_unique<SourceWriter>(begin_session(playback_id));
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
  const auto* r = impl_->find(playback_id, rendition);
  // No media yet: a playlist without segments (or parts) makes players give up, so 404.
  if (!r || !r->playlist.last_position()) return std::nullopt;
  return r->text;
}

HlsStore::PlaylistAnswer HlsStore::media_playlist(const std::string& playback_id,
                                                  const std::string& rendition,
                                                  const PlaylistRequest& request) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->streams.find(playback_id);
  if (it == impl_->streams.end()) return {};
  auto rit = it->second.renditions.find(rendition);
  if (rit == it->second.renditions.end() || !rit->second.playlist.last_position()) return {};
  const auto& r = rit->second;
  const MediaPlaylist& playlist = r.playlist;
  if (!playlist.low_latency() || playlist.ended) return {Availability::kReady, r.text};
  if (request.part && !request.msn) return {Availability::kBadRequest, {}};
  if (request.msn) {
    if (const auto state = block_state(playlist, *request.msn, request.part);
        state != Availability::kReady) {
      return {state, {}};
    }
  }
  PlaylistAnswer answer{Availability::kReady, request.skip ? r.delta_text : r.text};
  for (const auto& [name, other] : it->second.renditions) {
    if (name == rendition || !other.open || !other.playlist.last_position()) continue;
    answer.text += rendition_report("../" + name + "/index.m3u8", other.playlist);
  }
  return answer;
}

HlsStore::PartAnswer HlsStore::part(const std::string& playback_id, const std::string& rendition,
                                    std::uint64_t number) const {
  std::lock_guard lock(impl_->mutex);
  const auto* found = impl_->find(playback_id, rendition);
  if (!found) return {};
  const auto& r = *found;
  if (number == r.next_part && r.open && !r.playlist.ended && r.playlist.low_latency()) {
    return {Availability::kWait, nullptr};  // the preload hint: held until it exists
  }
  auto pos = std::lower_bound(
      r.parts.begin(), r.parts.end(), number,
      [](const auto& retained, std::uint64_t n) { return retained.part->number < n; });
  if (pos == r.parts.end() || pos->part->number != number) return {};
  return {Availability::kReady, pos->part};
}

media::SharedBytes HlsStore::init_segment(const std::string& playback_id,
                                          const std::string& rendition,
                                          std::uint64_t init_id) const {
  std::lock_guard lock(impl_->mutex);
  const auto* r = impl_->find(playback_id, rendition);
  if (!r) return nullptr;
  auto init = r->inits.find(init_id);
  return init == r->inits.end() ? nullptr : init->second;
}

std::chrono::milliseconds HlsStore::hold_limit(const std::string& playback_id,
                                               const std::string& rendition) const {
  std::lock_guard lock(impl_->mutex);
  const auto* r = impl_->find(playback_id, rendition);
  const double target_s = r ? r->playlist.target_duration() : impl_->config.target_duration_s;
  return std::chrono::milliseconds(std::llround(3 * target_s * 1000));
}

SegmentPtr HlsStore::segment(const std::string& playback_id, const std::string& rendition,
                             std::uint64_t sequence) const {
  std::lock_guard lock(impl_->mutex);
  const auto* r = impl_->find(playback_id, rendition);
  if (!r) return nullptr;
  const auto& segments = r->segments;
  // Sequence numbers are increasing in the deque, so binary search.
  auto pos =
      std::lower_bound(segments.begin(), segments.end(), sequence,
                       [](const SegmentPtr& s, std::uint64_t seq) { return s->sequence < seq; });
  if (pos == segments.end() || (*pos)->sequence != sequence) return nullptr;
  return *pos;
}

std::optional<HlsStore::SessionPosition> HlsStore::live_session(
    const std::string& playback_id) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->streams.find(playback_id);
  if (it == impl_->streams.end() || !it->second.live) return std::nullopt;
  const auto& s = it->second;
  SessionPosition position{s.generation, impl_->reached_sequence(s),
                           s.continued ? s.continued->discontinuities : 0};
  for (const auto& [name, r] : s.renditions)
    position.discontinuities = std::max(position.discontinuities, r.discontinuities);
  return position;
}

bool HlsStore::has_stream(const std::string& playback_id) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->streams.contains(playback_id);
}

std::vector<HlsStore::RenditionStatus> HlsStore::rendition_status(
    const std::string& playback_id) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::pair<std::uint64_t, RenditionStatus>> open;
  if (auto it = impl_->streams.find(playback_id); it != impl_->streams.end()) {
    for (const auto& [name, r] : it->second.renditions) {
      if (r.open)
        open.push_back({r.declared_peak_bps, {name, r.playlist.part_target_s, r.part_delay_s}});
    }
  }
  std::stable_sort(open.begin(), open.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<RenditionStatus> out;
  for (auto& [bps, status] : open)
    out.push_back(std::move(status));
  return out;
}

std::vector<std::string> HlsStore::renditions(const std::string& playback_id) const {
  std::vector<std::string> names;
  for (auto& status : rendition_status(playback_id))
    names.push_back(std::move(status.name));
  return names;
}

void HlsStore::sweep() {
  std::vector<std::string> dropped;
  std::vector<std::string> ended;
  std::vector<SegmentListener*> notify;
  {
    std::lock_guard lock(impl_->mutex);
    const auto now = impl_->clock();
    for (auto it = impl_->streams.begin(); it != impl_->streams.end();) {
      if (it->second.endlist_pending && now >= it->second.ended_at + impl_->config.endlist_delay) {
        impl_->add_endlist(it->second);
        ended.push_back(it->first);
      }
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
  if (impl_->update_listener) {
    for (const auto& id : ended)
      impl_->update_listener(id, "");
    for (const auto& id : dropped)
      impl_->update_listener(id, "");
  }
}

void HlsStore::set_update_listener(UpdateListener listener) {
  impl_->update_listener = std::move(listener);
}

void HlsStore::set_continuation_source(ContinuationSource source) {
  impl_->continuation_source = std::move(source);
}

void HlsStore::append_metrics(std::string& out) const {
  impl_->segment_duration.append(out, "sluice_hls_segment_duration_seconds",
                                 "Media duration of finished HLS segments.");
  impl_->segment_production.append(out, "sluice_hls_segment_production_seconds",
                                   "Wall time from a segment's first packet to its publication.");
  impl_->part_production.append(out, "sluice_hls_part_production_seconds",
                                "Wall time from a low-latency part's first packet to its "
                                "publication.");
}

void HlsStore::add_listener(SegmentListener* listener) {
  std::lock_guard lock(impl_->mutex);
  impl_->listeners.push_back(listener);
}

}  // namespace sluice::package
