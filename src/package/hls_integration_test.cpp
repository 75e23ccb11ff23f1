// End to end through real codecs: the ffmpeg CLI makes an H.264/AAC FLV, a tiny FLV reader
// turns its tags into media::Packets, HlsStore segments them, and ffprobe checks the output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "package/hls_store.h"

namespace sluice::package {
namespace {

media::PacketPtr share(media::Packet packet) {
  return std::make_shared<const media::Packet>(std::move(packet));
}

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

  // A store that has segmented a whole packet list. The collector is declared first so that
  // it outlives the store it listens to.
  struct Segmented {
    std::unique_ptr<Collector> collector = std::make_unique<Collector>();
    std::unique_ptr<HlsStore> store;
  };
  static HlsConfig test_config(HlsFormat format = HlsFormat::kMpegTs) {
    HlsConfig config;
    config.format = format;
    config.target_duration_s = 4;
    config.endlist_delay = std::chrono::milliseconds(0);
    return config;
  }
  static Segmented segment_all(const std::vector<media::Packet>& packets,
                               const HlsConfig& config = test_config()) {
    Segmented out;
    out.store = std::make_unique<HlsStore>(config);
    out.store->add_listener(out.collector.get());
    auto writer = out.store->begin("it");
    for (const auto& p : packets)
      EXPECT_TRUE(writer->on_packet(share(p))) << "dts " << p.dts_ms;
    writer->end();
    return out;
  }

