#include "proto/flv/flv.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::flv {
namespace {

TEST(Flv, AvcKeyframeWithCompositionTime) {
  const std::vector<std::uint8_t> body = {
      0x17,                          // frame type 1 (key), codec 7 (AVC)
      0x01,                          // AVC NALU
      0x00, 0x00, 0x42,              // composition time 66 ms
      0x00, 0x00, 0x00, 0x01, 0x65,  // payload
  };
  auto h = parse_video_tag(body);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->keyframe());
  EXPECT_EQ(h->codec_id, kAvc);
  EXPECT_EQ(h->avc_packet_type, 1);
  EXPECT_EQ(h->composition_time, 66);
  EXPECT_EQ(h->header_size, 5u);
}

TEST(Flv, NegativeCompositionTimeIsSignExtended) {
  const std::vector<std::uint8_t> body = {0x27, 0x01, 0xff, 0xff, 0xdf};  // -33
  auto h = parse_video_tag(body);
  ASSERT_TRUE(h);
  EXPECT_FALSE(h->keyframe());
  EXPECT_EQ(h->composition_time, -33);
}

TEST(Flv, SequenceHeaderAndErrors) {
  auto seq = parse_video_tag(std::vector<std::uint8_t>{0x17, 0x00, 0, 0, 0, 0x01});
  ASSERT_TRUE(seq);
  EXPECT_EQ(seq->avc_packet_type, 0);
  EXPECT_FALSE(parse_video_tag({}));
  EXPECT_EQ(parse_video_tag(std::vector<std::uint8_t>{0x17, 0x01, 0}).error().code,
            Errc::kMalformed);
  EXPECT_EQ(parse_video_tag(std::vector<std::uint8_t>{0x90, 'h', 'v', 'c', '1'}).error().code,
            Errc::kUnsupported);
  // A non-AVC codec (e.g. VP6 = 4) has a 1-byte header.
  auto vp6 = parse_video_tag(std::vector<std::uint8_t>{0x14, 0xaa});
  ASSERT_TRUE(vp6);
  EXPECT_EQ(vp6->header_size, 1u);
}

TEST(Flv, AacAudio) {
  const std::vector<std::uint8_t> config = {
      0xaf,        // AAC, 44 kHz flag, 16-bit, stereo
      0x00,        // sequence header
      0x11, 0x90,  // AudioSpecificConfig
  };
  auto h = parse_audio_tag(config);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sound_format, kAac);
  EXPECT_EQ(h->aac_packet_type, 0);
  EXPECT_EQ(h->header_size, 2u);
  EXPECT_EQ(h->sound_rate, 3);
  EXPECT_EQ(h->sound_type, 1);
  EXPECT_FALSE(parse_audio_tag(std::vector<std::uint8_t>{0xaf}));
  EXPECT_FALSE(parse_audio_tag({}));
  auto mp3 = parse_audio_tag(std::vector<std::uint8_t>{0x2f, 0xff});
  ASSERT_TRUE(mp3);
  EXPECT_EQ(mp3->header_size, 1u);
}

TEST(Flv, VideoCommandFrameHasNoAvcHeader) {
  const std::vector<std::uint8_t> body = {
      0x57,  // frame type 5 (video info/command), codec 7 (AVC)
      0x00,  // command: start of client-side seek
  };
  auto h = parse_video_tag(body);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->frame_type, 5);
  EXPECT_EQ(h->header_size, 1u);
  EXPECT_EQ(h->avc_packet_type, 0);
}

TEST(Flv, EveryTruncationOfAnAvcTagIsMalformed) {
  const std::vector<std::uint8_t> body = {0x17, 0x01, 0x00, 0x00, 0x21};
  for (std::size_t n = 0; n < body.size(); ++n) {
    SCOPED_TRACE(n);
    auto h = parse_video_tag(std::span<const std::uint8_t>(body.data(), n));
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code, Errc::kMalformed);
  }
  auto full = parse_video_tag(body);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->header_size, body.size());  // a header with an empty payload is valid
}

TEST(Flv, EnhancedRtmpIsUnsupportedWhateverFollows) {
  // IsExHeader set: frame type 1, PacketTypeSequenceStart, FourCC "hvc1".
  const std::vector<std::uint8_t> hevc = {0x90, 'h', 'v', 'c', '1', 0x01};
  auto h = parse_video_tag(hevc);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, Errc::kUnsupported);
  EXPECT_FALSE(parse_video_tag(std::vector<std::uint8_t>{0x80}));
}

TEST(Flv, AudioFieldsOfNonAacFormats) {
  // 0x2e: MP3 (2), 44 kHz (3), 16-bit (1), mono (0).
  auto mp3 = parse_audio_tag(std::vector<std::uint8_t>{0x2e});
  ASSERT_TRUE(mp3);
  EXPECT_EQ(mp3->sound_format, 2);
  EXPECT_EQ(mp3->sound_rate, 3);
  EXPECT_EQ(mp3->sound_size, 1);
  EXPECT_EQ(mp3->sound_type, 0);
  EXPECT_EQ(mp3->header_size, 1u);
  // AAC raw frame.
  auto raw = parse_audio_tag(std::vector<std::uint8_t>{0xaf, 0x01, 0x21, 0x10});
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->aac_packet_type, 1);
  EXPECT_EQ(raw->header_size, 2u);
}

}  // namespace
}  // namespace sluice::flv
