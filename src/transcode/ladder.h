// The adaptive-bitrate ladder: which renditions a stream gets and at what size. Pure: the
// transcoder asks it once it knows the source, so the rules are unit-tested without FFmpeg.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "media/result.h"

namespace sluice::transcode {

// One rung as configured. `source` rungs pass the input through untouched.
struct RungSpec {
  std::string name;  // rendition path segment, e.g. "720p"
  bool source = false;
  int box_width = 0;  // output fits inside this box, aspect ratio kept
  int box_height = 0;
  int video_maxrate_kbps = 0;  // VBV cap on the CRF encode
  int vbv_bufsize_kbps = 0;
  int audio_kbps = 0;
  // libx264 options for this rung only, after LadderConfig::x264_params (key=value:...).
  std::string x264_params;
};

// The default tuning on top of veryfast: diamond motion search and no DCT decimation. On the
// ladder benchmark (docs/benchmarks.md) it costs less CPU than the preset alone at an SSIM
// within 0.0002 of it per rung.
inline constexpr std::string_view kDefaultX264Params = "me=dia:dct-decimate=0";
// The default 360p and 480p rungs also decide modes on SAD rather than SATD (x264's subme 1):
// about a third less CPU for them. Where CRF 20 keeps them under the VBV cap they spend a few
// more bits instead; where the cap binds they lose up to 0.0013 SSIM on the benchmark's
// inputs. The 720p rung, most of the work, keeps SATD.
inline constexpr std::string_view kSmallRungX264Params = "subme=1";

// The reference's ladder: 360p, 480p (854 wide rather than 842, which gives odd heights) and
// 720p with its VBV caps and audio bitrates; the two small rungs add kSmallRungX264Params.
std::vector<RungSpec> default_rungs();

// Parses "360p:640x360:856k:1200k:96k:subme=1,720p:1280x720:2996k:4200k:128k,source": name,
// box, video cap, VBV buffer, audio, then optionally the rung's own libx264 options (which
// therefore cannot contain ','). A bare "source" adds the passthrough rung. Errors name the
// offending entry.
Result<std::vector<RungSpec>> parse_rungs(std::string_view text);
std::string format_rungs(const std::vector<RungSpec>& rungs);

// "me=dia:subme=1": key=value pairs joined by ':', nothing that could smuggle in another
// option list. Empty is valid. libx264 itself only warns about a name it does not know.
// Options later in the list win, so a rung's own come after the ladder's.
bool valid_x264_params(std::string_view text);
// `first`, then `then` (which wins where both set an option); either may be empty.
std::string join_x264_params(std::string_view first, std::string_view then);

// Frames of delay a rung's encoder may add within `budget_s` at `frame_rate`; nullopt when
// budget_s is 0 (no bound: the preset's own lookahead, B-frames and frame threads).
std::optional<int> delay_budget_frames(double budget_s, double frame_rate);
// libx264 options that hold the encoder's delay to `frames` for `preset`: x264 holds
// max(B-frames, rc-lookahead) frames, plus one per frame thread beyond the first, plus the
// sync lookahead, plus one for variable-frame-rate input. So: slice threads instead of frame
// threads, no sync lookahead, and the preset's rc-lookahead and B-frames cut to `frames` - 1
// where they exceed it. One frame is the least it holds.
std::string low_delay_x264_params(std::string_view preset, int frames);

enum class OverloadPolicy { kShedRungs, kDropFrames };

struct LadderConfig {
  std::vector<RungSpec> rungs = default_rungs();
  std::string preset = "veryfast";
  std::string profile = "main";
  // Extra libx264 options (key=value:...) for every rung, applied after the preset; empty
  // keeps the preset's own choices, as the reference does. See kDefaultX264Params.
  std::string x264_params{kDefaultX264Params};
  int crf = 20;
  double gop_s = 2.0;  // keyframe every gop_s seconds in every encoded rung
  int audio_sample_rate = 48000;
  // Pass the source through as the top rung when it already fits it (see fits_top_rung).
  bool smart_passthrough = false;
  OverloadPolicy overload = OverloadPolicy::kShedRungs;
  std::chrono::milliseconds max_lag{3000};  // this far behind real time, `overload` acts
  int encoder_threads = 0;                  // x264 threads per rung; 0 lets x264 choose
  // Seconds of delay each encoder may add (low_delay_x264_params); 0: no bound.
  double max_encoder_delay_s = 0;
  // The packaging carries every video codec Sluice takes (fMP4). When false (MPEG-TS), a
  // source rung is left out for a source that is not H.264.
  bool source_any_codec = true;
};

// What the transcoder learned about the source before planning.
struct SourceVideo {
  int width = 0;
  int height = 0;
  bool h264 = true;
  double keyframe_interval_s = 0;  // 0 when not yet seen twice
  double bitrate_kbps = 0;         // measured over the first GOP; 0 when unknown
};

struct PlannedRung {
  RungSpec spec;
  int width = 0;  // even, fitted into the box; the source's size for passthrough
  int height = 0;
  bool passthrough = false;  // source rung, or the smart ladder's top rung
};

// Output size of `spec` for a width x height source: fitted into the box with the aspect
// ratio kept, both dimensions even. nullopt when that would upscale (the rung is skipped).
std::optional<std::pair<int, int>> fit_rung(const RungSpec& spec, int width, int height);

// True when the source can stand in for `top`: H.264, inside its box, at or under its bitrate
// cap, and keyframes every gop_s seconds (within 10%).
bool fits_top_rung(const RungSpec& top, const SourceVideo& source, double gop_s);

// The rungs to produce, in ascending order. Video sources skip rungs that would upscale; if
// every encoded rung would, the smallest is kept at the source's size so the ladder is never
// empty. Audio-only sources (no `video`) get every rung, without a picture size.
std::vector<PlannedRung> plan_ladder(const LadderConfig& config,
                                     const std::optional<SourceVideo>& video);

}  // namespace sluice::transcode
