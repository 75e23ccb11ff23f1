#include "media/h264.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::media {
namespace {

Bytes from_hex(const std::string& hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Real parameter sets from x264 (ffmpeg -f lavfi -i testsrc2=size=WxH -c:v libx264 -profile:v P).
const Bytes kSps720High = from_hex("6764001facd9405005bb0110000003001000000303c0f1831960");
const Bytes kSps360Baseline = from_hex("6742c01ed900a02ff970110000030001000003003c0f162e48");
const Bytes kSps1080High = from_hex("67640028acd940780227e5c044000003000400000300f03c60c658");
const Bytes kSps1080Main = from_hex("674d4028eca03c0113f2e022000003000200000300781e30632c");
const Bytes kSps1080High10 = from_hex("676e0028a6cd940780227e5c0440000003004000000f03c60c6580");
// x264 interlaced=1: frame_mbs_only_flag 0, 34 map units of field pairs.
const Bytes kSps1080Interlaced = from_hex("67640028acd94078044fde0220000003002000000783e2c5b2c0");
// 1278x718 (odd sizes need cropping in the chroma format's units): 4:2:2 and 4:4:4.
const Bytes kSps1278x718Yuv422 = from_hex("677a001fbcd9405005beaf0110000003001000000303c0f1831960");
const Bytes kSps1278x718Yuv444 = from_hex("67f4001f919b280a00b7dde022000003000200000300781e30632c");

// The video sequence header ffmpeg writes to FLV for 1280x720 High (FLV tag header removed):
// an AVCDecoderConfigurationRecord.
const Bytes kAvcC720 = cat({
    {0x01},              // configurationVersion
    {0x64, 0x00, 0x1f},  // profile 100 (High), compatibility 0, level 3.1
    {0xff},              // reserved 111111, lengthSizeMinusOne 3
    {0xe1},              // reserved 111, 1 SPS
    {0x00, 0x19},        // SPS length 25
    from_hex("6764001face4014016ec0440000003004000000f03c60c4480"),
    {0x01},        // 1 PPS
    {0x00, 0x06},  // PPS length 6
    from_hex("68ebe3cb22c0"),
    {0xfd, 0xf8, 0xf8, 0x00},  // High profile: chroma_format 1, bit depths 8, 0 SPS ext
});

TEST(H264, ParsesFfmpegAvcConfig) {
  auto c = parse_avc_config(kAvcC720);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->profile, 100);
  EXPECT_EQ(c->compatibility, 0);
  EXPECT_EQ(c->level, 31);
  EXPECT_EQ(c->nal_length_size, 4);
  ASSERT_EQ(c->sps.size(), 1u);
  ASSERT_EQ(c->pps.size(), 1u);
  EXPECT_EQ(c->sps[0].size(), 25u);
  EXPECT_EQ(c->pps[0], from_hex("68ebe3cb22c0"));
  EXPECT_EQ(avc_codec_string(*c), "avc1.64001f");
  auto sps = parse_sps(c->sps[0]);
  ASSERT_TRUE(sps) << sps.error().message;
  EXPECT_EQ(sps->width, 1280);
  EXPECT_EQ(sps->height, 720);
}

TEST(H264, AvcConfigWithoutTrailingFieldsAndTwoByteLengths) {
  const Bytes record = cat({
      {0x01, 0x42, 0xc0, 0x1e},  // version 1, Baseline, constraints c0, level 3.0
      {0xfd},                    // lengthSizeMinusOne 1 -> 2-byte lengths
      {0xe1, 0x00, 0x19},
      kSps360Baseline,
      {0x02, 0x00, 0x01, 0x68, 0x00, 0x02, 0x68, 0xcb},  // 2 PPS
  });
  auto c = parse_avc_config(record);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->nal_length_size, 2);
  EXPECT_EQ(c->pps.size(), 2u);
  EXPECT_EQ(avc_codec_string(*c), "avc1.42c01e");
}

