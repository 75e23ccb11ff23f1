#include "media/timestamps.h"

#include <gtest/gtest.h>

namespace sluice::media {
namespace {

TEST(Timestamps, RebasesToZeroAcrossTracks) {
  TimestampNormalizer n;
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 5000), 0);
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 5010), 10);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 5033), 33);
  // Audio that starts slightly before the base is clamped at 0, then monotonic.
  TimestampNormalizer m;
  EXPECT_EQ(m.normalize(TrackKind::kVideo, 100), 0);
  EXPECT_EQ(m.normalize(TrackKind::kAudio, 90), 0);
  EXPECT_EQ(m.normalize(TrackKind::kAudio, 113), 13);
}

TEST(Timestamps, PastTwentyFourBits) {
  TimestampNormalizer n;
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0xFFFFF0), 0);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0x1000000), 0x10);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0x1000021), 0x31);
}

TEST(Timestamps, ThirtyTwoBitRolloverContinues) {
  TimestampNormalizer n;
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0xFFFFF000), 0);
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 0xFFFFF800), 0x800);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0xFFFFFFF0), 0xFF0);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0x00000010), 0x1010);  // wrapped
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 0x00000020), 0x1020);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0x00100000), 0x101000);
}

TEST(Timestamps, TrackStartingAfterTheWrapJoinsTheRightEpoch) {
  TimestampNormalizer n;
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0xFFFFFFF0), 0);
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 0x00000010), 0x20);
}

TEST(Timestamps, BackwardJumpIsClamped) {
  TimestampNormalizer n;
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 1000), 0);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 2000), 1000);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 1500), 1000);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 2100), 1100);
}

TEST(Timestamps, InterleavedTracksAcrossSeveralWraps) {
  // 30 fps video and 43 fps-ish audio for 3 wraps, fed in stepped chunks of 2^30 ms.
  TimestampNormalizer n;
  const std::uint32_t start = 0xFFFFF000;
  std::int64_t last_video = -1, last_audio = -1;
  for (std::int64_t t = 0; t < (std::int64_t{3} << 32); t += std::int64_t{1} << 30) {
    for (std::int64_t d : {0, 23, 33, 46, 66}) {
      const auto raw = static_cast<std::uint32_t>(start + t + d);
      const TrackKind kind = d % 2 ? TrackKind::kVideo : TrackKind::kAudio;
      const std::int64_t out = n.normalize(kind, raw);
      EXPECT_EQ(out, t + d);
      std::int64_t& last = kind == TrackKind::kVideo ? last_video : last_audio;
      EXPECT_GT(out, last);
      last = out;
    }
  }
}

TEST(Timestamps, TrackStartingDaysLaterJoinsTheCurrentEpoch) {
  TimestampNormalizer n;
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0), 0);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0x40000000), 0x40000000);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0x80000000), 0x80000000);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0xC0000000), 0xC0000000);
  // Audio appears 37 days in, just after the video wrapped: same epoch as the video.
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0x00000100), 0x100000100);
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 0x000000F0), 0x1000000F0);
  // ...and audio that appears just before a video timestamp past the wrap joins the epoch
  // before it.
  TimestampNormalizer m;
  EXPECT_EQ(m.normalize(TrackKind::kVideo, 0xFFFFFF00), 0);
  EXPECT_EQ(m.normalize(TrackKind::kVideo, 0x00000100), 0x200);
  EXPECT_EQ(m.normalize(TrackKind::kAudio, 0xFFFFFFF0), 0xF0);
}

TEST(Timestamps, TrackStartingBeforeTheBaseIsClampedThenMonotonic) {
  TimestampNormalizer n;
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0x10), 0);
  // Audio 32 ms earlier than the base, across the 32-bit boundary.
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 0xFFFFFFF0), 0);
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 0x00000010), 0);
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 0x00000030), 0x20);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 0x31), 0x21);
}

TEST(Timestamps, TracksAreIndependentForClamping) {
  TimestampNormalizer n;
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 1000), 0);
  EXPECT_EQ(n.normalize(TrackKind::kVideo, 3000), 2000);
  // Audio behind video is fine: only a track's own history clamps it.
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 1500), 500);
  EXPECT_EQ(n.normalize(TrackKind::kData, 1200), 200);
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 1400), 500);  // backwards: clamped
  EXPECT_EQ(n.normalize(TrackKind::kAudio, 1600), 600);
}

}  // namespace
}  // namespace sluice::media
