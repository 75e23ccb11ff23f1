// HlsStore lifecycle with a fake clock. The input is a synthetic audio-only AAC stream: the
// TS muxer does not decode frames, so a few fixed bytes per frame make real segments quickly.
#include "package/hls_store.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::package {
namespace {

media::PacketPtr share(media::Packet packet) {
  return std::make_shared<const media::Packet>(std::move(packet));
}

using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

constexpr std::int64_t kEpochMs = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

struct FakeClock {
  TimePoint now{milliseconds(kEpochMs)};
  HlsStore::Clock fn() {
    return [this] { return now; };
  }
};

media::Packet aac_packet(bool config, std::int64_t dts_ms) {
  media::Packet p;
  p.kind = media::TrackKind::kAudio;
  p.codec = media::Codec::kAac;
  p.config = config;
  p.dts_ms = dts_ms;
  p.payload_offset = 2;  // FLV audio tag header: format byte, AACPacketType
  if (config) {
    // AudioSpecificConfig: AAC-LC (2), 48 kHz (index 3), stereo (2)
    p.body = std::make_shared<media::Bytes>(media::Bytes{0xAF, 0x00, 0x11, 0x90});
  } else {
    // An arbitrary raw frame; its first byte must not look like an ADTS sync word.
    p.body = std::make_shared<media::Bytes>(media::Bytes{0xAF, 0x01, 0x21, 0x10, 0x04, 0x60, 0x8C});
  }
  return p;
}

// Config, then one frame every 100 ms over [from, to].
void feed(media::RenditionOutput& w, std::int64_t from, std::int64_t to) {
  ASSERT_TRUE(w.on_packet(share(aac_packet(true, from))));
  for (std::int64_t t = from; t <= to; t += 100)
    ASSERT_TRUE(w.on_packet(share(aac_packet(false, t))));
}

HlsConfig test_config() {
  HlsConfig c;
  c.target_duration_s = 1.0;
  c.window = 3;
  c.grace = seconds(120);
  c.endlist_delay = std::chrono::milliseconds(0);
  return c;
}

struct RecordingListener : SegmentListener {
  HlsStore* store = nullptr;
  std::vector<std::uint64_t> sequences;
  std::vector<std::string> dropped;
  bool playlist_readable_in_callback = true;
  void on_segment(const std::string& id, const std::string& rendition,
                  const SegmentPtr& segment) override {
    EXPECT_EQ(rendition, "source");
    sequences.push_back(segment->sequence);
    // The store lock is released: reading back must not deadlock and must see the segment.
    if (store && !store->segment(id, rendition, segment->sequence)) {
      playlist_readable_in_callback = false;
    }
  }
  void on_stream_dropped(const std::string& id) override { dropped.push_back(id); }
};

TEST(HlsStore, NumbersFromEpochMillisAndEndsWithEndList) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  auto w = store.begin("abc");
  EXPECT_TRUE(store.has_stream("abc"));
  EXPECT_FALSE(store.media_playlist("abc", "source"));  // no segment yet
  EXPECT_FALSE(store.master_playlist("abc"));
  feed(*w, 0, 2400);
  w->end();
  // Cuts at 1000 and 2000; the last segment is 400 ms plus one AAC frame (1024/48000 s ~ 21 ms).
  EXPECT_EQ(*store.media_playlist("abc", "source"),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:1\n"
            "#EXT-X-MEDIA-SEQUENCE:1700000000000\n"
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z\n"
            "#EXTINF:1.000,\n"
            "1700000000000.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:21.000Z\n"
            "#EXTINF:1.000,\n"
            "1700000000001.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:22.000Z\n"
            "#EXTINF:0.421,\n"
            "1700000000002.ts\n"
            "#EXT-X-ENDLIST\n");
  // Every segment opens with SDT, PAT and PMT so that it decodes on its own.
  for (std::uint64_t seq = kEpochMs; seq < kEpochMs + 3; ++seq) {
    auto seg = store.segment("abc", "source", seq);
    ASSERT_TRUE(seg);
    const auto& ts = *seg->data;
    ASSERT_GE(ts.size(), 188u * 4);
    EXPECT_EQ(ts.size() % 188, 0u);
    const auto pid = [&](std::size_t packet) {
      EXPECT_EQ(ts[packet * 188], 0x47);  // sync byte
      return ((ts[packet * 188 + 1] & 0x1f) << 8) | ts[packet * 188 + 2];
    };
    EXPECT_EQ(pid(0), 0x0011);  // SDT
    EXPECT_EQ(pid(1), 0x0000);  // PAT
    EXPECT_EQ(pid(2), 0x1000);  // PMT (libavformat's default PID)
  }
}

