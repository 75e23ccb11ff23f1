#include "store/recording.h"

#include <gtest/gtest.h>

namespace sluice::store {
namespace {

Recording sample() {
  Recording r;
  r.playback_id = "abc";
  r.id = "X1Y2Z3W4";
  r.rendition = "720p";
  r.segments = {{100, 6.0, false, {}}, {101, 6.5, false, {}}, {103, 4.0, true, {}}};
  return r;
}

TEST(Recording, NamesFollowTheReferenceLayout) {
  EXPECT_EQ(segment_name("abc", "720p", 17), "abc/720p/17.ts");
  EXPECT_EQ(playlist_name("abc", "X1Y2Z3W4"), "abc/vod-X1Y2Z3W4.m3u8");
}

TEST(Recording, GrowingPlaylistHasNoEndlist) {
  EXPECT_EQ(render_playlist(sample()),
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:7\n"
            "#EXT-X-MEDIA-SEQUENCE:100\n#EXTINF:6.000,\n720p/100.ts\n#EXTINF:6.500,\n"
            "720p/101.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:4.000,\n720p/103.ts\n");
}

TEST(Recording, EndlistOnlyWhenFinishedAndEverySegmentListed) {
  Recording r = sample();
  r.finished = true;
  const std::string complete = render_playlist(r);
  EXPECT_TRUE(complete.ends_with("720p/103.ts\n#EXT-X-ENDLIST\n"));
  // Complete, it never changes again: a VOD playlist.
  EXPECT_NE(complete.find("#EXT-X-PLAYLIST-TYPE:VOD\n"), std::string::npos) << complete;
  const std::string prefix = render_playlist(r, 2);
  EXPECT_TRUE(prefix.ends_with("720p/101.ts\n")) << prefix;
  EXPECT_EQ(prefix.find("103"), std::string::npos);
  EXPECT_NE(prefix.find("#EXT-X-PLAYLIST-TYPE:EVENT\n"), std::string::npos) << prefix;
}

TEST(Recording, ASkippedSegmentNumberIsADiscontinuity) {
  Recording r = sample();
  r.segments[2].discontinuity = false;  // 101 then 103: whatever lost 102, it is a gap
  EXPECT_NE(
      render_playlist(r).find("720p/101.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:4.000,\n720p/103.ts"),
      std::string::npos);
}

TEST(Recording, ParsesWhatItRenders) {
  for (bool finished : {false, true}) {
    Recording r = sample();
    r.finished = finished;
    auto parsed = parse_playlist(render_playlist(r), "abc", "X1Y2Z3W4");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->rendition, "720p");
    EXPECT_EQ(parsed->finished, finished);
    ASSERT_EQ(parsed->segments.size(), 3u);
    EXPECT_EQ(parsed->segments[2].sequence, 103u);
    EXPECT_TRUE(parsed->segments[2].discontinuity);
    EXPECT_FALSE(parsed->segments[1].discontinuity);
    EXPECT_DOUBLE_EQ(parsed->segments[1].duration_s, 6.5);
    EXPECT_EQ(render_playlist(*parsed), render_playlist(r));
  }
}

Recording fmp4_sample() {
  Recording r = sample();
  r.segments[0].init_id = 100;
  r.segments[1].init_id = 100;
  r.segments[2].init_id = 103;  // a codec change: a new init segment
  return r;
}

TEST(Recording, Fmp4SegmentsFollowTheirInitSegment) {
  EXPECT_EQ(segment_name("abc", "720p", 17, true), "abc/720p/17.m4s");
  EXPECT_EQ(init_name("abc", "720p", 17), "abc/720p/init17.mp4");
  EXPECT_EQ(render_playlist(fmp4_sample()),
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:7\n"
            "#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-MAP:URI=\"720p/init100.mp4\"\n#EXTINF:6.000,\n"
            "720p/100.m4s\n#EXTINF:6.500,\n720p/101.m4s\n#EXT-X-DISCONTINUITY\n"
            "#EXT-X-MAP:URI=\"720p/init103.mp4\"\n#EXTINF:4.000,\n720p/103.m4s\n");
  auto parsed = parse_playlist(render_playlist(fmp4_sample()), "abc", "X1Y2Z3W4");
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->segments.size(), 3u);
  EXPECT_EQ(parsed->segments[1].init_id, 100u);
  EXPECT_EQ(parsed->segments[2].init_id, 103u);
  EXPECT_EQ(render_playlist(*parsed), render_playlist(fmp4_sample()));
  EXPECT_EQ(segment_name("abc", "720p", parsed->segments[2]), "abc/720p/103.m4s");
}

TEST(Recording, RejectsForeignOrBrokenEntries) {
  // fMP4: the map of another rendition, a broken map, a .ts after a map, a .m4s without one.
  EXPECT_FALSE(
      parse_playlist("#EXT-X-MAP:URI=\"480p/init1.mp4\"\n#EXTINF:6,\n720p/1.m4s\n", "a", "b"));
  EXPECT_FALSE(parse_playlist("#EXT-X-MAP:URI=\"720p/initx.mp4\"\n", "a", "b"));
  EXPECT_FALSE(parse_playlist("#EXT-X-MAP:URI=\"720p/init.mp4\"\n", "a", "b"));
  EXPECT_FALSE(
      parse_playlist("#EXT-X-MAP:URI=\"720p/init1.mp4\"\n#EXTINF:6,\n720p/1.ts\n", "a", "b"));
  EXPECT_FALSE(parse_playlist("#EXTINF:6,\n720p/1.m4s\n", "a", "b"));
  EXPECT_FALSE(parse_playlist("#EXTM3U\n#EXTINF:6,\n720p/1.ts\n#EXTINF:6,\n480p/2.ts\n", "a", "b"));
  EXPECT_FALSE(parse_playlist("#EXTM3U\n#EXTINF:6,\n720p/1x.ts\n", "a", "b"));
  EXPECT_FALSE(parse_playlist("#EXTM3U\n720p/1.ts\n", "a", "b"));
  EXPECT_FALSE(parse_playlist("#EXTM3U\n#EXTINF:abc,\n720p/1.ts\n", "a", "b"));
  auto empty = parse_playlist("", "a", "b");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->segments.empty());
}

TEST(Recording, IdsAreEightCharactersOfTheAlphabet) {
  const std::string a = new_recording_id();
  EXPECT_EQ(a.size(), 8u);
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), std::string::npos);
  EXPECT_NE(a, new_recording_id());
}

}  // namespace
}  // namespace sluice::store
