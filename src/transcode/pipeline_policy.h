// The decisions a transcoding pipeline makes, as pure functions over plain values, so each is
// unit-tested without FFmpeg or threads: which input to drop when the pipeline lags, when it
// has seen enough of the source to plan the ladder, what a new plan changes in the running
// one, where keyframes go, and what to do under overload. transcoder.cpp applies them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "media/packet.h"
#include "transcode/ladder.h"

namespace sluice::transcode {

// ---- input queue --------------------------------------------------------------------------

struct InputQueueState {
  std::size_t queued_bytes = 0;
  std::size_t limit_bytes = 0;
  bool dropping = false;   // dropping up to the next keyframe
  bool saw_video = false;  // the stream has video (so dropping ends on a video keyframe)
};

enum class InputDecision {
  kQueue,
  kResume,         // queue it, and stop dropping
  kDrop,           // while dropping
  kStartDropping,  // over the limit: drop this and everything up to the next keyframe
};

// Codec configs are always queued: the decoders need them whatever was dropped. Dropping
// ends at a video keyframe (or any packet of an audio-only stream) that fits.
InputDecision admit_input(const InputQueueState& state, const media::Packet& packet,
                          std::size_t bytes);

// ---- planning -----------------------------------------------------------------------------

// What the pipeline learned from the packets before its plan.
struct PrerollState {
  std::int64_t span_ms = 0;  // newest dts minus the first packet's
  std::size_t bytes = 0;
  bool have_size = false;  // a video sequence header gave the picture size
  std::size_t keyframes = 0;
  std::int64_t ms_since_first_keyframe = 0;
  std::int64_t video_frames = 0;
};

inline constexpr std::int64_t kMaxPrerollMs = 6000;  // watch the input this long at most
inline constexpr std::int64_t kAudioOnlyAfterMs = 1500;

// True once the ladder can be planned: the size and a keyframe are known (with the smart
// ladder, also the first keyframe interval, or long enough without a second keyframe), or the
// stream has shown no video for a while; or the preroll has grown too long or too big.
bool ready_to_plan(const PrerollState& preroll, const LadderConfig& ladder,
                   std::size_t preroll_limit_bytes);

// A running rung, as the plan sees it.
struct RunningRung {
  PlannedRung plan;
  bool encoded = false;
};

struct PlanChange {
  bool changed = false;           // false: the new plan is the running one, nothing to do
  std::vector<std::string> stop;  // running rungs to finish and close
  std::vector<std::string> keep;  // running rungs that carry on
  std::vector<PlannedRung> start;
};

// `applied` is the plan last applied, `running` its rungs still running (a shed rung is gone).
// A plan equal to `applied` changes nothing, so a shed rung stays shed. Otherwise every
// encoded rung restarts (so all start again on the same picture and stay aligned), and
// passthrough rungs that did not change keep running.
PlanChange change_plan(const std::vector<PlannedRung>& applied,
                       const std::vector<RunningRung>& running,
                       const std::vector<PlannedRung>& plan);

// ---- keyframes ----------------------------------------------------------------------------

struct KeyframeDecision {
  bool force = false;                       // make this picture an IDR in every rung
  std::optional<std::int64_t> next_key_ms;  // the schedule after this picture
};

// Without a passthrough rung to follow (`follow_source`), the first picture at or after every
// multiple of gop_ms is an IDR; with one, the source's keyframes are.
KeyframeDecision decide_keyframe(std::int64_t pts_ms, bool source_keyframe, bool follow_source,
                                 std::optional<std::int64_t> next_key_ms, std::int64_t gop_ms);

// ---- overload -----------------------------------------------------------------------------

inline constexpr std::int64_t kShedCooldownMs = 4000;  // media time between two sheds

struct OverloadState {
  std::uint64_t lag_frames = 0;  // pictures seen while lagging (drop-frames halves them)
  std::int64_t next_shed_ms = 0;
};

struct OverloadDecision {
  bool drop_frame = false;
  bool shed = false;  // shed the largest encoded rung now
  OverloadState next;
};

// `newest_input_ms` is the newest input dts, `pts_ms` the picture being decoded. Behind by
// more than ladder.max_lag: drop every other picture (kDropFrames), or shed a rung at most
// once per kShedCooldownMs of media (kShedRungs). Keyframes are never dropped.
OverloadDecision decide_overload(const LadderConfig& ladder, const OverloadState& state,
                                 std::int64_t newest_input_ms, std::int64_t pts_ms, bool keyframe);

// The encoded rung to shed: the largest picture, never the last encoded rung. An index into
// `rungs`, or nullopt.
std::optional<std::size_t> rung_to_shed(const std::vector<RunningRung>& rungs);

}  // namespace sluice::transcode
