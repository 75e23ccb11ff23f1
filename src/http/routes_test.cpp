#include "http/routes.h"

#include <gtest/gtest.h>

namespace sluice::http {
namespace {

TEST(Routes, ParsesHlsPaths) {
  auto m = parse_route("/abc123/live.m3u8");
  EXPECT_EQ(m.kind, RouteKind::kMaster);
  EXPECT_EQ(m.playback_id, "abc123");

  auto p = parse_route("/abc/source/index.m3u8?x=1");
  EXPECT_EQ(p.kind, RouteKind::kMediaPlaylist);
  EXPECT_EQ(p.rendition, "source");

  auto s = parse_route("/abc/720p/1590665387025.ts");
  EXPECT_EQ(s.kind, RouteKind::kSegment);
  EXPECT_EQ(s.sequence, 1590665387025u);
  auto t = parse_route("/abc/thumbnail.jpg?t=1");
  EXPECT_EQ(t.kind, RouteKind::kThumbnail);
  EXPECT_EQ(t.playback_id, "abc");
  EXPECT_EQ(content_type(RouteKind::kThumbnail), std::string("image/jpeg"));
  EXPECT_EQ(parse_route("/recordings/abc/thumbnail.jpg").kind, RouteKind::kNotFound);
  EXPECT_EQ(parse_route("/a.b/thumbnail.jpg").kind, RouteKind::kNotFound);
  EXPECT_EQ(max_age("max-age=10"), 10u);
  EXPECT_EQ(max_age("public, max-age=60 , immutable"), 60u);
  EXPECT_EQ(max_age("no-cache"), std::nullopt);
  EXPECT_EQ(max_age("max-age=-1"), std::nullopt);
  EXPECT_EQ(max_age("max-age="), std::nullopt);
}

TEST(Routes, RejectsTraversalAndOddNames) {
  for (const char* bad : {"/../etc/passwd", "/abc/../live.m3u8", "/a%2e%2e/live.m3u8",
                          "/abc//index.m3u8", "/abc/source/x.ts", "/abc/source/-1.ts",
                          "/abc/source/1.ts/", "/abc/source/99999999999999999999999.ts",
                          "abc/live.m3u8", "/abc/live.m3u8/", "/a.b/live.m3u8", ""}) {
    EXPECT_EQ(parse_route(bad).kind, RouteKind::kNotFound) << bad;
  }
  EXPECT_EQ(parse_route("/" + std::string(600, 'a')).kind, RouteKind::kNotFound);
}

TEST(Routes, FixedPaths) {
  EXPECT_EQ(parse_route("/healthz").kind, RouteKind::kHealth);
  EXPECT_EQ(parse_route("/healthcheck").kind, RouteKind::kHealth);
  EXPECT_EQ(parse_route("/metrics").kind, RouteKind::kMetrics);
  EXPECT_EQ(parse_route("/api/streams").kind, RouteKind::kStreams);
  EXPECT_EQ(parse_route("/").kind, RouteKind::kIndex);
  EXPECT_EQ(parse_route("/web/app.js").rendition, "app.js");
  EXPECT_EQ(parse_route("/web/hls.min.js").kind, RouteKind::kWebAsset);
  EXPECT_EQ(parse_route("/web/other.js").kind, RouteKind::kNotFound);
}

TEST(Routes, Recordings) {
  EXPECT_EQ(parse_route("/api/recordings").kind, RouteKind::kRecordings);
  const Route playlist = parse_route("/recordings/abc/vod-X1Y2.m3u8");
  EXPECT_EQ(playlist.kind, RouteKind::kRecordingPlaylist);
  EXPECT_EQ(playlist.playback_id, "abc");
  EXPECT_EQ(playlist.rendition, "X1Y2");
  const Route segment = parse_route("/recordings/abc/720p/17.ts");
  EXPECT_EQ(segment.kind, RouteKind::kRecordingSegment);
  EXPECT_EQ(segment.rendition, "720p");
  EXPECT_EQ(segment.sequence, 17u);
  const Route fmp4 = parse_route("/recordings/abc/720p/18.m4s");
  EXPECT_EQ(fmp4.kind, RouteKind::kRecordingFmp4Segment);
  EXPECT_EQ(fmp4.sequence, 18u);
  EXPECT_EQ(content_type(fmp4.kind), std::string("video/iso.segment"));
  const Route init = parse_route("/recordings/abc/720p/init18.mp4");
  EXPECT_EQ(init.kind, RouteKind::kRecordingInit);
  EXPECT_EQ(init.sequence, 18u);
  EXPECT_EQ(cache_control(init.kind), std::string("max-age=31536000"));
  for (auto kind : {playlist.kind, segment.kind, fmp4.kind, init.kind})
    EXPECT_TRUE(recording_file(kind));
  EXPECT_FALSE(recording_file(RouteKind::kSegment));
  for (const char* bad : {"/recordings/abc/vod-.m3u8", "/recordings/abc/vod-a.b.m3u8",
                          "/recordings/abc/720p/part3.m4s", "/recordings/abc/720p/init.mp4",
                          "/recordings/abc/720p/index.m3u8", "/recordings/../vod-a.m3u8",
                          "/recordings/abc/720p/x.ts", "/recordings/abc/live.m3u8x"}) {
    EXPECT_EQ(parse_route(bad).kind, RouteKind::kNotFound) << bad;
  }
  // A live stream whose playback ID is "recordings" keeps its own paths.
  EXPECT_EQ(parse_route("/recordings/live.m3u8").kind, RouteKind::kMaster);
  EXPECT_EQ(parse_route("/recordings/720p/index.m3u8").kind, RouteKind::kMediaPlaylist);
  EXPECT_EQ(parse_route("/recordings/720p/5.ts").kind, RouteKind::kSegment);
}

TEST(Routes, Fmp4AndLowLatencyFiles) {
  const Route segment = parse_route("/abc/720p/1590665387025.m4s");
  EXPECT_EQ(segment.kind, RouteKind::kFmp4Segment);
  EXPECT_EQ(segment.sequence, 1590665387025u);
  const Route part = parse_route("/abc/720p/part1590665387100.m4s?x");
  EXPECT_EQ(part.kind, RouteKind::kPart);
  EXPECT_EQ(part.rendition, "720p");
  EXPECT_EQ(part.sequence, 1590665387100u);
  const Route init = parse_route("/abc/source/init42.mp4");
  EXPECT_EQ(init.kind, RouteKind::kInitSegment);
  EXPECT_EQ(init.sequence, 42u);
  for (const char* bad :
       {"/abc/720p/part.m4s", "/abc/720p/part-1.m4s", "/abc/720p/partx.m4s", "/abc/720p/init.mp4",
        "/abc/720p/init1.m4s", "/abc/720p/1.mp4", "/abc/720p/+1.m4s", "/abc/720p/part+1.m4s",
        "/abc/720p/9223372036854775808.m4s", "/recordings/abc/720p/part1.m4s", "/abc/720p/.m4s",
        "/abc/720p/init.mp4x"}) {
    EXPECT_EQ(parse_route(bad).kind, RouteKind::kNotFound) << bad;
  }
  EXPECT_STREQ(content_type(RouteKind::kPart), "video/iso.segment");
  EXPECT_STREQ(content_type(RouteKind::kInitSegment), "video/mp4");
  EXPECT_STREQ(cache_control(RouteKind::kPart), "max-age=600");
}

TEST(Routes, HlsDirectives) {
  auto d = parse_hls_directives("/a/b/index.m3u8");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->blocking());
  EXPECT_FALSE(d->skip);
  d = parse_hls_directives("/a/b/index.m3u8?_HLS_msn=17&_HLS_part=3&_HLS_skip=YES&token=x");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->msn, 17u);
  EXPECT_EQ(d->part, 3u);
  EXPECT_TRUE(d->skip);
  d = parse_hls_directives("/a/b/index.m3u8?_HLS_skip=v2&_HLS_msn=0");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->msn, 0u);
  EXPECT_FALSE(d->part);
  EXPECT_TRUE(d->skip);
  for (const char* bad :
       {"/i?_HLS_msn=-1", "/i?_HLS_msn=abc", "/i?_HLS_msn=", "/i?_HLS_msn", "/i?_HLS_msn=+4",
        "/i?_HLS_msn=1.5", "/i?_HLS_msn=99999999999999999999", "/i?_HLS_msn=9223372036854775808",
        "/i?_HLS_part=2", "/i?_HLS_msn=1&_HLS_msn=2", "/i?_HLS_msn=1&_HLS_part=x",
        "/i?_HLS_skip=NO", "/i?_HLS_skip=yes", "/i?_HLS_msn=0x10"}) {
    EXPECT_FALSE(parse_hls_directives(bad)) << bad;
  }
  EXPECT_EQ(blocking_playlist_cache_control(18), "max-age=18");
}