TEST(HlsStore, MasterAudioOnly) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  auto w = store.begin("abc");
  feed(*w, 0, 1000);  // the frame at 1000 cuts the first segment
  auto master = store.master_playlist("abc");
  ASSERT_TRUE(master);
  EXPECT_EQ(master->rfind("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
                          "#EXT-X-STREAM-INF:BANDWIDTH=",
                          0),
            0u);
  EXPECT_NE(master->find(",CODECS=\"mp4a.40.2\"\nsource/index.m3u8\n"), std::string::npos);
  EXPECT_EQ(master->find("RESOLUTION"), std::string::npos);
  EXPECT_EQ(master->find("FRAME-RATE"), std::string::npos);
  // Peak bandwidth of the one 1 s segment is its size in bits.
  const auto bytes = store.segment("abc", "source", 1700000000000)->data->size();
  EXPECT_NE(master->find("BANDWIDTH=" + std::to_string(bytes * 8) +
                         ",AVERAGE-BANDWIDTH=" + std::to_string(bytes * 8) + ","),
            std::string::npos);
}

TEST(HlsStore, UnknownLookupsAreEmpty) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  auto w = store.begin("abc");
  feed(*w, 0, 1500);
  EXPECT_FALSE(store.media_playlist("abc", "720p"));
  EXPECT_FALSE(store.media_playlist("nope", "source"));
  EXPECT_FALSE(store.master_playlist("nope"));
  EXPECT_FALSE(store.segment("abc", "source", 1700000000001));
  EXPECT_FALSE(store.segment("abc", "720p", 1700000000000));
  EXPECT_FALSE(store.has_stream("nope"));
}

TEST(HlsStore, KeepsWindowPlusThreeSegments) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());  // window 3
  auto w = store.begin("abc");
  feed(*w, 0, 8000);  // segments 0..7 finished
  EXPECT_FALSE(store.segment("abc", "source", kEpochMs + 0));
  EXPECT_FALSE(store.segment("abc", "source", kEpochMs + 1));
  for (int i = 2; i <= 7; ++i)
    EXPECT_TRUE(store.segment("abc", "source", kEpochMs + i)) << i;
  auto playlist = *store.media_playlist("abc", "source");
  EXPECT_NE(playlist.find("#EXT-X-MEDIA-SEQUENCE:1700000000005\n"), std::string::npos);
}

TEST(HlsStore, GraceExpiryDropsStreamAndNotifies) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  RecordingListener listener;
  store.add_listener(&listener);
  auto w = store.begin("abc");
  feed(*w, 0, 1500);
  w->end();
  clock.now += seconds(119);
  store.sweep();
  EXPECT_TRUE(store.has_stream("abc"));
  EXPECT_TRUE(store.media_playlist("abc", "source"));
  clock.now += seconds(1);
  store.sweep();
  EXPECT_FALSE(store.has_stream("abc"));
  EXPECT_FALSE(store.media_playlist("abc", "source"));
  EXPECT_EQ(listener.dropped, std::vector<std::string>{"abc"});
}

