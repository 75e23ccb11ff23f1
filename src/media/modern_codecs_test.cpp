// HEVC, AV1, VP9 and Opus headers, from real encoders' output (libx265, SVT-AV1, libopus as
// Debian's ffmpeg writes them into MP4).
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "media/av1.h"
#include "media/hevc.h"
#include "media/opus.h"
#include "media/vp9.h"

namespace sluice::media {
namespace {

// libx265 3.5, 320x180 Main: the hvcC with its VPS, SPS and PPS arrays.
const std::vector<std::uint8_t> kX265Hvcc = {
    0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3c, 0xf0, 0x00, 0xfc,
    0xfd, 0xf8, 0xf8, 0x00, 0x00, 0x0f, 0x03, 0xa0, 0x00, 0x01, 0x00, 0x18, 0x40, 0x01, 0x0c, 0x01,
    0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00,
    0x3c, 0x95, 0x98, 0x09, 0xa1, 0x00, 0x01, 0x00, 0x2b, 0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00,
    0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0xa0, 0x0a, 0x08, 0x0b, 0x9f,
    0x79, 0x65, 0x66, 0x92, 0x4c, 0xaf, 0x01, 0x68, 0x08, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00, 0x00,
    0x03, 0x00, 0xf0, 0x40, 0xa2, 0x00, 0x01, 0x00, 0x07, 0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40};

// SVT-AV1 1.4, 320x180, main profile: the av1C with its sequence header OBU.
const std::vector<std::uint8_t> kSvtAv1c = {0x81, 0x00, 0x0c, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00,
                                            0x04, 0x3c, 0xfe, 0xcc, 0x02, 0xf8, 0x00, 0x40};

TEST(Hevc, ParsesX265ConfigRecord) {
  auto c = parse_hevc_config(kX265Hvcc);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->profile_idc, 1);
  EXPECT_FALSE(c->high_tier);
  EXPECT_EQ(c->level_idc, 60);
  EXPECT_EQ(c->nal_length_size, 4);
  ASSERT_EQ(c->vps.size(), 1u);
  ASSERT_EQ(c->sps.size(), 1u);
  ASSERT_EQ(c->pps.size(), 1u);
  // Main profile claims compatibility with Main and Main 10: flags 1 and 2 (0x60000000).
  EXPECT_EQ(hevc_codec_string(*c), "hvc1.1.6.L60.90");
  auto size = parse_hevc_sps_size(c->sps[0]);
  ASSERT_TRUE(size) << size.error().message;
  EXPECT_EQ(size->width, 320);
  EXPECT_EQ(size->height, 180);  // 192 coded, less the conformance window
}

// MPEG-TS carries HEVC in Annex B with its parameter sets in band: the hvcC built from them
// is byte for byte the one libx265's MP4 has, and frames lose the parameter sets.
TEST(Hevc, ConfigRecordAndFramesFromAnnexB) {
  auto c = parse_hevc_config(kX265Hvcc);
  ASSERT_TRUE(c);
  const Bytes slice = {0x26, 0x01, 0xaf, 0x10};
  Bytes annexb;
  for (const Bytes* nal :
       std::initializer_list<const Bytes*>{&c->vps[0], &c->sps[0], &c->pps[0], &slice}) {
    annexb.insert(annexb.end(), {0, 0, 0, 1});
    annexb.insert(annexb.end(), nal->begin(), nal->end());
  }
  auto record = hevc_config_from_annexb(annexb);
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_EQ(*record, kX265Hvcc);
  Bytes frame;
  annexb_to_hvcc(annexb, frame);
  EXPECT_EQ(frame, (Bytes{0, 0, 0, 4, 0x26, 0x01, 0xaf, 0x10}));
  // Without a PPS there is no record.
  const Bytes no_pps(annexb.begin(),
                     annexb.begin() + static_cast<long>(8 + c->vps[0].size() + c->sps[0].size()));
  EXPECT_FALSE(hevc_config_from_annexb(no_pps));
}

TEST(Hevc, CodecStringSpellsProfileSpaceTierAndConstraints) {
  HevcConfig c;
  c.profile_space = 1;
  c.high_tier = true;
  c.profile_idc = 2;
  c.compatibility_flags = 0x20000000;  // flag 2
  c.level_idc = 120;
  c.constraint_flags = {0xb0, 0, 0x01, 0, 0, 0};
  EXPECT_EQ(hevc_codec_string(c), "hvc1.A2.4.H120.B0.0.1");
}

TEST(Hevc, RefusesTruncatedRecordsAndParameterSets) {
  for (std::size_t n = 0; n < kX265Hvcc.size(); ++n) {
    std::vector<std::uint8_t> cut(kX265Hvcc.begin(), kX265Hvcc.begin() + n);
    EXPECT_FALSE(parse_hevc_config(cut)) << n;
  }
  auto c = parse_hevc_config(kX265Hvcc);
  ASSERT_TRUE(c);
  const auto& sps = c->sps[0];
  for (std::size_t n = 0; n < 20; ++n) {
    EXPECT_FALSE(parse_hevc_sps_size(std::span(sps).first(n))) << n;
  }
  EXPECT_FALSE(parse_hevc_sps_size(c->pps[0]));  // not an SPS
}

TEST(Av1, ParsesSvtConfigRecordAndSequenceHeader) {
  auto c = parse_av1_config(kSvtAv1c);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->profile, 0);
  EXPECT_EQ(c->level_idx, 0);
  EXPECT_EQ(c->bit_depth, 8);
  EXPECT_EQ(av1_codec_string(*c), "av01.0.00M.08");
  auto size = av1_sequence_size(c->config_obus);
  ASSERT_TRUE(size) << size.error().message;
  ASSERT_TRUE(*size);
  EXPECT_EQ((*size)->width, 320);
  EXPECT_EQ((*size)->height, 180);
}