TEST(H264, AvcConfigErrors) {
  const auto code = [](const Bytes& b) {
    auto r = parse_avc_config(b);
    EXPECT_FALSE(r);
    return r ? Errc::kRejected : r.error().code;
  };
  // Every truncation of the real record is malformed, except those that end after the PPS.
  for (std::size_t n = 0; n < kAvcC720.size() - 4; ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(code(Bytes(kAvcC720.begin(), kAvcC720.begin() + static_cast<std::ptrdiff_t>(n))),
              Errc::kMalformed);
  }
  Bytes bad = kAvcC720;
  bad[0] = 0;  // configurationVersion
  EXPECT_EQ(code(bad), Errc::kMalformed);
  bad = kAvcC720;
  bad[4] = 0xfe;  // lengthSizeMinusOne 2 (reserved)
  EXPECT_EQ(code(bad), Errc::kMalformed);
  bad = kAvcC720;
  bad[5] = 0xe0;  // no SPS
  EXPECT_EQ(code(bad), Errc::kMalformed);
  bad = kAvcC720;
  bad[5] = 0xff;  // 31 SPS claimed
  EXPECT_EQ(code(bad), Errc::kMalformed);
  bad = kAvcC720;
  bad[6] = 0xff;  // SPS length 0xff19
  EXPECT_EQ(code(bad), Errc::kMalformed);
  bad = kAvcC720;
  bad[8] = 0x68;  // the SPS entry holds a PPS
  EXPECT_EQ(code(bad), Errc::kMalformed);
  bad = kAvcC720;
  bad[6] = bad[7] = 0;  // zero-length SPS
  EXPECT_EQ(code(bad), Errc::kMalformed);
}

TEST(H264, SpsOfRealStreams) {
  struct Case {
    const char* name;
    const Bytes& sps;
    int profile, level, width, height;
  };
  const Case cases[] = {
      {"720p High", kSps720High, 100, 31, 1280, 720},
      {"360p Baseline (368 coded rows)", kSps360Baseline, 66, 30, 640, 360},
      {"1080p High (1088 coded rows)", kSps1080High, 100, 40, 1920, 1080},
      {"1080p Main", kSps1080Main, 77, 40, 1920, 1080},
      {"1080p High 10", kSps1080High10, 110, 40, 1920, 1080},
      {"1080i High, field pairs", kSps1080Interlaced, 100, 40, 1920, 1080},
      {"4:2:2 crop units 2x1", kSps1278x718Yuv422, 122, 31, 1278, 718},
      {"4:4:4 crop units 1x1", kSps1278x718Yuv444, 244, 31, 1278, 718},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto info = parse_sps(c.sps);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info->profile_idc, c.profile);
    EXPECT_EQ(info->level_idc, c.level);
    EXPECT_EQ(info->width, c.width);
    EXPECT_EQ(info->height, c.height);
  }
}

// Synthetic SPS (checked with ffmpeg's trace_headers bitstream filter): High profile,
// seq_scaling_matrix_present_flag 1 with lists 0 (16 deltas), 2 (delta -8 at once: default
// matrix), 6 and 7 (64 deltas, -127..127), then 1920x1088 cropped by 4 units to 1080.
const Bytes kSpsScalingLists = from_hex(
    "67640028ad854e2026514116307c70d41016844407f80b5035821054074017c03dc056818c320c80f803"
    "1807780a502d8441d0084019c039c04e814c4810804600d601be0254097025009401bc035c046810c401"
    "4804e00e6019e02141d8400b4029007700c703e8330c018805600f6017e0750560800d402d007f00b78a"
    "142850a142850a142850a142850a142850a142850a142850a142850a142850a142850a142850a142850a"
    "142850a142850a142850a142856ca03c0113f2a0");

TEST(H264, SpsScalingListsAreSkipped) {
  auto info = parse_sps(kSpsScalingLists);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->width, 1920);
  EXPECT_EQ(info->height, 1080);
}

// Synthetic Baseline SPS with pic_order_cnt_type 1 whose offset_for_ref_frame -1048576 makes
// the RBSP hold 00 00 01 before the picture size, so the NAL carries 00 00 03 01.
const Bytes kSpsEmulationPrevention = {
    0x67, 0x42, 0xc0, 0x1e, 0xd0, 0xe0, 0x07, 0xd0, 0x21, 0x00, 0x00,
    0x03,  // emulation prevention byte
    0x01, 0x00, 0x00, 0x08, 0xa4, 0x05, 0x01, 0x7f, 0xca, 0x80, 0x80,
};

TEST(H264, SpsEmulationPreventionIsRemoved) {
  auto info = parse_sps(kSpsEmulationPrevention);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->profile_idc, 66);
  EXPECT_EQ(info->width, 640);
  EXPECT_EQ(info->height, 360);
}

