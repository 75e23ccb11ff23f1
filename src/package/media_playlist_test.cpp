#include "package/media_playlist.h"

#include <gtest/gtest.h>

namespace sluice::package {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 2024-01-01T00:00:00Z
const std::chrono::system_clock::time_point kT0{seconds(1704067200)};

PlaylistEntry entry(std::uint64_t seq, double duration, bool disc = false) {
  PlaylistEntry e;
  e.sequence = seq;
  e.duration_s = duration;
  e.discontinuity = disc;
  e.program_date_time = kT0 + seconds(6 * (seq - 100));
  return e;
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

// Low-latency: 2 s segments of four 0.5 s parts, part numbers counting from 40.
MediaPlaylist low_latency(std::uint64_t segments, std::size_t partial_parts) {
  MediaPlaylist p;
  p.configured_target_s = 2.0;
  p.part_target_s = 0.5;
  std::uint64_t part = 40;
  for (std::uint64_t seq = 100; seq < 100 + segments; ++seq) {
    PlaylistEntry e{seq, 2.0, false, kT0 + seconds(2 * (seq - 100)), /*map=*/100, {}};
    for (int i = 0; i < 4; ++i)
      e.parts.push_back(PartEntry{part++, 0.5, i == 0});
    p.add(e, 10);
  }
  p.next_sequence = 100 + segments;
  p.partial.program_date_time = kT0 + seconds(2 * segments);
  p.partial.map = 100;
  for (std::size_t i = 0; i < partial_parts; ++i)
    p.partial.parts.push_back(PartEntry{part++, 0.5, i == 0});
  p.next_part = part;
  return p;
}

TEST(MediaPlaylist, Fmp4SegmentsNameTheirInitSegment) {
  MediaPlaylist p;
  p.add(PlaylistEntry{100, 6.0, false, kT0, /*map=*/100, {}}, 5);
  p.add(PlaylistEntry{101, 6.0, true, kT0 + seconds(6), /*map=*/101, {}}, 5);
  EXPECT_EQ(render(p),
            "#EXTM3U\n"
            "#EXT-X-VERSION:6\n"
            "#EXT-X-TARGETDURATION:6\n"
            "#EXT-X-MEDIA-SEQUENCE:100\n"
            "#EXT-X-MAP:URI=\"init100.mp4\"\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z\n"
            "#EXTINF:6.000,\n"
            "100.m4s\n"
            "#EXT-X-DISCONTINUITY\n"
            "#EXT-X-MAP:URI=\"init101.mp4\"\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:06.000Z\n"
            "#EXTINF:6.000,\n"
            "101.m4s\n");
}

TEST(MediaPlaylist, LowLatencyListsRecentPartsAndHintsTheNext) {
  const auto p = low_latency(4, 2);
  EXPECT_EQ(render(p),
            "#EXTM3U\n"
            "#EXT-X-VERSION:6\n"
            "#EXT-X-TARGETDURATION:2\n"
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,"
            "PART-HOLD-BACK=1.500,HOLD-BACK=6.000\n"
            "#EXT-X-PART-INF:PART-TARGET=0.500\n"
            "#EXT-X-MEDIA-SEQUENCE:100\n"
            "#EXT-X-MAP:URI=\"init100.mp4\"\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z\n"
            "#EXTINF:2.000,\n"
            "100.m4s\n"
            // 101 ends 5 s before the end (1 s of the partial segment, 102, 103): some of its
            // parts lie within 3 target durations (6 s), so all are listed from here on.
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:02.000Z\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part44.m4s\",INDEPENDENT=YES\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part45.m4s\"\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part46.m4s\"\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part47.m4s\"\n"
            "#EXTINF:2.000,\n"
            "101.m4s\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:04.000Z\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part48.m4s\",INDEPENDENT=YES\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part49.m4s\"\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part50.m4s\"\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part51.m4s\"\n"
            "#EXTINF:2.000,\n"
            "102.m4s\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:06.000Z\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part52.m4s\",INDEPENDENT=YES\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part53.m4s\"\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part54.m4s\"\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part55.m4s\"\n"
            "#EXTINF:2.000,\n"
            "103.m4s\n"
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:08.000Z\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part56.m4s\",INDEPENDENT=YES\n"
            "#EXT-X-PART:DURATION=0.500,URI=\"part57.m4s\"\n"
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part58.m4s\"\n");
  EXPECT_EQ(rendition_report("../480p/index.m3u8", p),
            "#EXT-X-RENDITION-REPORT:URI=\"../480p/index.m3u8\",LAST-MSN=104,LAST-PART=1\n");
}

TEST(MediaPlaylist, LowLatencyEndedDropsTheHint) {
  auto p = low_latency(1, 0);
  p.ended = true;
  const auto text = render(p, /*delta=*/true);
  EXPECT_EQ(text.find("PRELOAD-HINT"), std::string::npos);
  EXPECT_EQ(text.find("EXT-X-SKIP"), std::string::npos);
  EXPECT_NE(text.find("#EXT-X-PART:DURATION=0.500,URI=\"part40.m4s\",INDEPENDENT=YES\n"),
            std::string::npos);
  EXPECT_TRUE(text.ends_with("100.m4s\n#EXT-X-ENDLIST\n"));
  EXPECT_EQ(rendition_report("a", p),
            "#EXT-X-RENDITION-REPORT:URI=\"a\",LAST-MSN=100,LAST-PART=3\n");
}

TEST(MediaPlaylist, DeltaUpdateSkipsSegmentsBeforeTheSkipBoundary) {
  // Ten 2 s segments and 1 s of the next: the boundary is 12 s from the end, so segments
  // 100..103 (ending 13 s or more before the end) are skipped; 104 ends 11 s before it.
  const auto p = low_latency(10, 2);
  const auto text = render(p, /*delta=*/true);
  EXPECT_NE(text.find("#EXT-X-VERSION:9\n"), std::string::npos);
  EXPECT_NE(text.find("#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n"
                      "#EXT-X-MAP:URI=\"init100.mp4\"\n"
                      "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:08.000Z\n"
                      "#EXTINF:2.000,\n104.m4s\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("103.m4s"), std::string::npos);
  // The full playlist, for comparison, has all ten and no skip.
  const auto full = render(p);
  EXPECT_NE(full.find("100.m4s\n"), std::string::npos);
  EXPECT_EQ(full.find("EXT-X-SKIP"), std::string::npos);
}

TEST(MediaPlaylist, BlockingReloadWithoutPart) {
  const auto p = low_latency(4, 2);  // complete: 100..103; in progress: 104
  EXPECT_EQ(block_state(p, 103, std::nullopt), Availability::kReady);
  EXPECT_EQ(block_state(p, 104, std::nullopt), Availability::kWait);
  EXPECT_EQ(block_state(p, 105, std::nullopt), Availability::kWait);
  EXPECT_EQ(block_state(p, 106, std::nullopt), Availability::kBadRequest);  // last + 2 < 106
  EXPECT_EQ(block_state(p, 50, std::nullopt), Availability::kReady);        // long gone
}

TEST(MediaPlaylist, BlockingReloadWithPart) {
  const auto p = low_latency(4, 2);
  EXPECT_EQ(block_state(p, 104, 0), Availability::kReady);
  EXPECT_EQ(block_state(p, 104, 1), Availability::kReady);
  EXPECT_EQ(block_state(p, 104, 2), Availability::kWait);
  EXPECT_EQ(block_state(p, 103, 3), Availability::kReady);
  // Past the last part of complete 103: part 0 of 104, which exists; of 104's next: waits.
  EXPECT_EQ(block_state(p, 103, 4), Availability::kReady);
  EXPECT_EQ(block_state(p, 105, 0), Availability::kWait);
  // The Advance Part Limit at 0.5 s parts is 6 parts past the last one (104.1).
  EXPECT_EQ(block_state(p, 104, 7), Availability::kWait);
  EXPECT_EQ(block_state(p, 104, 8), Availability::kBadRequest);
  EXPECT_EQ(block_state(p, 105, 5), Availability::kWait);
  EXPECT_EQ(block_state(p, 105, 6), Availability::kBadRequest);
  EXPECT_EQ(block_state(p, 106, 0), Availability::kBadRequest);
}

TEST(MediaPlaylist, BlockingReloadOnAnEndedPlaylistAnswersAtOnce) {
  auto p = low_latency(2, 0);
  p.ended = true;
  EXPECT_EQ(block_state(p, 101, 9), Availability::kReady);
  EXPECT_EQ(block_state(p, 200, std::nullopt), Availability::kReady);
}

TEST(MediaPlaylist, PartsOfAFinishedSegmentAreReadyWhenItsSuccessorHasNone) {
  auto p = low_latency(3, 0);  // 102 complete, 103 has no parts yet
  EXPECT_EQ(block_state(p, 102, 3), Availability::kReady);
  EXPECT_EQ(block_state(p, 102, 4), Availability::kWait);  // = 103.0
  EXPECT_EQ(block_state(p, 103, 0), Availability::kWait);
}

TEST(MediaPlaylist, WithoutLowLatencyKeepsWholeSegments) {
  const std::string low_latency =
      "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
      "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0\n"
      "#EXT-X-PART-INF:PART-TARGET=0.334\n#EXT-X-MEDIA-SEQUENCE:5\n"
      "#EXT-X-MAP:URI=\"init1.mp4\"\n"
      "#EXT-X-PART:DURATION=0.334,URI=\"part5.0.m4s\",INDEPENDENT=YES\n"
      "#EXTINF:2.000,\n5.m4s\n"
      "#EXT-X-PART:DURATION=0.334,URI=\"part6.0.m4s\"\n"
      "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part6.1.m4s\"\n"
      "#EXT-X-RENDITION-REPORT:URI=\"../720p/index.m3u8\",LAST-MSN=6,LAST-PART=0\n";
  EXPECT_EQ(without_low_latency(low_latency),
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n"
            "#EXT-X-MAP:URI=\"init1.mp4\"\n#EXTINF:2.000,\n5.m4s\n");
  EXPECT_EQ(without_low_latency("#EXTM3U\n#EXTINF:6.0,\n1.ts"), "#EXTM3U\n#EXTINF:6.0,\n1.ts");
}

}  // namespace
}  // namespace sluice::package
