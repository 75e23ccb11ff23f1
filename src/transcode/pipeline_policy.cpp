#include "transcode/pipeline_policy.h"

#include <algorithm>

namespace sluice::transcode {

InputDecision admit_input(const InputQueueState& state, const media::Packet& packet,
                          std::size_t bytes) {
  const bool fits = state.queued_bytes + bytes <= state.limit_bytes;
  if (packet.config) return InputDecision::kQueue;
  if (state.dropping) {
    const bool resume =
        packet.kind == media::TrackKind::kVideo ? packet.keyframe : !state.saw_video;
    return resume && fits ? InputDecision::kResume : InputDecision::kDrop;
  }
  return fits ? InputDecision::kQueue : InputDecision::kStartDropping;
}

bool ready_to_plan(const PrerollState& preroll, const LadderConfig& ladder,
                   std::size_t preroll_limit_bytes) {
  if (preroll.span_ms >= kMaxPrerollMs || preroll.bytes > preroll_limit_bytes) return true;
  if (preroll.have_size && preroll.keyframes > 0) {
    // The smart ladder compares the source's keyframe interval with the GOP: wait for a
    // second keyframe, but not much past where it should have come.
    const auto wait_ms = static_cast<std::int64_t>(ladder.gop_s * 2000) + 1000;
    return !ladder.smart_passthrough || preroll.keyframes >= 2 ||
           preroll.ms_since_first_keyframe > wait_ms;
  }
  return !preroll.have_size && preroll.video_frames == 0 && preroll.span_ms >= kAudioOnlyAfterMs;
}

namespace {
bool same_rung(const PlannedRung& a, const PlannedRung& b) {
  return a.spec.name == b.spec.name && a.width == b.width && a.height == b.height &&
         a.passthrough == b.passthrough;
}
}  // namespace

PlanChange change_plan(const std::vector<PlannedRung>& applied,
                       const std::vector<RunningRung>& running,
                       const std::vector<PlannedRung>& plan) {
  PlanChange change;
  if (plan.size() == applied.size() &&
      std::equal(plan.begin(), plan.end(), applied.begin(), same_rung)) {
    return change;
  }
  change.changed = true;
  for (const auto& r : running) {
    const bool same = !r.encoded && std::any_of(plan.begin(), plan.end(), [&](const auto& p) {
      return same_rung(p, r.plan);
    });
    (same ? change.keep : change.stop).push_back(r.plan.spec.name);
  }
  for (const auto& p : plan) {
    if (std::find(change.keep.begin(), change.keep.end(), p.spec.name) == change.keep.end()) {
      change.start.push_back(p);
    }
  }
  return change;
}

KeyframeDecision decide_keyframe(std::int64_t pts_ms, bool source_keyframe, bool follow_source,
                                 std::optional<std::int64_t> next_key_ms, std::int64_t gop_ms) {
  if (follow_source) return {source_keyframe, next_key_ms};
  if (next_key_ms && pts_ms < *next_key_ms) return {false, next_key_ms};
  // The next multiple of gop_ms after pts (floor division, also for negative timestamps).
  const std::int64_t k = pts_ms >= 0 ? pts_ms / gop_ms : -((-pts_ms + gop_ms - 1) / gop_ms);
  return {true, (k + 1) * gop_ms};
}

OverloadDecision decide_overload(const LadderConfig& ladder, const OverloadState& state,
                                 std::int64_t newest_input_ms, std::int64_t pts_ms, bool keyframe) {
  OverloadDecision d{false, false, state};
  if (keyframe || newest_input_ms - pts_ms <= ladder.max_lag.count()) return d;
  if (ladder.overload == OverloadPolicy::kDropFrames) {
    d.drop_frame = (++d.next.lag_frames % 2) == 0;  // halve the frame rate until caught up
    return d;
  }
  if (pts_ms < state.next_shed_ms) return d;
  d.shed = true;
  d.next.next_shed_ms = pts_ms + kShedCooldownMs;
  return d;
}

std::optional<std::size_t> rung_to_shed(const std::vector<RunningRung>& rungs) {
  std::optional<std::size_t> top;
  std::size_t encoded = 0;
  for (std::size_t i = 0; i < rungs.size(); ++i) {
    if (!rungs[i].encoded) continue;
    ++encoded;
    const auto area = [&](std::size_t j) { return rungs[j].plan.width * rungs[j].plan.height; };
    if (!top || area(i) > area(*top)) top = i;
  }
  if (encoded < 2) return std::nullopt;  // never shed the last rung
  return top;
}

}  // namespace sluice::transcode