  // Writes `parts` back to back into a new file at `path`.
  static fs::path write_file(
      const fs::path& path,
      std::initializer_list<std::reference_wrapper<const media::Bytes>> parts) {
    std::ofstream out(path, std::ios::binary);
    for (const media::Bytes& bytes : parts)
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  static std::string probe(const fs::path& path, const std::string& what) {
    return run("ffprobe -v error " + what + " -of csv=p=0 " + path.string());
  }

  static inline fs::path dir_;
  static inline std::vector<media::Packet> packets_;
};

// MPEG-TS carries H.264 only: an HEVC configuration mid-stream is refused, and the HEVC frames
// after it are not written into the H.264 segments, which stay decodable.
TEST_F(HlsIntegration, ACodecTheContainerCannotCarryIsRefusedNotMixedIn) {
  HlsStore store(test_config());
  Collector collector;
  store.add_listener(&collector);
  auto writer = store.begin("it");
  std::size_t refused = 0;
  for (std::size_t i = 0; i < packets_.size(); ++i) {
    if (i == packets_.size() / 2) {
      media::Packet hevc;
      hevc.kind = media::TrackKind::kVideo;
      hevc.codec = media::Codec::kHevc;
      hevc.config = true;
      hevc.dts_ms = packets_[i].dts_ms;
      hevc.body = std::make_shared<const media::Bytes>(media::Bytes{1, 1, 0x60});
      refused += writer->on_packet(share(hevc)) ? 0 : 1;
      // Frames labelled HEVC whose bytes would pass for H.264: written, they would show.
      const auto& frame = *std::find_if(
          packets_.begin() + static_cast<long>(i), packets_.end(),
          [](const media::Packet& p) { return p.kind == media::TrackKind::kVideo && !p.config; });
      for (int n = 0; n < 30; ++n) {
        hevc.config = false;
        hevc.keyframe = n == 0;
        hevc.body = frame.body;
        hevc.payload_offset = frame.payload_offset;
        EXPECT_TRUE(writer->on_packet(share(hevc)));
      }
    }
    ASSERT_TRUE(writer->on_packet(share(packets_[i]))) << "dts " << packets_[i].dts_ms;
  }
  writer->end();
  EXPECT_EQ(refused, 1u);
  ASSERT_FALSE(collector.segments.empty());
  std::size_t h264_frames = 0, written = 0;
  for (const auto& p : packets_)
    h264_frames += p.kind == media::TrackKind::kVideo && !p.config ? 1 : 0;
  for (const auto& segment : collector.segments) {
    const auto path = write_segment(*segment);
    EXPECT_NE(probe(path, "-show_entries stream=codec_name").find("h264"), std::string::npos);
    EXPECT_EQ(run("ffmpeg -v error -i " + path.string() + " -f null - 2>&1"), "");
    written += std::stoul(
        probe(path, "-count_packets -select_streams v -show_entries stream=nb_read_packets"));
  }
  EXPECT_EQ(written, h264_frames);  // every H.264 frame, and nothing else
}

TEST_F(HlsIntegration, SegmentsAreValidTsCutOnKeyframes) {
  ASSERT_GT(packets_.size(), 500u);
  HlsConfig config;
  config.target_duration_s = 4;
  config.endlist_delay = std::chrono::milliseconds(0);
  HlsStore store(config);
  Collector collector;
  store.add_listener(&collector);
  auto writer = store.begin("it");
  for (const auto& p : packets_)
    ASSERT_TRUE(writer->on_packet(share(p))) << "dts " << p.dts_ms;
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
  config.endlist_delay = std::chrono::milliseconds(0);
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
    ASSERT_TRUE(writer->on_packet(share(packets_[i])));
  }
  ASSERT_NE(video_config, nullptr);
  media::Packet changed = *video_config;
  auto body = *changed.body;
  body[5 + 3] ^= 0x01;  // AVCLevelIndication
  changed.body = std::make_shared<const media::Bytes>(std::move(body));
  changed.dts_ms = packets_[half].dts_ms;
  ASSERT_TRUE(writer->on_packet(share(changed)));
  for (std::size_t i = half; i < packets_.size(); ++i)
    ASSERT_TRUE(writer->on_packet(share(packets_[i])));
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

// Some encoders send the audio sequence header and audio frames before the video sequence
// header. The stream must still start with one segment holding both tracks, not an audio-only
// sliver followed by a discontinuity.
TEST_F(HlsIntegration, AudioBeforeVideoConfigStillStartsWithBothTracks) {
  std::vector<media::Packet> reordered;
  const auto early_audio = [](const media::Packet& p) {
    return p.kind == media::TrackKind::kAudio && p.dts_ms < 1000;
  };
  for (const auto& p : packets_)
    if (early_audio(p)) reordered.push_back(p);
  for (const auto& p : packets_)
    if (!early_audio(p)) reordered.push_back(p);
  ASSERT_EQ(reordered.size(), packets_.size());

  const auto run = segment_all(reordered);
  const auto& segments = run.collector->segments;
  ASSERT_EQ(segments.size(), 4u);
  for (const auto& s : segments) {
    EXPECT_FALSE(s->discontinuity) << s->sequence;
    const auto streams = probe(write_segment(*s), "-show_entries stream=codec_name");
    EXPECT_NE(streams.find("h264"), std::string::npos) << s->sequence << ": " << streams;
    EXPECT_NE(streams.find("aac"), std::string::npos) << s->sequence << ": " << streams;
  }
  EXPECT_NE(run.store->master_playlist("it")->find("RESOLUTION=640x360"), std::string::npos);
}

// The opposite order: a keyframe before the audio sequence header. The start waits for the
// next keyframe so that the first segment carries audio too.
TEST_F(HlsIntegration, LateAudioConfigRestartsAtTheNextKeyframe) {
  std::vector<media::Packet> reordered;
  const auto early_video = [](const media::Packet& p) {
    return p.kind == media::TrackKind::kVideo && p.dts_ms < 1000;
  };
  for (const auto& p : packets_)
    if (early_video(p)) reordered.push_back(p);
  for (const auto& p : packets_)
    if (!early_video(p)) reordered.push_back(p);

  const auto run = segment_all(reordered);
  const auto& segments = run.collector->segments;
  ASSERT_FALSE(segments.empty());
  for (const auto& s : segments) {
    EXPECT_FALSE(s->discontinuity) << s->sequence;
    const auto path = write_segment(*s);
    const auto streams = probe(path, "-show_entries stream=codec_name");
    EXPECT_NE(streams.find("aac"), std::string::npos) << s->sequence << ": " << streams;
    const auto first = probe(path,
                             "-select_streams v -show_frames -read_intervals %+#1 "
                             "-show_entries frame=key_frame");
    EXPECT_EQ(first.substr(0, 1), "1") << s->sequence;
  }
  // The keyframe at 0 had no audio config yet; output starts at the one at 2 s.
  double total = 0;
  for (const auto& s : segments)
    total += s->duration_s;
  EXPECT_NEAR(total, 11.0, 0.1);
}

// fMP4: every segment is a fragment of one init segment, and init + segments decode.
TEST_F(HlsIntegration, Fmp4SegmentsDecodeAfterTheirInitSegment) {
  const auto segmented = segment_all(packets_, test_config(HlsFormat::kFmp4));
  const Collector& collector = *segmented.collector;
  const HlsStore& store = *segmented.store;
  ASSERT_EQ(collector.segments.size(), 4u);
  const auto& first = *collector.segments.front();
  ASSERT_TRUE(first.init);
  EXPECT_EQ(first.init_id, first.sequence);
  const auto init = store.init_segment("it", "source", first.init_id);
  ASSERT_TRUE(init);
  EXPECT_EQ(*init, *first.init);
  const fs::path all = dir_ / "all.mp4";
  std::ofstream out(all, std::ios::binary);
  out.write(reinterpret_cast<const char*>(init->data()),
            static_cast<std::streamsize>(init->size()));
  for (const auto& s : collector.segments) {
    EXPECT_EQ(s->init, first.init);  // one muxer: one init segment
    const fs::path one =
        write_file(dir_ / (std::to_string(s->sequence) + ".mp4"), {*init, *s->data});
    const auto streams = probe(one, "-show_entries stream=codec_name");
    EXPECT_NE(streams.find("h264"), std::string::npos) << streams;
    EXPECT_NE(streams.find("aac"), std::string::npos) << streams;
    const auto key = probe(one,
                           "-select_streams v -show_frames -read_intervals %+#1 "
                           "-show_entries frame=key_frame");
    EXPECT_EQ(key.substr(0, 1), "1") << s->sequence;
    out.write(reinterpret_cast<const char*>(s->data->data()),
              static_cast<std::streamsize>(s->data->size()));
  }
  out.close();
  const auto frames = probe(all,
                            "-select_streams v -count_frames -show_entries "
                            "stream=nb_read_frames");
  EXPECT_EQ(std::stoi(frames), 390);
  const auto errors = run("ffmpeg -nostdin -v error -i " + all.string() + " -f null - 2>&1");
  EXPECT_EQ(errors, "");
  const auto playlist = *store.media_playlist("it", "source");
  EXPECT_NE(playlist.find("#EXT-X-MAP:URI=\"init" + std::to_string(first.init_id) + ".mp4\"\n"),
            std::string::npos)
      << playlist;
  EXPECT_NE(playlist.find(std::to_string(first.sequence) + ".m4s\n"), std::string::npos);
}

// Low-latency: parts no longer than the part target, independent where a keyframe starts
// them, that make up each segment byte for byte and second for second, and a preload hint
// that always names the next part.
TEST_F(HlsIntegration, LowLatencyPartsMakeUpTheSegments) {
  HlsConfig config = test_config(HlsFormat::kLowLatency);
  config.part_target_s = 0.334;
  HlsStore store(config);
  Collector collector;
  store.add_listener(&collector);
  std::optional<std::uint64_t> first_part;
  std::uint64_t last_part = 0;
  int updates = 0;
  int hints = 0;
  store.set_update_listener([&](const std::string& id, const std::string& rendition) {
    ++updates;
    if (rendition.empty()) return;
    const auto answer = store.media_playlist(id, rendition, PlaylistRequest{});
    ASSERT_EQ(answer.state, Availability::kReady);
    const auto& text = answer.text;
    // The last part listed, and the hint.
    const auto part_line = text.rfind("#EXT-X-PART:");
    const auto part_at =
        part_line == std::string::npos ? part_line : text.find("URI=\"part", part_line);
    const auto hint_at = text.find("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part");
    if (part_at == std::string::npos) return;
    const std::uint64_t number = std::stoull(text.substr(part_at + 9));
    if (!first_part) first_part = number;
    last_part = std::max(last_part, number);
    if (hint_at != std::string::npos && hint_at > part_at) {
      ++hints;
      EXPECT_EQ(std::stoull(text.substr(hint_at + 39)), number + 1) << text;
      EXPECT_EQ(store.part(id, rendition, number + 1).state, Availability::kWait);
      EXPECT_EQ(store.part(id, rendition, number + 2).state, Availability::kNotFound);
    }
  });
  auto writer = store.begin("it");
  for (const auto& p : packets_)
    ASSERT_TRUE(writer->on_packet(share(p))) << "dts " << p.dts_ms;
  writer->end();
  ASSERT_TRUE(first_part);
  EXPECT_GT(hints, 30);

  ASSERT_EQ(collector.segments.size(), 4u);
  std::map<std::uint64_t, std::vector<PartPtr>> by_segment;
  for (std::uint64_t n = *first_part; n <= last_part; ++n) {
    const auto answer = store.part("it", "source", n);
    ASSERT_EQ(answer.state, Availability::kReady) << n;
    EXPECT_LE(answer.part->duration_s, config.part_target_s) << n;
    by_segment[answer.part->sequence].push_back(answer.part);
  }
  ASSERT_EQ(by_segment.size(), 4u);
  for (const auto& s : collector.segments) {
    SCOPED_TRACE("segment " + std::to_string(s->sequence));
    const auto& parts = by_segment[s->sequence];
    ASSERT_FALSE(parts.empty());
    EXPECT_TRUE(parts.front()->independent);
    media::Bytes joined;
    double seconds = 0;
    for (const auto& part : parts) {
      joined.insert(joined.end(), part->data->begin(), part->data->end());
      seconds += part->duration_s;
    }
    EXPECT_EQ(joined, *s->data);
    EXPECT_NEAR(seconds, s->duration_s, 0.0005);
  }
  // A lone independent part decodes after the init segment.
  const auto& part = by_segment.begin()->second.front();
  const fs::path one =
      write_file(dir_ / "part.mp4", {*collector.segments.front()->init, *part->data});
  const auto frames = probe(one,
                            "-select_streams v -count_frames -show_entries "
                            "stream=nb_read_frames");
  // Every frame the part lasts, at 30 fps (9 or 10: the segmenter leaves room for jitter).
  EXPECT_EQ(std::stoi(frames), std::lround(part->duration_s * 30));
  EXPECT_GE(std::stoi(frames), 9);
  const auto playlist = *store.media_playlist("it", "source");
  EXPECT_NE(playlist.find("#EXT-X-PART-INF:PART-TARGET=0.334\n"), std::string::npos);
  EXPECT_EQ(playlist.find("PRELOAD-HINT"), std::string::npos);  // ended
}

TEST_F(HlsIntegration, StatusGivesThePartTargetAndHowLateTheNewestPartCame) {
  HlsConfig config = test_config(HlsFormat::kLowLatency);
  config.part_target_s = 0.334;
  const auto start = std::chrono::system_clock::now();
  auto now = start;
  HlsStore store(config, [&] { return now; });
  auto writer = store.begin("it");
  for (const auto& p : packets_) {
    // Each packet reaches the packager 200 ms after it arrived (say, through a transcoder).
    now = start + std::chrono::milliseconds(p.dts_ms + 200);
    ASSERT_TRUE(writer->on_packet(share(p))) << "dts " << p.dts_ms;
  }
  const auto status = store.rendition_status("it");
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].name, "source");
  EXPECT_EQ(status[0].part_target_s, 0.334);
  // A part is published when the packet after it arrives: its duration plus the 200 ms.
  ASSERT_TRUE(status[0].part_delay_s);
  EXPECT_GE(*status[0].part_delay_s, 0.2 + 0.033);
  EXPECT_LE(*status[0].part_delay_s, 0.2 + 0.334 + 0.04);
  writer->end();