TEST(H264, SpsErrors) {
  EXPECT_FALSE(parse_sps({}));
  EXPECT_FALSE(parse_sps(from_hex("68ebe3cb22c0")));  // a PPS
  // Every truncation before the cropping fields is malformed (VUI is not read).
  for (std::size_t n = 0; n < 10; ++n) {
    SCOPED_TRACE(n);
    auto r = parse_sps(Bytes(kSps1080High.begin(), kSps1080High.begin() + static_cast<long>(n)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kMalformed);
  }
  for (std::size_t n = 0; n < 100; ++n) {
    Bytes cut(kSpsScalingLists.begin(), kSpsScalingLists.begin() + static_cast<long>(n));
    EXPECT_FALSE(parse_sps(cut));
  }
  // An Exp-Golomb code of 32+ leading zeros.
  EXPECT_FALSE(parse_sps(Bytes{0x67, 0x42, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80}));
  // Cropping that removes the whole picture: Baseline, 1x1 MB, crop right 8 units (16 px).
  // bits: sps_id 1, frame_num 1, poc type 2 011, refs 1, gaps 0, w 1, h 1, frame_mbs 1,
  // direct_8x8 1, cropping 1, left 1, right 0001001, top 1, bottom 1, vui 0, stop 1.
  EXPECT_FALSE(parse_sps(Bytes{0x67, 0x42, 0x00, 0x1e, 0xdd, 0xf8, 0x9d}));
  // The same with right crop 7 units leaves 2x16.
  auto two = parse_sps(Bytes{0x67, 0x42, 0x00, 0x1e, 0xdd, 0xf8, 0x8d});
  ASSERT_TRUE(two) << two.error().message;
  EXPECT_EQ(two->width, 2);
  EXPECT_EQ(two->height, 16);
}

TEST(H264, SpsHugeDimensionsAreRefused) {
  // Baseline, as above without cropping, pic_width_in_mbs_minus1 = 2^20: beyond any level.
  auto r = parse_sps(Bytes{0x67, 0x42, 0x00, 0x1e, 0xdc, 0x00, 0x00, 0x10, 0x00, 0x01, 0xff, 0x40});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kMalformed);
  // 1024 MBs (16384 px) is the cap; 1025 is refused.
  auto max = parse_sps(Bytes{0x67, 0x42, 0x00, 0x1e, 0xdc, 0x00, 0x40, 0x0f, 0xf4});
  ASSERT_TRUE(max) << max.error().message;
  EXPECT_EQ(max->width, 16384);
  EXPECT_FALSE(parse_sps(Bytes{0x67, 0x42, 0x00, 0x1e, 0xdc, 0x00, 0x40, 0x1f, 0xf4}));
}

AvcConfig config720() {
  return parse_avc_config(kAvcC720).value();
}

const Bytes kStart = {0x00, 0x00, 0x00, 0x01};
const Bytes kAud = {0x00, 0x00, 0x00, 0x01, 0x09, 0xf0};  // with its start code

TEST(H264, AvccToAnnexBStartsWithAudAndInsertsParameterSetsOnKeyframes) {
  const AvcConfig config = config720();
  const Bytes au = {
      0x00, 0x00, 0x00, 0x03, 0x06, 0x05, 0x01,  // SEI, 3 bytes
      0x00, 0x00, 0x00, 0x02, 0x65, 0x88,        // IDR slice, 2 bytes
  };
  Bytes out = {0xaa};  // appended to, never cleared
  ASSERT_TRUE(avcc_to_annexb(au, 4, &config, out));
  EXPECT_EQ(out, cat({{0xaa},
                      kAud,
                      kStart,
                      config.sps[0],
                      kStart,
                      config.pps[0],
                      kStart,
                      {0x06, 0x05, 0x01},
                      kStart,
                      {0x65, 0x88}}));

  // Without config (inter frames) the NAL units are converted as they are.
  out.clear();
  ASSERT_TRUE(avcc_to_annexb(au, 4, nullptr, out));
  EXPECT_EQ(out, cat({kAud, kStart, {0x06, 0x05, 0x01}, kStart, {0x65, 0x88}}));
}

TEST(H264, AvccToAnnexBKeepsInBandParameterSets) {
  const AvcConfig config = config720();
  const Bytes au = {
      0x00, 0x00, 0x00, 0x02, 0x67, 0x42,  // SPS already in the access unit
      0x00, 0x00, 0x00, 0x02, 0x68, 0xce,  // PPS
      0x00, 0x00, 0x00, 0x01, 0x65,        // IDR slice
  };
  Bytes out;
  ASSERT_TRUE(avcc_to_annexb(au, 4, &config, out));
  EXPECT_EQ(out, cat({kAud, kStart, {0x67, 0x42}, kStart, {0x68, 0xce}, kStart, {0x65}}));
}

TEST(H264, AvccToAnnexBPutsParameterSetsAfterAud) {
  const AvcConfig config = config720();
  const Bytes au = {
      0x00, 0x02, 0x09, 0xf0,  // AUD (2-byte length)
      0x00, 0x00,              // empty NAL unit: dropped
      0x00, 0x01, 0x65,        // IDR slice
  };
  Bytes out;
  ASSERT_TRUE(avcc_to_annexb(au, 2, &config, out));
  EXPECT_EQ(
      out,
      cat({kStart, {0x09, 0xf0}, kStart, config.sps[0], kStart, config.pps[0], kStart, {0x65}}));
}

