#include "package/media_playlist.h"

#include <gtest/gtest.h>

namespace sluice::package {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 2024-01-01T00:00:00Z
const std::chrono::system_clock::time_point kT0{seconds(1704067200)};

PlaylistEntry entry(std::uint64_t seq, double duration, bool disc = false) {
  return PlaylistEntry{seq, duration, disc, kT0 + seconds(6 * (seq - 100))};
}

TEST(MediaPlaylist, ProgramDateTimeIsIsoUtcWithMillis) {
  EXPECT_EQ(format_program_date_time(kT0), "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(format_program_date_time(kT0 + milliseconds(86400000 + 3723042)),
            "2024-01-02T01:02:03.042Z");
}

TEST(MediaPlaylist, EmptyLive) {
  MediaPlaylist p;
  EXPECT_EQ(render(p),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-MEDIA-SEQUENCE:0\n");
}

TEST(MediaPlaylist, SlidingWindowAdvancesMediaSequence) {
  MediaPlaylist p;
  for (std::uint64_t seq = 100; seq < 105; ++seq)
    p.add(entry(seq, 6.0), 3);
  EXPECT_EQ(render(p),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-MEDIA-SEQUENCE:102\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:12.000Z\n"
            "#EXTINF:6.000,\n"
            "102.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:18.000Z\n"
            "#EXTINF:6.000,\n"
            "103.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:24.000Z\n"
            "#EXTINF:6.000,\n"
            "104.ts\n");
}

TEST(MediaPlaylist, DiscontinuityAfterRepublish) {
  MediaPlaylist p;
  p.add(entry(100, 6.0), 3);
  p.add(entry(101, 4.2), 3);
  p.add(entry(102, 6.0, /*disc=*/true), 3);
  EXPECT_EQ(render(p),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-MEDIA-SEQUENCE:100\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z\n"
            "#EXTINF:6.000,\n"
            "100.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:06.000Z\n"
            "#EXTINF:4.200,\n"
            "101.ts\n"
            "#EXT-X-DISCONTINUITY\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:12.000Z\n"
            "#EXTINF:6.000,\n"
            "102.ts\n");
}

TEST(MediaPlaylist, DiscontinuitySequenceCountsTagsThatLeftTheWindow) {
  MediaPlaylist p;
  p.add(entry(100, 6.0), 2);
  p.add(entry(101, 6.0, true), 2);
  p.add(entry(102, 6.0), 2);  // 100 leaves: no tag removed
  EXPECT_EQ(p.discontinuity_sequence, 0u);
  p.add(entry(103, 6.0), 2);  // 101 leaves with its tag
  EXPECT_EQ(render(p),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-MEDIA-SEQUENCE:102\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:12.000Z\n"
            "#EXTINF:6.000,\n"
            "102.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:18.000Z\n"
            "#EXTINF:6.000,\n"
            "103.ts\n");
}

TEST(MediaPlaylist, EndListWhenEnded) {
  MediaPlaylist p;
  p.add(entry(100, 6.0), 5);
  p.add(entry(101, 1.033), 5);
  p.ended = true;
  EXPECT_EQ(render(p),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-MEDIA-SEQUENCE:100\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z\n"
            "#EXTINF:6.000,\n"
            "100.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:06.000Z\n"
            "#EXTINF:1.033,\n"
            "101.ts\n"
            "#EXT-X-ENDLIST\n");
}

TEST(MediaPlaylist, TargetDurationIsMaxOfConfiguredAndLongestSegmentCeiled) {
  MediaPlaylist p;
  p.configured_target_s = 4.4;  // rounds to 4
  EXPECT_EQ(p.target_duration(), 4);
  p.add(entry(100, 4.0), 2);  // exactly 4.000 must not ceil to 5
  EXPECT_EQ(p.target_duration(), 4);
  p.add(entry(101, 6.2), 2);
  EXPECT_EQ(p.target_duration(), 7);
  // Never shrinks, even after the long segment left the window.
  p.add(entry(102, 4.0), 2);
  p.add(entry(103, 4.0), 2);
  EXPECT_EQ(render(p),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:7\n"
            "#EXT-X-MEDIA-SEQUENCE:102\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:12.000Z\n"
            "#EXTINF:4.000,\n"
            "102.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:18.000Z\n"
            "#EXTINF:4.000,\n"
            "103.ts\n");
  p.configured_target_s = 6.5;  // rounds to 7 (half away from zero)
  EXPECT_EQ(p.target_duration(), 7);
}

}  // namespace
}  // namespace sluice::package