TEST(Routes, HlsQueryIsCanonical) {
  EXPECT_EQ(hls_query(*parse_hls_directives("/i")), "");
  EXPECT_EQ(hls_query(*parse_hls_directives("/i?token=x&_HLS_skip=v2")), "?_HLS_skip=YES");
  // Order, other parameters and leading zeros do not make a second cache entry.
  const std::string canonical = "?_HLS_msn=17&_HLS_part=3&_HLS_skip=YES";
  for (const char* same : {"/i?_HLS_msn=17&_HLS_part=3&_HLS_skip=YES",
                           "/i?_HLS_skip=YES&_HLS_part=03&x=1&_HLS_msn=017"}) {
    EXPECT_EQ(hls_query(*parse_hls_directives(same)), canonical) << same;
  }
  EXPECT_EQ(hls_query(*parse_hls_directives("/i?_HLS_msn=0")), "?_HLS_msn=0");
}

TEST(Routes, CacheHeadersFollowTheReference) {
  EXPECT_STREQ(cache_control(RouteKind::kMaster), "max-age=60");
  EXPECT_STREQ(cache_control(RouteKind::kMediaPlaylist), "no-cache");
  EXPECT_STREQ(cache_control(RouteKind::kSegment), "max-age=600");
  EXPECT_STREQ(content_type(RouteKind::kMaster), "application/vnd.apple.mpegurl");
  EXPECT_STREQ(content_type(RouteKind::kSegment), "video/mp2t");
}

