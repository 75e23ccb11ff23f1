// The HLS side of `sluice serve` as seen by its two users: ingest feeds packets of a live
// publish session into it, HTTP reads playlists and segments out of it.
// Everything lives in memory; segments are immutable and shared with readers by pointer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "media/packet.h"
#include "media/rendition_sink.h"
#include "media/result.h"
#include "package/media_playlist.h"

namespace sluice::package {

// What the media playlists list: low-latency HLS (fMP4 segments made of parts, blocking
// reload, preload hints, delta updates), fMP4 segments alone, or MPEG-TS for old players.
enum class HlsFormat { kLowLatency, kFmp4, kMpegTs };

struct HlsConfig {
  HlsFormat format = HlsFormat::kMpegTs;
  double part_target_s = 0.334;               // low-latency: parts no longer than this
  double target_duration_s = 6.0;             // cut at the first keyframe at or after this
  std::size_t window = 10;                    // segments listed in a live media playlist
  std::size_t max_segment_bytes = 64u << 20;  // cut even without a keyframe past this
  std::chrono::seconds grace{120};            // keep serving after unpublish (ENDLIST), then drop
  // EXT-X-ENDLIST waits this long after an unpublish, so players keep polling through an
  // encoder's reconnect (here, or on another server of the fleet) instead of stopping.
  std::chrono::milliseconds endlist_delay{5000};
};

// One finished segment, immutable.
struct Segment {
  std::uint64_t sequence = 0;  // also its URI: <sequence>.ts, or <sequence>.m4s for fMP4
  double duration_s = 0;
  bool discontinuity = false;  // first segment after a republish or a codec change
  // EXT-X-DISCONTINUITY tags in this rendition's timeline up to and including this segment.
  std::uint64_t discontinuities = 0;
  std::uint64_t session = 0;  // the store's number of the publish session that made it
  std::chrono::system_clock::time_point program_date_time;
  media::SharedBytes data;  // MPEG-TS, or fMP4 fragments
  // fMP4: the init segment the data needs, and its number (URI init<init_id>.mp4).
  media::SharedBytes init;
  std::uint64_t init_id = 0;
};
using SegmentPtr = std::shared_ptr<const Segment>;

// One part of a low-latency segment (a CMAF fragment), immutable.
struct Part {
  std::uint64_t number = 0;    // also its URI: part<number>.m4s; counts on across segments
  std::uint64_t sequence = 0;  // of the segment it belongs to
  double duration_s = 0;
  bool independent = false;
  media::SharedBytes data;
};
using PartPtr = std::shared_ptr<const Part>;

// What the HLS query parameters of a media playlist request ask for.
struct PlaylistRequest {
  std::optional<std::uint64_t> msn;   // _HLS_msn: block until this segment exists
  std::optional<std::uint64_t> part;  // _HLS_part: ... and this part of it
  bool skip = false;                  // _HLS_skip=YES: a delta update
};

// Told about each finished segment (disk mirror, DVR, registry). Called on the publisher's
// (or its transcoder's) thread with no lock held; must not block.
class SegmentListener {
 public:
  virtual ~SegmentListener() = default;
  virtual void on_segment(const std::string& playback_id, const std::string& rendition,
                          const SegmentPtr& segment) = 0;
  // The publish session `session` (Segment::session) ended; its writers have flushed what
  // they had, though a transcoder may still deliver a last segment after this.
  virtual void on_session_ended(const std::string& /*playback_id*/, std::uint64_t /*session*/) {}
  virtual void on_stream_dropped(const std::string& playback_id) = 0;
};

// A publish session's renditions are written through media::RenditionSink (one
// media::RenditionOutput per rendition): see HlsStore::begin_session.

// Where another server's playlists of the same playback ID stopped, so a stream that moves
// here continues them: same numbering, one discontinuity.
struct Continuation {
  std::uint64_t next_sequence = 0;
  std::uint64_t discontinuities = 0;
};

class HlsStore {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  using ContinuationSource = std::function<std::optional<Continuation>(const std::string&)>;
  explicit HlsStore(HlsConfig config, Clock clock = std::chrono::system_clock::now);
  ~HlsStore();