TEST(Av1, CodecStringForHighTierTenBit) {
  Av1Config c;
  c.profile = 0;
  c.level_idx = 13;
  c.high_tier = true;
  c.bit_depth = 10;
  EXPECT_EQ(av1_codec_string(c), "av01.0.13H.10");
}

TEST(Av1, RefusesMalformedRecordsAndObus) {
  EXPECT_FALSE(parse_av1_config(std::vector<std::uint8_t>{0x81, 0, 0}));
  EXPECT_FALSE(parse_av1_config(std::vector<std::uint8_t>{0x01, 0, 0, 0}));
  for (std::size_t n = 1; n < kSvtAv1c.size() - 4; ++n) {
    std::vector<std::uint8_t> cut(kSvtAv1c.begin() + 4, kSvtAv1c.begin() + 4 + n);
    EXPECT_FALSE(av1_sequence_size(cut)) << n;
  }
  // No sequence header among the OBUs: no size, no error (a temporal delimiter only).
  auto none = av1_sequence_size(std::vector<std::uint8_t>{0x12, 0x00});
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  // A size field past the end.
  EXPECT_FALSE(av1_sequence_size(std::vector<std::uint8_t>{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}));
}

TEST(Vp9, ParsesRecordAndSpellsCodecString) {
  // profile 0, level 3.1, 8-bit 4:2:0 colocated, limited range, BT.709
  auto c = parse_vp9_config(std::vector<std::uint8_t>{0, 31, 0x82, 1, 1, 1, 0, 0});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->bit_depth, 8);
  EXPECT_EQ(c->chroma_subsampling, 1);
  EXPECT_EQ(vp9_codec_string(*c), "vp09.00.31.08");
  EXPECT_FALSE(parse_vp9_config(std::vector<std::uint8_t>{0, 31, 0x82, 1, 1, 1, 0}));
  EXPECT_FALSE(parse_vp9_config(std::vector<std::uint8_t>{0, 31, 0x92, 1, 1, 1, 0, 0}));
}

TEST(Opus, ParsesAndMakesIdentificationHeaders) {
  // libopus via ffmpeg, mono: pre-skip 312, 48 kHz input.
  const std::vector<std::uint8_t> head = {'O',  'p',  'u',  's',  'H', 'e', 'a', 'd', 1, 1,
                                          0x38, 0x01, 0x80, 0xbb, 0,   0,   0,   0,   0};
  auto h = parse_opus_head(head);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->channels, 1);
  EXPECT_EQ(h->pre_skip, 312);
  EXPECT_EQ(h->input_sample_rate, 48000u);
  auto made = parse_opus_head(make_opus_head(2));
  ASSERT_TRUE(made);
  EXPECT_EQ(made->channels, 2);
  EXPECT_FALSE(parse_opus_head(std::span(head).first(18)));
  auto bad = head;
  bad[9] = 6;  // six channels need a mapping table
  EXPECT_FALSE(parse_opus_head(bad));
}

TEST(Opus, PacketDurationFromTheTocByte) {
  EXPECT_EQ(opus_packet_samples(std::vector<std::uint8_t>{0xfc}), 960u);   // CELT 20 ms, 1 frame
  EXPECT_EQ(opus_packet_samples(std::vector<std::uint8_t>{0xfd}), 1920u);  // 2 frames
  EXPECT_EQ(opus_packet_samples(std::vector<std::uint8_t>{0x08}), 960u);   // SILK 20 ms
  // Three 60 ms frames: past the 120 ms a packet may last.
  EXPECT_FALSE(opus_packet_samples(std::vector<std::uint8_t>{0x1b, 0x03}));
  EXPECT_EQ(opus_packet_samples(std::vector<std::uint8_t>{0xe3, 0x03}), 360u);  // 3 x 2.5 ms
  EXPECT_FALSE(opus_packet_samples(std::vector<std::uint8_t>{}));
  EXPECT_FALSE(opus_packet_samples(std::vector<std::uint8_t>{0xe3}));
  EXPECT_FALSE(opus_packet_samples(std::vector<std::uint8_t>{0xe3, 0x00}));
}

}  // namespace
}  // namespace sluice::media