TEST(Routes, ByteRanges) {
  auto r = parse_range("bytes=0-99", 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 99u);
  r = parse_range("bytes=900-", 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last, 999u);
  r = parse_range("bytes=-100", 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 900u);
  r = parse_range("bytes=500-5000", 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->last, 999u);
  for (const char* bad : {"bytes=1000-", "bytes=5-4", "bytes=0-1,5-6", "items=0-1", "bytes=-0",
                          "bytes=a-b", "bytes="}) {
    EXPECT_FALSE(parse_range(bad, 1000)) << bad;
  }
}

TEST(Routes, ResponseHead) {
  const HeaderField fields[] = {{"Server", "sluice"}, {"X-Evil", "a\r\nSet-Cookie: x"}};
  EXPECT_EQ(response_head(200, 11, true, fields, 5),
            "HTTP/1.1 200 OK\r\nServer: sluice\r\nX-Evil: aSet-Cookie: x\r\n"
            "Content-Length: 5\r\n\r\n");
  EXPECT_EQ(response_head(204, 11, false, {}, std::nullopt),
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(response_head(404, 10, true, {}, 0),
            "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(response_head(206, 10, false, {}, 1),
            "HTTP/1.0 206 Partial Content\r\nContent-Length: 1\r\n\r\n");
}

}  // namespace
}  // namespace sluice::http