  HlsStore plain(test_config());
  auto plain_writer = plain.begin("it");
  for (const auto& p : packets_)
    ASSERT_TRUE(plain_writer->on_packet(share(p)));
  const auto no_parts = plain.rendition_status("it");
  ASSERT_EQ(no_parts.size(), 1u);
  EXPECT_EQ(no_parts[0].part_target_s, 0);
  EXPECT_FALSE(no_parts[0].part_delay_s);
}

// Publisher bytes are untrusted: damaged frames, wrong keyframe flags and timestamp jumps
// must give per-packet errors at worst, never a crash (SLUICE_SANITIZE=ON checks memory too).
TEST_F(HlsIntegration, DamagedPacketsNeverCrash) {
  for (std::uint32_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    const auto chance = [&rng](int percent) {
      return std::uniform_int_distribution<int>(0, 99)(rng) < percent;
    };
    HlsConfig config;
    config.target_duration_s = 2;
    config.max_segment_bytes = 200 * 1024;
    HlsStore store(config);
    auto writer = store.begin("it");
    std::int64_t shift = 0;
    int errors = 0;
    for (const auto& original : packets_) {
      media::Packet p = original;
      if (chance(5)) {
        auto body = *p.body;
        const auto n = 1 + rng() % 8;
        for (std::uint32_t i = 0; i < n && !body.empty(); ++i)
          body[rng() % body.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
        if (chance(30)) body.resize(rng() % (body.size() + 1));
        p.body = std::make_shared<const media::Bytes>(std::move(body));
      }
      if (chance(3)) p.keyframe = !p.keyframe;
      if (chance(2)) p.cts_ms = static_cast<std::int32_t>(rng() % 20000) - 10000;
      if (chance(1)) shift += static_cast<std::int64_t>(rng() % 20000) - 10000;
      p.dts_ms += shift;
      if (!writer->on_packet(share(p))) ++errors;
    }
    writer->end();
    const auto playlist = store.media_playlist("it", "source");
    EXPECT_GT(errors, 0);  // the damage reached the parsers
    // Most of the stream is intact, so segments still come out.
    ASSERT_TRUE(playlist);
    EXPECT_EQ(playlist->rfind("#EXTM3U\n", 0), 0u);
  }
}

}  // namespace
}  // namespace sluice::package