TEST(HlsStore, LiveStreamsAreNotSwept) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  auto w = store.begin("abc");
  feed(*w, 0, 1500);
  clock.now += std::chrono::hours(24);
  store.sweep();
  EXPECT_TRUE(store.has_stream("abc"));
}

TEST(HlsStore, RepublishWithinGraceContinuesWithDiscontinuity) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  auto w1 = store.begin("abc");
  feed(*w1, 0, 1500);  // one full segment (0) and, at end, a 0.521 s one (1)
  w1->end();
  clock.now += seconds(10);
  auto w2 = store.begin("abc");
  // ENDLIST goes away as soon as the publisher is back.
  EXPECT_EQ(store.media_playlist("abc", "source")->find("#EXT-X-ENDLIST"), std::string::npos);
  feed(*w2, 0, 1000);  // timestamps restart at 0 in the new session
  EXPECT_EQ(*store.media_playlist("abc", "source"),
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:1\n"
            "#EXT-X-MEDIA-SEQUENCE:1700000000000\n"
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z\n"
            "#EXTINF:1.000,\n"
            "1700000000000.ts\n"
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:21.000Z\n"
            "#EXTINF:0.521,\n"
            "1700000000001.ts\n"
            "#EXT-X-DISCONTINUITY\n"
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:30.000Z\n"
            "#EXTINF:1.000,\n"
            "1700000000002.ts\n");
  // Grace no longer applies while live again.
  clock.now += seconds(1000);
  store.sweep();
  EXPECT_TRUE(store.has_stream("abc"));
}

TEST(HlsStore, RepublishAfterGraceStartsFreshFromEpochMillis) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  auto w1 = store.begin("abc");
  feed(*w1, 0, 1500);
  w1->end();
  clock.now += seconds(121);  // expired, not yet swept
  auto w2 = store.begin("abc");
  feed(*w2, 0, 1000);
  const auto playlist = *store.media_playlist("abc", "source");
  EXPECT_NE(playlist.find("#EXT-X-MEDIA-SEQUENCE:1700000121000\n"), std::string::npos);
  EXPECT_EQ(playlist.find("#EXT-X-DISCONTINUITY"), std::string::npos);
  EXPECT_FALSE(store.segment("abc", "source", kEpochMs));
}

TEST(HlsStore, FreshNumbersNeverGoBelowRememberedLast) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  auto w1 = store.begin("abc");
  feed(*w1, 0, 5000);  // 1700000000000..1700000000005
  w1->end();
  clock.now += seconds(120);
  store.sweep();
  ASSERT_FALSE(store.has_stream("abc"));
  clock.now = TimePoint{milliseconds(kEpochMs + 2)};  // wall clock stepped back
  auto w2 = store.begin("abc");
  feed(*w2, 0, 1000);
  EXPECT_TRUE(store.segment("abc", "source", kEpochMs + 6));
}

TEST(HlsStore, EndListWaitsForTheDelaySoAReconnectContinues) {
  FakeClock clock;
  HlsConfig config = test_config();
  config.endlist_delay = seconds(5);
  HlsStore store(config, clock.fn());
  auto w1 = store.begin("abc");
  feed(*w1, 0, 1500);
  w1->end();
  clock.now += seconds(4);
  store.sweep();
  EXPECT_EQ(store.media_playlist("abc", "source")->find("#EXT-X-ENDLIST"), std::string::npos);
  clock.now += seconds(1);
  store.sweep();
  EXPECT_NE(store.media_playlist("abc", "source")->find("#EXT-X-ENDLIST"), std::string::npos);

  // A publisher back within the delay never shows players an ENDLIST.
  auto w2 = store.begin("xyz");
  feed(*w2, 0, 1500);
  w2->end();
  clock.now += seconds(2);
  auto w3 = store.begin("xyz");
  clock.now += seconds(10);
  store.sweep();
  EXPECT_EQ(store.media_playlist("xyz", "source")->find("#EXT-X-ENDLIST"), std::string::npos);
}

