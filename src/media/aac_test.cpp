#include "media/aac.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::media {
namespace {

TEST(Aac, ParsesCommonConfigs) {
  // 00010 (AAC-LC) 0100 (44100) 0010 (stereo) 000
  auto c = parse_aac_config(std::vector<std::uint8_t>{0x12, 0x10});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->object_type, 2);
  EXPECT_EQ(c->sample_rate, 44100u);
  EXPECT_EQ(c->channels, 2);
  EXPECT_EQ(aac_codec_string(*c), "mp4a.40.2");

  // 00010 (AAC-LC) 0011 (48000) 0010 (stereo)
  c = parse_aac_config(std::vector<std::uint8_t>{0x11, 0x90});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->sample_rate, 48000u);
}

TEST(Aac, ExplicitRateAndEscapedObjectType) {
  // 00010 1111 <24-bit 0x00ac44 = 44100> 0001 -> bits: 00010111 1 0000000 01010110 00100010 001...
  std::vector<std::uint8_t> asc = {0x17, 0x80, 0x56, 0x22, 0x08};
  auto c = parse_aac_config(asc);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->sample_rate, 44100u);
  EXPECT_EQ(c->channels, 1);
  // 11111 000001 (type 33) 0011 (48000) 0001 -> 11111000 00100110 001xxxxx
  c = parse_aac_config(std::vector<std::uint8_t>{0xf8, 0x26, 0x20});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->object_type, 33);
}

TEST(Aac, RejectsBadInput) {
  EXPECT_FALSE(parse_aac_config({}));
  EXPECT_FALSE(parse_aac_config(std::vector<std::uint8_t>{0x12}));        // truncated
  EXPECT_FALSE(parse_aac_config(std::vector<std::uint8_t>{0x16, 0x90}));  // index 13 reserved
  EXPECT_FALSE(parse_aac_config(std::vector<std::uint8_t>{0x00, 0x00}));  // object type 0
}

TEST(Aac, HeAacReportsTheSignalledObjectType) {
  // Explicit hierarchical HE-AAC: 00101 (SBR) 0110 (24000 core) 0010 (stereo) 0011 (48000
  // extension) 00010 (AAC-LC core).
  auto c = parse_aac_config(std::vector<std::uint8_t>{0x2b, 0x11, 0x88, 0x00});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->object_type, 5);
  EXPECT_EQ(c->sample_rate, 24000u);
  EXPECT_EQ(c->channels, 2);
  EXPECT_EQ(aac_codec_string(*c), "mp4a.40.5");
}

TEST(Aac, EveryTruncationIsMalformed) {
  const std::vector<std::uint8_t> asc = {0x17, 0x80, 0x56, 0x22, 0x08};  // explicit rate
  for (std::size_t n = 0; n < asc.size(); ++n) {
    SCOPED_TRACE(n);
    auto c = parse_aac_config(std::span<const std::uint8_t>(asc.data(), n));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, Errc::kMalformed);
  }
  // Escape code cut inside its 6 extra bits.
  EXPECT_FALSE(parse_aac_config(std::vector<std::uint8_t>{0xf8}));
  // Explicit rate of 0.
  EXPECT_FALSE(parse_aac_config(std::vector<std::uint8_t>{0x17, 0x80, 0x00, 0x00, 0x08}));
}

TEST(Aac, AdtsHeaderForLcStereo) {
  // AAC-LC 44100 Hz stereo, 371-byte frame: 378 bytes with the header.
  const auto c = parse_aac_config(std::vector<std::uint8_t>{0x12, 0x10});
  ASSERT_TRUE(c);
  const auto header = adts_header(*c, 371);
  ASSERT_TRUE(header);
  // fff 0 00 1 | 01 0100 0 0 | 10 0 0 0 0 (378 = 0b0000101111010) ... 11111 111111 00
  const std::array<std::uint8_t, 7> expected = {0xff, 0xf1, 0x50, 0x80, 0x2f, 0x5f, 0xfc};
  EXPECT_EQ(*header, expected);
}

TEST(Aac, AdtsHeaderLimits) {
  // 48000 Hz (index 3), 7.1 (configuration 7), the largest frame ADTS can measure.
  AacConfig c{2, 48000, 7, 3};
  auto header = adts_header(c, 8184);
  ASSERT_TRUE(header);
  EXPECT_EQ((*header)[2], 0x4d);    // 01 0011 0 1
  EXPECT_EQ((*header)[3] >> 6, 3);  // low bits of configuration 7
  EXPECT_EQ(((*header)[3] & 3) << 11 | (*header)[4] << 3 | (*header)[5] >> 5, 8191);
  EXPECT_FALSE(adts_header(c, 8185));                 // length field is 13 bits
  EXPECT_FALSE(adts_header({5, 24000, 2, 6}, 100));   // explicit HE-AAC
  EXPECT_FALSE(adts_header({2, 44100, 0, 4}, 100));   // channels in a PCE
  EXPECT_FALSE(adts_header({2, 44100, 2, 15}, 100));  // explicit rate
  // The parser fills in the index.
  const auto explicit_rate =
      parse_aac_config(std::vector<std::uint8_t>{0x17, 0x80, 0x56, 0x22, 0x08});
  ASSERT_TRUE(explicit_rate);
  EXPECT_EQ(explicit_rate->frequency_index, 15);
  EXPECT_FALSE(adts_header(*explicit_rate, 100));
}

}  // namespace
}  // namespace sluice::media
