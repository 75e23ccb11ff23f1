// Cuts one rendition's packets into HLS segments (MPEG-TS or fMP4) and, for low-latency HLS,
// each segment into parts. Sans-I/O and clock-free: it sees only packet timestamps, and hands
// each finished part and segment to a sink. The store adds sequence numbers and wall-clock
// times.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "media/aac.h"
#include "media/h264.h"
#include "media/packet.h"
#include "media/result.h"
#include "media/vp9.h"
#include "package/muxer.h"

namespace sluice::package {

// What the master playlist says about a rendition.
struct StreamInfo {
  std::vector<std::string> codecs;  // CODECS strings, video first
  int width = 0;                    // 0 when unknown or audio-only
  int height = 0;
  std::optional<double> frame_rate;
};

struct FinishedSegment {
  // MPEG-TS starting with PAT/PMT, or fMP4 fragments (with parts: its parts, concatenated).
  media::Bytes data;
  std::int64_t start_dts_ms = 0;
  std::int64_t duration_ms = 0;
  bool discontinuity = false;  // a codec configuration changed before this segment
  media::SharedBytes init;     // fMP4: the init segment it needs (one per muxer); else null
  StreamInfo info;
};

// A part of the segment in progress: one fMP4 fragment. The parts of a segment come before
// the segment itself.
struct FinishedPart {
  media::Bytes data;
  std::int64_t start_dts_ms = 0;
  std::int64_t duration_ms = 0;
  bool independent = false;    // starts with a keyframe (or has no video)
  bool discontinuity = false;  // first part of a segment after a configuration change
  media::SharedBytes init;
};

struct SegmenterConfig {
  double target_duration_s = 6.0;
  std::size_t max_segment_bytes = 64u << 20;
  Container container = Container::kMpegTs;
  // fMP4 only: cut parts no longer than this (and at every keyframe); 0 = no parts.
  double part_target_s = 0;
};

class Segmenter {
 public:
  // Called synchronously from on_packet()/finish().
  using Sink = std::function<void(FinishedSegment&&)>;
  using PartSink = std::function<void(FinishedPart&&)>;

  Segmenter(SegmenterConfig config, Sink sink, PartSink part_sink = {});
  ~Segmenter();

  // Packets in decode order. Errors concern this packet only; the segmenter stays usable.
  Status on_packet(const media::Packet& packet);
  // Emits the segment in progress, if any. Later packets start a new muxer.
  void finish();

 private:
  struct VideoConfig {
    media::Codec codec = media::Codec::kH264;
    media::Bytes record;
    std::string codec_string;
    int width = 0;  // 0 while unknown
    int height = 0;
    std::optional<media::AvcConfig> avc;  // H.264: for MPEG-TS's Annex B
    std::optional<media::Vp9Config> vp9;
    media::Bytes annexb;  // H.264: SPS and PPS with start codes
  };
  struct AudioConfig {
    media::Codec codec = media::Codec::kAac;
    media::Bytes record;
    std::string codec_string;
    std::uint32_t sample_rate = 0;
    std::uint8_t channels = 0;
  };
  Result<VideoConfig> read_video_config(const media::Packet& packet) const;
  Result<AudioConfig> read_audio_config(const media::Packet& packet) const;

  Status on_video_config(const media::Packet& packet);
  Status on_audio_config(const media::Packet& packet);
  Status on_video_frame(const media::Packet& packet);
  Status on_audio_frame(const media::Packet& packet);
  Status start(std::int64_t dts_ms);
  void discard();
  // Before a frame at `dts_ms`: ends the segment when `segment_boundary` (or it grew too big),
  // else the part when `part_boundary` or the frame would make it longer than its target.
  void maybe_cut(std::int64_t dts_ms, bool segment_boundary, bool part_boundary);
  bool part_would_overrun(std::int64_t dts_ms) const;
  // `end_dts_ms` is the dts of the frame about to be written (at_next_frame), or an estimate.
  void emit_part(std::int64_t end_dts_ms, bool at_next_frame = true);
  void emit(std::int64_t end_dts_ms, bool at_next_frame = true);
  bool parts() const { return config_.part_target_s > 0 && part_sink_; }
  std::int64_t frame_duration_estimate_ms() const;
  StreamInfo info() const;

  SegmenterConfig config_;
  Sink sink_;
  PartSink part_sink_;
  std::optional<VideoConfig> video_;
  std::optional<AudioConfig> audio_;
  bool saw_video_config_ = false;

  // The running muxer and the tracks it was opened with.
  std::unique_ptr<Muxer> muxer_;
  bool muxing_video_ = false;
  bool muxing_audio_ = false;
  std::int64_t segment_start_ms_ = 0;
  bool segment_has_media_ = false;
  bool next_discontinuity_ = false;
  // Parts: the one in progress, and the finished parts of this segment, concatenated.
  std::int64_t part_start_ms_ = 0;
  bool part_has_media_ = false;
  bool part_independent_ = false;
  bool part_discontinuity_ = false;
  media::Bytes segment_parts_;
  std::size_t last_segment_bytes_ = 0;  // low-latency: the size of the last segment made of parts
  bool emitted_ = false;                // a segment has gone out since construction
  std::int64_t last_dts_ms_ = 0;

  // Frame-rate and frame-duration estimates from video dts deltas.
  std::int64_t first_video_dts_ = 0;
  std::int64_t last_video_dts_ = 0;
  std::int64_t last_video_delta_ = 0;
  std::int64_t video_frames_ = 0;

  media::Bytes scratch_;  // Annex B conversion buffer, reused
};

}  // namespace sluice::package