TEST(HlsStore, AStreamMovedFromAnotherServerContinuesItsNumbering) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  std::vector<std::string> asked;
  store.set_continuation_source([&](const std::string& id) -> std::optional<Continuation> {
    asked.push_back(id);
    return Continuation{42, 3};
  });
  auto w = store.begin("abc");
  feed(*w, 0, 1000);
  EXPECT_EQ(asked, std::vector<std::string>{"abc"});
  const auto playlist = *store.media_playlist("abc", "source");
  EXPECT_NE(playlist.find("#EXT-X-MEDIA-SEQUENCE:42\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n"
                          "#EXT-X-DISCONTINUITY\n"),
            std::string::npos)
      << playlist;
  auto seg = store.segment("abc", "source", 42);
  ASSERT_TRUE(seg);
  EXPECT_EQ(seg->discontinuities, 4u);
  EXPECT_TRUE(seg->discontinuity);
  // A republish here continues locally; the source is asked only for streams not held here.
  w->end();
  ASSERT_TRUE(store.segment("abc", "source", 43));
  EXPECT_EQ(store.segment("abc", "source", 43)->discontinuities, 4u);
  auto w2 = store.begin("abc");
  EXPECT_EQ(asked.size(), 1u);
}

TEST(HlsStore, TakeoverIgnoresTheStaleWriter) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  RecordingListener listener;
  store.add_listener(&listener);
  auto w1 = store.begin("abc");
  feed(*w1, 0, 1500);  // segment 0 finished, 1 in progress
  clock.now += seconds(2);
  auto w2 = store.begin("abc");  // same key publishes again while w1 is still connected
  feed(*w1, 1600, 4000);         // stale: must not add segments
  w1->end();                     // stale: must not end the new session
  w1.reset();
  feed(*w2, 0, 1000);
  const auto playlist = *store.media_playlist("abc", "source");
  EXPECT_EQ(playlist,
            "#EXTM3U\n"
            "#EXT-X-VERSION:3\n"
            "#EXT-X-TARGETDURATION:1\n"
            "#EXT-X-MEDIA-SEQUENCE:1700000000000\n"
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z\n"
            "#EXTINF:1.000,\n"
            "1700000000000.ts\n"
            "#EXT-X-DISCONTINUITY\n"
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:22.000Z\n"
            "#EXTINF:1.000,\n"
            "1700000000001.ts\n");
  EXPECT_EQ(listener.sequences, (std::vector<std::uint64_t>{kEpochMs, kEpochMs + 1}));
  clock.now += seconds(1000);
  store.sweep();
  EXPECT_TRUE(store.has_stream("abc"));  // still live: w2 has not ended
  w2->end();
  EXPECT_NE(store.media_playlist("abc", "source")->find("#EXT-X-ENDLIST"), std::string::npos);
}

TEST(HlsStore, ListenerRunsWithoutTheLock) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  RecordingListener listener;
  listener.store = &store;
  store.add_listener(&listener);
  auto w = store.begin("abc");
  feed(*w, 0, 2000);
  EXPECT_EQ(listener.sequences, (std::vector<std::uint64_t>{kEpochMs, kEpochMs + 1}));
  EXPECT_TRUE(listener.playlist_readable_in_callback);
}

TEST(HlsStore, WriterDestroyedWithoutEndStillEnds) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  {
    auto w = store.begin("abc");
    feed(*w, 0, 1500);
  }
  EXPECT_NE(store.media_playlist("abc", "source")->find("#EXT-X-ENDLIST"), std::string::npos);
  clock.now += seconds(120);
  store.sweep();
  EXPECT_FALSE(store.has_stream("abc"));
}

TEST(HlsStore, WriterOutlivingTheStoreIsHarmless) {
  FakeClock clock;
  std::unique_ptr<media::RenditionOutput> w;
  {
    HlsStore store(test_config(), clock.fn());
    w = store.begin("abc");
    feed(*w, 0, 500);
  }
  EXPECT_TRUE(w->on_packet(share(aac_packet(false, 1600))));
  w->end();
}

