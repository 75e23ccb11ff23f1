// End to end through real codecs: the ffmpeg CLI makes an H.264/AAC FLV, a tiny FLV reader
// turns its tags into media::Packets, HlsStore segments them, and ffprobe checks the output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "package/hls_store.h"

namespace sluice::package {
namespace {

namespace fs = std::filesystem;

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
    out.append(buf, n);
  pclose(pipe);
  return out;
}

std::uint32_t be24(const std::uint8_t* p) {
  return (p[0] << 16) | (p[1] << 8) | p[2];
}

// FLV file -> packets the way ingest builds them: body = the tag body, payload after the
// 5-byte AVC or 2-byte AAC tag header.
std::vector<media::Packet> read_flv(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const media::Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<media::Packet> packets;
  std::size_t pos = 9 + 4;  // FLV header, PreviousTagSize0
  while (pos + 11 <= file.size()) {
    const std::uint8_t* tag = &file[pos];
    const std::uint8_t type = tag[0];
    const std::uint32_t size = be24(tag + 1);
    const std::int64_t ts = be24(tag + 4) | (static_cast<std::uint32_t>(tag[7]) << 24);
    if (pos + 11 + size > file.size()) break;
    media::Bytes body(tag + 11, tag + 11 + size);
    pos += 11 + size + 4;
    media::Packet p;
    p.dts_ms = ts;
    if (type == 9 && size >= 5 && (body[0] & 0x0f) == 7) {  // AVC
      if (body[1] > 1) continue;                            // end of sequence
      p.kind = media::TrackKind::kVideo;
      p.codec = media::Codec::kH264;
      p.keyframe = (body[0] >> 4) == 1;
      p.config = body[1] == 0;
      std::int32_t cts = static_cast<std::int32_t>(be24(&body[2]));
      if (cts & 0x800000) cts -= 0x1000000;
      p.cts_ms = cts;
      p.payload_offset = 5;
    } else if (type == 8 && size >= 2 && (body[0] >> 4) == 10) {  // AAC
      p.kind = media::TrackKind::kAudio;
      p.codec = media::Codec::kAac;
      p.config = body[1] == 0;
      p.payload_offset = 2;
    } else {
      continue;  // script data
    }
    p.body = std::make_shared<const media::Bytes>(std::move(body));
    packets.push_back(std::move(p));
  }
  return packets;
}

struct Collector : SegmentListener {
  std::vector<SegmentPtr> segments;
  void on_segment(const std::string&, const std::string&, const SegmentPtr& s) override {
    segments.push_back(s);
  }
  void on_stream_dropped(const std::string&) override {}
};

class HlsIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("sluice_package_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const auto flv = dir_ / "in.flv";
    const std::string cmd =
        "ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=30 "
        "-f lavfi -i sine=frequency=440:sample_rate=48000 -t 13 -c:v libx264 -preset ultrafast "
        "-g 60 -c:a aac -f flv " +
        flv.string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    packets_ = read_flv(flv);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static fs::path write_segment(const Segment& s) {
    const auto path = dir_ / (std::to_string(s.sequence) + ".ts");
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(s.data->data()),
               static_cast<std::streamsize>(s.data->size()));
    return path;
  }

  static inline fs::path dir_;
  static inline std::vector<media::Packet> packets_;
};

