#include "route/live_edge.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::route {
namespace {

const std::string kHead =
    "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
    "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12,PART-HOLD-BACK=1.002\n"
    "#EXT-X-PART-INF:PART-TARGET=0.334\n#EXT-X-MEDIA-SEQUENCE:40\n#EXT-X-MAP:URI=\"init1.mp4\"\n";
const std::string kSegment40 =
    "#EXT-X-PART:DURATION=0.334,URI=\"part1.m4s\",INDEPENDENT=YES\n"
    "#EXT-X-PART:DURATION=0.334,URI=\"part2.m4s\"\n#EXTINF:2.000,\n40.m4s\n";

TEST(LiveEdge, AsksForThePartAfterTheOpenSegmentsLast) {
  const auto next = next_part_request(kHead + kSegment40 +
                                      "#EXT-X-PART:DURATION=0.334,URI=\"part3.m4s\"\r\n"
                                      "#EXT-X-PART:DURATION=0.334,URI=\"part4.m4s\"\n"
                                      "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part5.m4s\"\n");
  ASSERT_TRUE(next);
  EXPECT_EQ(http::hls_query(*next), "?_HLS_msn=41&_HLS_part=2&_HLS_skip=YES");
}

TEST(LiveEdge, AsksForTheNextSegmentsFirstPartWhenTheLastSegmentIsWhole) {
  const auto next = next_part_request(kHead + kSegment40 + "#EXT-X-PRELOAD-HINT:TYPE=PART\n");
  ASSERT_TRUE(next);
  EXPECT_EQ(http::hls_query(*next), "?_HLS_msn=41&_HLS_part=0&_HLS_skip=YES");
}

TEST(LiveEdge, CountsSkippedSegmentsOfADelta) {
  std::string delta = kHead + "#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n" + kSegment40;
  const auto next = next_part_request(delta);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->msn, 44u);
  EXPECT_EQ(next->part, 0u);
}

TEST(LiveEdge, NothingToAskOfAPlaylistThatCannotBlockOrHasEnded) {
  EXPECT_FALSE(next_part_request(kHead + kSegment40 + "#EXT-X-ENDLIST\n"));
  EXPECT_FALSE(next_part_request("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\n1.ts\n"));
  EXPECT_FALSE(next_part_request(kHead));  // no part yet
  EXPECT_FALSE(next_part_request(""));
  EXPECT_FALSE(next_part_request("#EXT-X-MEDIA-SEQUENCE:x\n\n\n#EXT-X-PART:\n"));
  // Without delta updates on offer, the full playlist is asked.
  const auto next = next_part_request(
      "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n#EXT-X-PART:DURATION=1,URI=\"p\"\n");
  ASSERT_TRUE(next);
  EXPECT_EQ(http::hls_query(*next), "?_HLS_msn=0&_HLS_part=1");
}

TEST(LiveEdge, NothingToAskWhereTheNumbersReachPastWhatADirectiveCarries) {
  const std::string tail =
      "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n"
      "#EXT-X-PART:DURATION=1,URI=\"p\"\n#EXTINF:1,\n1.m4s\n";
  // 2^63 - 2 and one segment: the next is 2^63 - 1, the largest a directive carries.
  const auto last = next_part_request("#EXT-X-MEDIA-SEQUENCE:9223372036854775806\n" + tail);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->msn, 9223372036854775807u);
  EXPECT_FALSE(next_part_request("#EXT-X-MEDIA-SEQUENCE:9223372036854775807\n" + tail));
  EXPECT_FALSE(next_part_request("#EXT-X-MEDIA-SEQUENCE:99999999999999999999999\n" + tail));
  EXPECT_FALSE(next_part_request("#EXT-X-SKIP:SKIPPED-SEGMENTS=9223372036854775807\n" + tail));
  EXPECT_FALSE(
      next_part_request("#EXT-X-SKIP:SKIPPED-SEGMENTS=4611686018427387904\n"
                        "#EXT-X-SKIP:SKIPPED-SEGMENTS=4611686018427387904\n" +
                        tail));
}

constexpr std::string_view kLive =
    "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-VERSION:9\n"
    "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5\n"
    "#EXT-X-PART-INF:PART-TARGET=0.500\n#EXT-X-MEDIA-SEQUENCE:100\n"
    "#EXTINF:2.000,\n100.m4s\n"
    "#EXT-X-PART:DURATION=0.500,URI=\"part404.m4s\",INDEPENDENT=YES\n"
    "#EXT-X-PART:DURATION=0.500,URI=\"part405.m4s\"\n#EXTINF:1.000,\n101.m4s\n"
    "#EXT-X-PART:DURATION=0.500,URI=\"part406.m4s\",INDEPENDENT=YES\n"
    "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part407.m4s\"\n";

TEST(LiveWindow, ReadsWhatTheServerHolds) {
  const auto window = live_window(kLive);
  ASSERT_TRUE(window);
  EXPECT_EQ(window->first_segment, 100u);
  EXPECT_EQ(window->next_segment, 102u);
  EXPECT_EQ(window->first_part, 404u);
  EXPECT_EQ(window->next_part, 407u);
  EXPECT_EQ(window->target_s, 2);
  EXPECT_EQ(window->part_target_s, 0.5);
  EXPECT_FALSE(live_window(std::string(kLive) + "#EXT-X-ENDLIST\n"));
  EXPECT_FALSE(live_window("#EXTM3U\n#EXTINF:2.0,\n1.ts\n"));  // no sequence, no target
}

TEST(LiveWindow, NamesFarOutsideTheWindowAreSurelyAbsent) {
  const auto window = *live_window(kLive);
  using http::RouteKind;
  // Segments: kept a few past the window; made one per target duration since it was read.
  EXPECT_TRUE(surely_absent(window, RouteKind::kFmp4Segment, 95, 0));
  EXPECT_FALSE(surely_absent(window, RouteKind::kFmp4Segment, 96, 0));
  EXPECT_FALSE(surely_absent(window, RouteKind::kFmp4Segment, 106, 0));
  EXPECT_TRUE(surely_absent(window, RouteKind::kFmp4Segment, 107, 0));
  EXPECT_FALSE(surely_absent(window, RouteKind::kFmp4Segment, 107, 2.5));  // read 2.5 s ago
  EXPECT_TRUE(surely_absent(window, RouteKind::kSegment, 1'000'000, 0));
  EXPECT_TRUE(surely_absent(window, RouteKind::kSegment, ~0ull, 0));
  // Parts: kept as long again as listed.
  EXPECT_TRUE(surely_absent(window, RouteKind::kPart, 395, 0));
  EXPECT_FALSE(surely_absent(window, RouteKind::kPart, 396, 0));
  EXPECT_FALSE(surely_absent(window, RouteKind::kPart, 411, 0));
  EXPECT_TRUE(surely_absent(window, RouteKind::kPart, 412, 0));
  EXPECT_FALSE(surely_absent(window, RouteKind::kPart, 412, 1));
  // Init segments are not judged.
  EXPECT_FALSE(surely_absent(window, RouteKind::kInitSegment, 1'000'000, 0));
}

}  // namespace
}  // namespace sluice::route