TEST(HlsStore, MalformedConfigIsAPerPacketError) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  auto w = store.begin("abc");
  media::Packet bad = aac_packet(true, 0);
  bad.body = std::make_shared<media::Bytes>(media::Bytes{0xAF, 0x00});  // empty ASC
  EXPECT_FALSE(w->on_packet(share(bad)));
  media::Packet video;
  video.kind = media::TrackKind::kVideo;
  video.codec = media::Codec::kH264;
  video.config = true;
  video.payload_offset = 5;
  video.body = std::make_shared<media::Bytes>(media::Bytes{0x17, 0x00, 0, 0, 0, 0x01, 0x64});
  EXPECT_FALSE(w->on_packet(share(video)));  // truncated AVCDecoderConfigurationRecord
  feed(*w, 0, 1000);                         // still usable
  EXPECT_TRUE(store.media_playlist("abc", "source"));
}

TEST(HlsStore, RenditionsOfASessionShareNumbersAndTheMasterWaitsForAll) {
  FakeClock clock;
  HlsStore store(test_config(), clock.fn());
  auto session = store.begin_session("abc");
  media::RenditionOutput& low = session->rendition({"low", 0});
  media::RenditionOutput& high = session->rendition({"high", 5'000'000});
  feed(low, 0, 2000);
  EXPECT_FALSE(store.master_playlist("abc")) << "high has no segment yet";
  feed(high, 0, 2000);
  auto master = store.master_playlist("abc");
  ASSERT_TRUE(master);
  // Ascending bandwidth; high's declared cap is its floor.
  EXPECT_LT(master->find("low/index.m3u8"), master->find("high/index.m3u8"));
  EXPECT_NE(master->find("BANDWIDTH=5000000,"), std::string::npos);
  for (const char* r : {"low", "high"}) {
    EXPECT_TRUE(store.segment("abc", r, kEpochMs));
    EXPECT_TRUE(store.segment("abc", r, kEpochMs + 1));
    EXPECT_FALSE(store.segment("abc", r, kEpochMs + 2));
  }
  // A rendition opened later starts where the others are, so numbers stay aligned.
  media::RenditionOutput& late = session->rendition({"late", 0});
  EXPECT_FALSE(store.master_playlist("abc")->find("late") != std::string::npos);
  feed(late, 2000, 3000);
  EXPECT_TRUE(store.segment("abc", "late", kEpochMs + 2));
  EXPECT_NE(store.master_playlist("abc")->find("late/index.m3u8"), std::string::npos);

  // Closing one rendition ends its playlist and takes it out of the master.
  session->close_rendition("high");
  EXPECT_NE(store.media_playlist("abc", "high")->find("#EXT-X-ENDLIST"), std::string::npos);
  EXPECT_EQ(store.master_playlist("abc")->find("high/"), std::string::npos);
  EXPECT_EQ(store.media_playlist("abc", "low")->find("#EXT-X-ENDLIST"), std::string::npos);
  session->end();
  EXPECT_NE(store.media_playlist("abc", "low")->find("#EXT-X-ENDLIST"), std::string::npos);

  // A republish continues every rendition from the highest number reached.
  auto again = store.begin_session("abc");
  media::RenditionOutput& low2 = again->rendition({"low", 0});
  feed(low2, 0, 1000);
  // low ended at +2 and late at +3 (end() flushes the partial segments), so +4.
  EXPECT_TRUE(store.segment("abc", "low", kEpochMs + 4));
  EXPECT_NE(store.media_playlist("abc", "low")->find("#EXT-X-DISCONTINUITY"), std::string::npos);
  EXPECT_EQ(store.master_playlist("abc")->find("late/"), std::string::npos);
}

}  // namespace
}  // namespace sluice::package