TEST(H264, AvccToAnnexBLengthSizes) {
  Bytes out;
  ASSERT_TRUE(avcc_to_annexb(Bytes{0x01, 0x41, 0x02, 0x41, 0x9a}, 1, nullptr, out));
  EXPECT_EQ(out, cat({kAud, kStart, {0x41}, kStart, {0x41, 0x9a}}));
  out.clear();
  ASSERT_TRUE(avcc_to_annexb(Bytes{0x00, 0x00, 0x01, 0x41}, 3, nullptr, out));
  EXPECT_EQ(out, cat({kAud, kStart, {0x41}}));
  out.clear();
  ASSERT_TRUE(avcc_to_annexb(Bytes{}, 4, nullptr, out));  // nothing, not a lone delimiter
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(avcc_to_annexb(Bytes{0x00, 0x00}, 2, nullptr, out));  // only an empty NAL unit
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(avcc_to_annexb(Bytes{0x00}, 0, nullptr, out));
  EXPECT_FALSE(avcc_to_annexb(Bytes{0x00}, 5, nullptr, out));
}

TEST(H264, AvccToAnnexBErrorsLeaveOutputUntouched) {
  const AvcConfig config = config720();
  const Bytes au = {
      0x00, 0x00, 0x00, 0x01, 0x65,  // IDR slice
      0x00, 0x00, 0x00, 0x05, 0x41,  // claims 5 bytes, has 1
  };
  Bytes out = {0x01, 0x02};
  auto st = avcc_to_annexb(au, 4, &config, out);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kMalformed);
  EXPECT_EQ(out, (Bytes{0x01, 0x02}));
  // A length field cut short, and a huge length.
  EXPECT_FALSE(avcc_to_annexb(Bytes{0x00, 0x00, 0x00, 0x01, 0x65, 0x00, 0x00}, 4, &config, out));
  EXPECT_FALSE(avcc_to_annexb(Bytes{0xff, 0xff, 0xff, 0xff, 0x65}, 4, nullptr, out));
  EXPECT_EQ(out, (Bytes{0x01, 0x02}));
}

TEST(H264, SplitAnnexBHandlesThreeAndFourByteStartCodes) {
  const Bytes stream =
      cat({{0, 0, 0, 1, 0x09, 0xf0}, {0, 0, 1, 0x65, 0xaa, 0x00}, {0, 0, 0, 1, 0x41}});
  const auto nals = split_annexb(stream);
  ASSERT_EQ(nals.size(), 3u);
  EXPECT_EQ(Bytes(nals[0].begin(), nals[0].end()), (Bytes{0x09, 0xf0}));
  EXPECT_EQ(Bytes(nals[1].begin(), nals[1].end()), (Bytes{0x65, 0xaa}));  // trailing zero dropped
  EXPECT_EQ(Bytes(nals[2].begin(), nals[2].end()), (Bytes{0x41}));
  EXPECT_TRUE(split_annexb(Bytes{1, 2, 3}).empty());
  EXPECT_TRUE(split_annexb(Bytes{}).empty());
}

TEST(H264, AnnexBToAvccDropsParameterSetsAndDelimiters) {
  const Bytes pps{0x68, 0xeb, 0xe3, 0xcb};
  const Bytes stream = cat({{0, 0, 0, 1, 0x09, 0xf0},
                            {0, 0, 0, 1},
                            kSps720High,
                            {0, 0, 0, 1},
                            pps,
                            {0, 0, 1, 0x65, 0x88, 0x84}});
  Bytes out;
  annexb_to_avcc(stream, out);
  EXPECT_EQ(out, (Bytes{0, 0, 0, 3, 0x65, 0x88, 0x84}));
}

TEST(H264, AvcConfigFromAnnexBRoundTrips) {
  const Bytes pps{0x68, 0xeb, 0xe3, 0xcb};
  const Bytes headers = cat({{0, 0, 0, 1}, kSps720High, {0, 0, 0, 1}, pps});
  auto record = avc_config_from_annexb(headers);
  ASSERT_TRUE(record) << record.error().message;
  auto parsed = parse_avc_config(*record);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->profile, 0x64);
  EXPECT_EQ(parsed->level, 0x1f);
  EXPECT_EQ(parsed->nal_length_size, 4);
  ASSERT_EQ(parsed->sps.size(), 1u);
  EXPECT_EQ(parsed->sps[0], kSps720High);
  ASSERT_EQ(parsed->pps.size(), 1u);
  EXPECT_EQ(parsed->pps[0], pps);
  EXPECT_FALSE(avc_config_from_annexb(cat({{0, 0, 0, 1}, pps})));
}

}  // namespace
}  // namespace sluice::media
