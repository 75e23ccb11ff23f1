#include "store/recorder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "store/files.h"

namespace sluice::store {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("sluice-recorder-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

package::SegmentPtr segment(std::uint64_t sequence, std::uint64_t session,
                            std::size_t bytes = 188) {
  auto s = std::make_shared<package::Segment>();
  s->sequence = sequence;
  s->duration_s = 6;
  s->session = session;
  s->data = std::make_shared<const std::vector<std::uint8_t>>(bytes, std::uint8_t{0x47});
  return s;
}

RecorderConfig local(const fs::path& root) {
  RecorderConfig config;
  config.root = root;
  return config;
}

template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

std::string slurp(const fs::path& p) {
  auto bytes = read_file(p, 1 << 20);
  return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
}

TEST(Recorder, RecordsThePickedRenditionOfEachSession) {
  TempDir dir;
  Recorder recorder(local(dir.path()), [](const std::string&) { return "720p"; });
  recorder.on_segment("abc", "360p", segment(10, 1));
  recorder.on_segment("abc", "720p", segment(10, 1));
  recorder.on_segment("abc", "720p", segment(11, 1));
  recorder.on_session_ended("abc", 1);
  recorder.on_segment("abc", "720p", segment(13, 2));  // the next session: a new recording
  recorder.on_session_ended("abc", 2);
  ASSERT_TRUE(eventually([&] {
    return recorder.list().size() == 2 && recorder.list()[0].finished &&
           recorder.list()[1].finished;
  }));
  const auto list = recorder.list();
  std::size_t total = 0;
  for (const auto& r : list) {
    EXPECT_EQ(r.rendition, "720p");
    total += r.segments;
    const std::string text = slurp(dir.path() / playlist_name("abc", r.id));
    EXPECT_TRUE(text.ends_with("#EXT-X-ENDLIST\n")) << text;
  }
  EXPECT_EQ(total, 3u);
  EXPECT_TRUE(fs::exists(dir.path() / "abc/720p/10.ts"));
  EXPECT_FALSE(fs::exists(dir.path() / "abc/360p/10.ts"));
  EXPECT_TRUE(recorder.local_file("abc/720p/11.ts"));
  EXPECT_FALSE(recorder.local_file("abc/720p/12.ts"));
  EXPECT_FALSE(recorder.local_file("abc/../etc/passwd"));
  EXPECT_EQ(recorder.counters().segments_recorded, 3u);
}

TEST(Recorder, ARestartFinishesWhatWasLeftOpen) {
  TempDir dir;
  std::string id;
  {
    Recorder recorder(local(dir.path()), nullptr);
    recorder.on_segment("abc", "source", segment(1, 1));
    recorder.on_segment("abc", "source", segment(2, 1));
    ASSERT_TRUE(eventually([&] { return recorder.counters().segments_recorded == 2; }));
    id = recorder.list().at(0).id;
    EXPECT_FALSE(recorder.list().at(0).finished);
  }  // stopped while the session was live
  Recorder again(local(dir.path()), nullptr);
  ASSERT_EQ(again.list().size(), 1u);
  EXPECT_TRUE(again.list()[0].finished);
  EXPECT_EQ(again.list()[0].segments, 2u);
  EXPECT_TRUE(slurp(dir.path() / playlist_name("abc", id)).ends_with("#EXT-X-ENDLIST\n"));
}

TEST(Recorder, Fmp4RecordingsKeepTheirInitSegments) {
  TempDir dir;
  const auto init = [](std::uint8_t tag) {
    return std::make_shared<const std::vector<std::uint8_t>>(8, tag);
  };
  const auto fmp4 = [](package::SegmentPtr plain, media::SharedBytes init, std::uint64_t id) {
    auto s = std::make_shared<package::Segment>(*plain);
    s->init = std::move(init);
    s->init_id = id;
    return package::SegmentPtr(s);
  };
  const auto first = init(1);
  const auto second = init(2);  // a codec change
  std::string id;
  {
    Recorder recorder(local(dir.path()), nullptr);
    recorder.on_segment("abc", "source", fmp4(segment(5, 1), first, 5));
    recorder.on_segment("abc", "source", fmp4(segment(6, 1), first, 5));
    recorder.on_segment("abc", "source", fmp4(segment(7, 1), second, 7));
    ASSERT_TRUE(eventually([&] { return recorder.counters().segments_recorded == 3; }));
    id = recorder.list().at(0).id;
    EXPECT_EQ(slurp(dir.path() / "abc/source/init5.mp4"), std::string(8, '\1'));
    EXPECT_EQ(slurp(dir.path() / "abc/source/init7.mp4"), std::string(8, '\2'));
    EXPECT_TRUE(fs::exists(dir.path() / "abc/source/6.m4s"));
    EXPECT_TRUE(recorder.local_file("abc/source/6.m4s"));
    EXPECT_TRUE(recorder.local_file("abc/source/init7.mp4"));
    EXPECT_FALSE(recorder.local_file("abc/source/6.ts"));  // not what was recorded
    EXPECT_FALSE(recorder.local_file("abc/source/init6.mp4"));
    const std::string text = slurp(dir.path() / playlist_name("abc", id));
    EXPECT_NE(text.find("#EXT-X-MAP:URI=\"source/init5.mp4\"\n#EXTINF:6.000,\nsource/5.m4s\n"
                        "#EXTINF:6.000,\nsource/6.m4s\n#EXT-X-MAP:URI=\"source/init7.mp4\"\n"),
              std::string::npos)
        << text;
  }
  // A restart reads the maps back.
  Recorder again(local(dir.path()), nullptr);
  EXPECT_TRUE(again.local_file("abc/source/init5.mp4"));
  EXPECT_TRUE(again.local_file("abc/source/7.m4s"));
}

S3Target unreachable() {
  S3Target t;
  t.bucket = "rec";
  t.endpoint = "http://127.0.0.1:1";  // nothing listens: every upload fails fast
  t.connect_timeout = std::chrono::milliseconds(200);
  return t;
}

TEST(Recorder, SpoolsWhileS3IsDownAndKeepsItAcrossRestarts) {
  TempDir dir;
  RecorderConfig config{.root = dir.path(), .s3 = unreachable(), .spool_max_bytes = 1000};
  config.retry_min = std::chrono::milliseconds(20);
  {
    Recorder recorder(config, nullptr);
    recorder.on_segment("abc", "source", segment(1, 1, 400));
    recorder.on_segment("abc", "source", segment(2, 1, 400));
    recorder.on_segment("abc", "source", segment(3, 1, 400));  // over the spool limit: dropped
    recorder.on_segment("abc", "source", segment(4, 1, 100));
    recorder.on_session_ended("abc", 1);
    // The disk thread and the upload threads run apart: wait for both.
    ASSERT_TRUE(eventually([&] {
      const auto c = recorder.counters();
      return c.segments_recorded + c.segments_dropped == 4 && c.upload_failures >= 2;
    }));
    const auto c = recorder.counters();
    EXPECT_EQ(c.segments_recorded, 3u);
    EXPECT_EQ(c.segments_dropped, 1u);
    EXPECT_EQ(c.pending_uploads, 3u);
    EXPECT_EQ(c.spool_bytes, 900u);
    EXPECT_EQ(c.objects_uploaded, 0u);
  }
  Recorder again(config, nullptr);
  const auto c = again.counters();
  EXPECT_EQ(c.pending_uploads, 3u);
  EXPECT_EQ(c.spool_bytes, 900u);
  ASSERT_EQ(again.list().size(), 1u);
  EXPECT_EQ(again.list()[0].pending_uploads, 3u);
  EXPECT_FALSE(again.local_file("abc/source/1.ts"));  // a spool is not served
  const std::string text = slurp(dir.path() / playlist_name("abc", again.list()[0].id));
  EXPECT_NE(text.find("#EXT-X-DISCONTINUITY\n#EXTINF:6.000,\nsource/4.ts"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace sluice::store