  // Starts a publish session for playback_id. A republish within the grace period continues
  // the media sequence of each rendition with a discontinuity; otherwise segment numbers start
  // at the current epoch milliseconds, so they never repeat for a playback ID (CDNs keep
  // segments for 10 minutes), or where the continuation source says another server stopped.
  // Renditions opened in one session start at the same number. The master playlist lists the
  // renditions open in the current session, by ascending bandwidth, once each has a segment;
  // a rendition's end flushes its last segment; the session's end starts the grace period,
  // and EXT-X-ENDLIST follows after endlist_delay unless the stream is published again.
  std::unique_ptr<media::RenditionSink> begin_session(const std::string& playback_id);
  // A session with the single passthrough rendition "source"; the output owns the session.
  std::unique_ptr<media::RenditionOutput> begin(const std::string& playback_id);

  // Reads for HTTP. nullopt when the stream, rendition or segment is unknown.
  std::optional<std::string> master_playlist(const std::string& playback_id) const;
  std::optional<std::string> media_playlist(const std::string& playback_id,
                                            const std::string& rendition) const;
  // A media playlist as a (low-latency) player asks for it. With kReady, `text` is the
  // playlist, with rendition reports for the other renditions. Query parameters are ignored
  // unless the format is low-latency, and blocking ones once the playlist has ended.
  struct PlaylistAnswer {
    Availability state = Availability::kNotFound;
    std::string text;
  };
  PlaylistAnswer media_playlist(const std::string& playback_id, const std::string& rendition,
                                const PlaylistRequest& request) const;
  SegmentPtr segment(const std::string& playback_id, const std::string& rendition,
                     std::uint64_t sequence) const;
  // A part: kReady with it, kWait while it is the next one (the preload hint), else kNotFound.
  struct PartAnswer {
    Availability state = Availability::kNotFound;
    PartPtr part;
  };
  PartAnswer part(const std::string& playback_id, const std::string& rendition,
                  std::uint64_t number) const;
  media::SharedBytes init_segment(const std::string& playback_id, const std::string& rendition,
                                  std::uint64_t init_id) const;
  // How long a blocking request may be held: three target durations.
  std::chrono::milliseconds hold_limit(const std::string& playback_id,
                                       const std::string& rendition) const;
  bool has_stream(const std::string& playback_id) const;
  // Where the live session of `playback_id` stands: its number (Segment::session), the
  // sequence its next segment gets and the discontinuities so far. nullopt unless live.
  struct SessionPosition {
    std::uint64_t session = 0;
    std::uint64_t next_sequence = 0;
    std::uint64_t discontinuities = 0;
  };
  std::optional<SessionPosition> live_session(const std::string& playback_id) const;
  // Renditions open in the current session, by ascending declared bandwidth.
  std::vector<std::string> renditions(const std::string& playback_id) const;
  // The same, with each one's part target (0 without parts) and how long after its first
  // media arrived at ingest the newest part was published (transcoding included).
  struct RenditionStatus {
    std::string name;
    double part_target_s = 0;
    std::optional<double> part_delay_s;
  };
  std::vector<RenditionStatus> rendition_status(const std::string& playback_id) const;

  // Ends the playlists of streams whose endlist_delay has passed, and drops streams whose
  // grace period has passed. Call periodically (every second).
  void sweep();

  // sluice_hls_segment_duration_seconds (media time) and sluice_hls_segment_production_seconds
  // (wall time from a segment's first packet to its publication): histograms over every
  // rendition. Production well above duration means a rendition falls behind real time.
  void append_metrics(std::string& out) const;

  void add_listener(SegmentListener* listener);  // must outlive the store
  // Told after a rendition's playlist changed (a part, a segment, its end) or the stream was
  // dropped (rendition empty: all of them), so held requests can look again. Called with no
  // lock held, on the publisher's thread; must not block. Set before use.
  using UpdateListener =
      std::function<void(const std::string& playback_id, const std::string& rendition)>;
  void set_update_listener(UpdateListener listener);
  // Asked when a playback ID that this store does not hold starts publishing. Set before use.
  void set_continuation_source(ContinuationSource source);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sluice::package