TEST_F(HlsIntegration, SegmentsAreValidTsCutOnKeyframes) {
  ASSERT_GT(packets_.size(), 500u);
  HlsConfig config;
  config.target_duration_s = 4;
  HlsStore store(config);
  Collector collector;
  store.add_listener(&collector);
  auto writer = store.begin("it");
  for (const auto& p : packets_)
    ASSERT_TRUE(writer->on_packet(p)) << "dts " << p.dts_ms;
  writer->end();

  // Keyframes every 2 s and a 4 s target: 4, 4, 4 and the final 1 s.
  ASSERT_EQ(collector.segments.size(), 4u);
  double total = 0;
  fs::path concat = dir_ / "all.ts";
  std::ofstream all(concat, std::ios::binary);
  for (std::size_t i = 0; i < collector.segments.size(); ++i) {
    const auto& s = *collector.segments[i];
    SCOPED_TRACE("segment " + std::to_string(i));
    if (i > 0) {
      EXPECT_EQ(s.sequence, collector.segments[i - 1]->sequence + 1);
    }
    if (i + 1 < collector.segments.size()) {
      EXPECT_GE(s.duration_s, 2.0);
      EXPECT_LE(s.duration_s, 6.0);
    }
    EXPECT_FALSE(s.discontinuity);
    total += s.duration_s;
    all.write(reinterpret_cast<const char*>(s.data->data()),
              static_cast<std::streamsize>(s.data->size()));
    const auto path = write_segment(s);

    const auto streams =
        run("ffprobe -v error -show_entries stream=codec_name -of csv=p=0 " + path.string());
    EXPECT_NE(streams.find("h264"), std::string::npos) << streams;
    EXPECT_NE(streams.find("aac"), std::string::npos) << streams;
    // First video frame of every segment is a decodable keyframe.
    const auto first =
        run("ffprobe -v error -select_streams v -show_frames -read_intervals %+#1 "
            "-show_entries frame=key_frame,pict_type -of csv=p=0 " +
            path.string());
    EXPECT_EQ(first.substr(0, 3), "1,I") << first;
  }
  all.close();
  EXPECT_NEAR(total, 13.0, 0.1);
  // Nothing lost or duplicated across cuts: 13 s at 30 fps.
  const auto frames =
      run("ffprobe -v error -select_streams v -count_packets -show_entries stream=nb_read_packets "
          "-of csv=p=0 " +
          concat.string());
  EXPECT_EQ(std::stoi(frames), 390);

  const auto master = store.master_playlist("it");
  ASSERT_TRUE(master);
  EXPECT_NE(master->find(",RESOLUTION=640x360,CODECS=\"avc1."), std::string::npos) << *master;
  EXPECT_NE(master->find(",mp4a.40.2\",FRAME-RATE=30.000\nsource/index.m3u8\n"), std::string::npos)
      << *master;
  const auto playlist = *store.media_playlist("it", "source");
  EXPECT_NE(playlist.find("#EXT-X-TARGETDURATION:4\n"), std::string::npos) << playlist;
  EXPECT_NE(playlist.find("#EXT-X-ENDLIST\n"), std::string::npos) << playlist;
}

TEST_F(HlsIntegration, CodecChangeStartsDiscontinuity) {
  ASSERT_GT(packets_.size(), 500u);
  HlsConfig config;
  config.target_duration_s = 4;
  HlsStore store(config);
  Collector collector;
  store.add_listener(&collector);
  auto writer = store.begin("it");
  // Feed the first half, then a changed AVC sequence header (a different level byte), then
  // the second half: the change closes a segment and the next one is flagged.
  std::size_t half = packets_.size() / 2;
  const media::Packet* video_config = nullptr;
  for (std::size_t i = 0; i < half; ++i) {
    if (packets_[i].config && packets_[i].kind == media::TrackKind::kVideo) {
      video_config = &packets_[i];
    }
    ASSERT_TRUE(writer->on_packet(packets_[i]));
  }
  ASSERT_NE(video_config, nullptr);
  media::Packet changed = *video_config;
  auto body = *changed.body;
  body[5 + 3] ^= 0x01;  // AVCLevelIndication
  changed.body = std::make_shared<const media::Bytes>(std::move(body));
  changed.dts_ms = packets_[half].dts_ms;
  ASSERT_TRUE(writer->on_packet(changed));
  for (std::size_t i = half; i < packets_.size(); ++i)
    ASSERT_TRUE(writer->on_packet(packets_[i]));
  writer->end();

  int discontinuities = 0;
  for (const auto& s : collector.segments)
    discontinuities += s->discontinuity ? 1 : 0;
  EXPECT_EQ(discontinuities, 1);
  for (const auto& s : collector.segments) {
    const auto first =
        run("ffprobe -v error -select_streams v -show_frames -read_intervals %+#1 "
            "-show_entries frame=key_frame -of csv=p=0 " +
            write_segment(*s).string());
    EXPECT_EQ(first.substr(0, 1), "1") << s->sequence;
  }
  EXPECT_NE(store.media_playlist("it", "source")->find("#EXT-X-DISCONTINUITY\n"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::package
