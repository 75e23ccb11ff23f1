#include "proto/flv/flv_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "proto/flv/enhanced.h"

namespace sluice::flv {
namespace {

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The Enhanced RTMP project's own AV1 + Opus clip: every tag reads, and every audio and video
// body parses as Enhanced RTMP.
TEST(FlvFile, ReadsTheSpecLabsAv1OpusClip) {
  const auto file = read_file(std::string(SLUICE_EFLV_FIXTURES) + "/testsrc.flv");
  ASSERT_GT(file.size(), 100000u);
  auto tags = read_flv_file(file);
  ASSERT_TRUE(tags) << tags.error().message;
  std::map<std::uint8_t, int> by_type;
  std::uint32_t last_video_ts = 0;
  int video_keyframes = 0;
  for (const auto& tag : *tags) {
    ++by_type[tag.type];
    if (tag.type == 9) {
      auto m = parse_ex_video(tag.body);
      ASSERT_TRUE(m) << m.error().message;
      ASSERT_EQ(m->tracks.size(), 1u);
      EXPECT_EQ(m->tracks[0].fourcc, kFourCcAv1);
      if (m->packet_type == VideoPacketType::kCodedFrames && m->keyframe()) ++video_keyframes;
      EXPECT_GE(tag.timestamp_ms, last_video_ts);
      last_video_ts = tag.timestamp_ms;
    } else if (tag.type == 8) {
      auto m = parse_ex_audio(tag.body);
      ASSERT_TRUE(m) << m.error().message;
      EXPECT_EQ(m->tracks[0].fourcc, kFourCcOpus);
    }
  }
  EXPECT_EQ(by_type[18], 1);
  EXPECT_GT(by_type[9], 200);  // ~10 s of video
  EXPECT_GT(by_type[8], 400);  // 20 ms Opus packets
  EXPECT_GE(video_keyframes, 1);
  EXPECT_GT(last_video_ts, 9000u);
}

TEST(FlvFile, StopsAtACutTagAndRefusesWhatIsNotFlv) {
  const auto file = read_file(std::string(SLUICE_EFLV_FIXTURES) + "/testsrc.flv");
  auto whole = read_flv_file(file);
  ASSERT_TRUE(whole);
  auto cut = read_flv_file(std::span(file).first(file.size() - 10));
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->size(), whole->size() - 1);
  EXPECT_FALSE(read_flv_file(std::vector<std::uint8_t>{'F', 'L', 'X', 1, 5, 0, 0, 0, 9}));
  EXPECT_FALSE(read_flv_file(std::vector<std::uint8_t>{'F', 'L', 'V', 1, 5, 0, 0, 0, 200}));
  auto empty = read_flv_file(std::vector<std::uint8_t>{'F', 'L', 'V', 1, 5, 0, 0, 0, 9});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace sluice::flv
