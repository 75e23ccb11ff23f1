#include "transcode/pipeline_policy.h"

#include <gtest/gtest.h>

namespace sluice::transcode {
namespace {

media::Packet packet(media::TrackKind kind, bool keyframe = false, bool config = false) {
  media::Packet p;
  p.kind = kind;
  p.keyframe = keyframe;
  p.config = config;
  return p;
}

const auto kVideo = media::TrackKind::kVideo;
const auto kAudio = media::TrackKind::kAudio;

TEST(AdmitInput, QueuesWhatFitsAndStartsDroppingPastTheLimit) {
  const InputQueueState state{900, 1000, false, true};
  EXPECT_EQ(admit_input(state, packet(kVideo), 100), InputDecision::kQueue);
  EXPECT_EQ(admit_input(state, packet(kVideo), 101), InputDecision::kStartDropping);
  EXPECT_EQ(admit_input(state, packet(kAudio), 101), InputDecision::kStartDropping);
}

TEST(AdmitInput, ConfigsAreAlwaysQueued) {
  EXPECT_EQ(admit_input({5000, 1000, false, true}, packet(kVideo, false, true), 10),
            InputDecision::kQueue);
  EXPECT_EQ(admit_input({5000, 1000, true, true}, packet(kAudio, false, true), 10),
            InputDecision::kQueue);  // and do not end the dropping
}

TEST(AdmitInput, DroppingEndsAtAVideoKeyframeThatFits) {
  const InputQueueState dropping{0, 1000, true, true};
  EXPECT_EQ(admit_input(dropping, packet(kVideo), 10), InputDecision::kDrop);
  EXPECT_EQ(admit_input(dropping, packet(kAudio), 10), InputDecision::kDrop);
  EXPECT_EQ(admit_input(dropping, packet(kVideo, true), 10), InputDecision::kResume);
  EXPECT_EQ(admit_input({995, 1000, true, true}, packet(kVideo, true), 10), InputDecision::kDrop);
}

TEST(AdmitInput, AudioOnlyStreamsResumeOnAnyPacket) {
  EXPECT_EQ(admit_input({0, 1000, true, false}, packet(kAudio), 10), InputDecision::kResume);
}

LadderConfig ladder(bool smart) {
  LadderConfig l;
  l.gop_s = 2;
  l.smart_passthrough = smart;
  return l;
}

TEST(ReadyToPlan, NeedsTheSizeAndAKeyframe) {
  PrerollState p;
  p.span_ms = 500;
  p.video_frames = 10;
  EXPECT_FALSE(ready_to_plan(p, ladder(false), 1 << 20));
  p.have_size = true;
  EXPECT_FALSE(ready_to_plan(p, ladder(false), 1 << 20));
  p.keyframes = 1;
  EXPECT_TRUE(ready_to_plan(p, ladder(false), 1 << 20));
}

TEST(ReadyToPlan, TheSmartLadderWaitsForTheSecondKeyframeOrGivesUp) {
  PrerollState p;
  p.span_ms = 1000;
  p.have_size = true;
  p.keyframes = 1;
  p.video_frames = 30;
  p.ms_since_first_keyframe = 1000;
  EXPECT_FALSE(ready_to_plan(p, ladder(true), 1 << 20));
  p.ms_since_first_keyframe = 5001;  // past twice the GOP and a second
  EXPECT_TRUE(ready_to_plan(p, ladder(true), 1 << 20));
  p.ms_since_first_keyframe = 1000;
  p.keyframes = 2;
  EXPECT_TRUE(ready_to_plan(p, ladder(true), 1 << 20));
}

TEST(ReadyToPlan, AudioOnlyAfterAWhileWithoutVideo) {
  PrerollState p;
  p.span_ms = kAudioOnlyAfterMs - 1;
  EXPECT_FALSE(ready_to_plan(p, ladder(false), 1 << 20));
  p.span_ms = kAudioOnlyAfterMs;
  EXPECT_TRUE(ready_to_plan(p, ladder(false), 1 << 20));
  p.video_frames = 1;  // video without a size yet: wait
  EXPECT_FALSE(ready_to_plan(p, ladder(false), 1 << 20));
}

TEST(ReadyToPlan, ThePrerollIsBoundedInTimeAndBytes) {
  PrerollState p;
  p.video_frames = 1;
  p.span_ms = kMaxPrerollMs;
  EXPECT_TRUE(ready_to_plan(p, ladder(false), 1 << 20));
  p.span_ms = 10;
  p.bytes = (1 << 20) + 1;
  EXPECT_TRUE(ready_to_plan(p, ladder(false), 1 << 20));
}

PlannedRung rung(const std::string& name, int w, int h, bool passthrough = false) {
  PlannedRung r;
  r.spec.name = name;
  r.width = w;
  r.height = h;
  r.passthrough = passthrough;
  return r;
}

TEST(ChangePlan, TheSamePlanChangesNothingSoAShedRungStaysShed) {
  const std::vector<PlannedRung> plan{rung("360p", 640, 360), rung("720p", 1280, 720)};
  const std::vector<RunningRung> running{{plan[0], true}};  // 720p was shed
  EXPECT_FALSE(change_plan(plan, running, plan).changed);
}

TEST(ChangePlan, EncodedRungsRestartAndUnchangedPassthroughKeepsRunning) {
  const std::vector<PlannedRung> old{rung("360p", 640, 360), rung("src", 1280, 720, true)};
  const std::vector<RunningRung> running{{old[0], true}, {old[1], false}};
  const std::vector<PlannedRung> plan{rung("360p", 480, 360), rung("src", 1280, 720, true),
                                      rung("480p", 640, 480)};
  const auto change = change_plan(old, running, plan);
  EXPECT_TRUE(change.changed);
  EXPECT_EQ(change.keep, std::vector<std::string>{"src"});
  EXPECT_EQ(change.stop, std::vector<std::string>{"360p"});
  ASSERT_EQ(change.start.size(), 2u);
  EXPECT_EQ(change.start[0].spec.name, "360p");
  EXPECT_EQ(change.start[0].width, 480);
  EXPECT_EQ(change.start[1].spec.name, "480p");
}

TEST(ChangePlan, APassthroughRungOfANewSizeRestarts) {
  const std::vector<PlannedRung> old{rung("src", 1280, 720, true)};
  const auto change =
      change_plan(old, {{old[0], false}}, std::vector<PlannedRung>{rung("src", 1920, 1080, true)});
  EXPECT_EQ(change.stop, std::vector<std::string>{"src"});
  ASSERT_EQ(change.start.size(), 1u);
  EXPECT_EQ(change.start[0].width, 1920);
}

TEST(DecideKeyframe, FirstPictureAtOrAfterEveryGopMultiple) {
  auto d = decide_keyframe(33, false, false, std::nullopt, 2000);
  EXPECT_TRUE(d.force);
  EXPECT_EQ(d.next_key_ms, 2000);
  d = decide_keyframe(1999, true, false, d.next_key_ms, 2000);
  EXPECT_FALSE(d.force);  // the source's keyframes do not count without passthrough
  EXPECT_EQ(d.next_key_ms, 2000);
  d = decide_keyframe(2033, false, false, d.next_key_ms, 2000);
  EXPECT_TRUE(d.force);
  EXPECT_EQ(d.next_key_ms, 4000);
  d = decide_keyframe(-30, false, false, std::nullopt, 2000);
  EXPECT_TRUE(d.force);
  EXPECT_EQ(d.next_key_ms, 0);
}

TEST(DecideKeyframe, FollowsTheSourceWithAPassthroughRung) {
  EXPECT_TRUE(decide_keyframe(100, true, true, std::nullopt, 2000).force);
  EXPECT_FALSE(decide_keyframe(4000, false, true, 2000, 2000).force);
}

LadderConfig overload(OverloadPolicy policy) {
  LadderConfig l;
  l.overload = policy;
  l.max_lag = std::chrono::milliseconds(3000);
  return l;
}

TEST(DecideOverload, NothingWhileWithinTheLag) {
  const auto d = decide_overload(overload(OverloadPolicy::kShedRungs), {}, 13000, 10000, false);
  EXPECT_FALSE(d.shed);
  EXPECT_FALSE(d.drop_frame);
}

TEST(DecideOverload, ShedsAtMostOncePerCooldown) {
  const auto l = overload(OverloadPolicy::kShedRungs);
  auto d = decide_overload(l, {}, 13001, 10000, false);
  EXPECT_TRUE(d.shed);
  EXPECT_FALSE(d.drop_frame);
  EXPECT_EQ(d.next.next_shed_ms, 10000 + kShedCooldownMs);
  d = decide_overload(l, d.next, 17000, 13000, false);
  EXPECT_FALSE(d.shed);
  d = decide_overload(l, d.next, 18000, 14000, false);
  EXPECT_TRUE(d.shed);
}

TEST(DecideOverload, DropFramesHalvesTheRateButNeverDropsAKeyframe) {
  const auto l = overload(OverloadPolicy::kDropFrames);
  OverloadState state;
  int dropped = 0;
  for (int i = 0; i < 10; ++i) {
    const auto d = decide_overload(l, state, 20000, 10000 + i * 33, false);
    EXPECT_FALSE(d.shed);
    dropped += d.drop_frame;
    state = d.next;
  }
  EXPECT_EQ(dropped, 5);
  EXPECT_FALSE(decide_overload(l, {1, 0}, 20000, 10000, true).drop_frame);
}

TEST(RungToShed, TheLargestEncodedRungButNeverTheLast) {
  const std::vector<RunningRung> rungs{{rung("src", 1920, 1080, true), false},
                                       {rung("360p", 640, 360), true},
                                       {rung("720p", 1280, 720), true}};
  EXPECT_EQ(rung_to_shed(rungs), 2u);
  EXPECT_EQ(rung_to_shed({rungs[0], rungs[1]}), std::nullopt);
  EXPECT_EQ(rung_to_shed({}), std::nullopt);
}

}  // namespace
}  // namespace sluice::transcode
