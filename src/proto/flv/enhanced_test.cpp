#include "proto/flv/enhanced.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace sluice::flv {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Bytes from hex text (spaces ignored), kept for the whole test run: a parsed message points
// into its body.
const Bytes& hex(const std::string& text) {
  static std::deque<Bytes> kept;
  Bytes& out = kept.emplace_back();
  std::string digits;  // spaces only separate fields, for the reader
  for (const char c : text)
    if (c != ' ') digits += c;
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return out;
}

Bytes bytes_of(std::span<const std::uint8_t> s) {
  return Bytes(s.begin(), s.end());
}

// A canonical body comes back byte for byte from what was parsed out of it.
void expect_round_trip_video(const Bytes& body) {
  auto m = parse_ex_video(body);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(write_ex_video(*m), body);
}
void expect_round_trip_audio(const Bytes& body) {
  auto m = parse_ex_audio(body);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(write_ex_audio(*m), body);
}

// The first tags of testsrc.flv, an AV1 + Opus clip from the Enhanced RTMP project's own lab
// (../shared/fixtures/eflv), as that file has them.
TEST(EnhancedFlv, Av1AndOpusAsTheSpecsLabWritesThem) {
  const Bytes empty_start = hex("9061763031");
  auto start = parse_ex_video(empty_start);
  ASSERT_TRUE(start) << start.error().message;
  EXPECT_TRUE(start->keyframe());
  EXPECT_EQ(start->packet_type, VideoPacketType::kSequenceStart);
  ASSERT_EQ(start->tracks.size(), 1u);
  EXPECT_EQ(start->tracks[0].fourcc, kFourCcAv1);
  EXPECT_TRUE(start->tracks[0].payload.empty());

  const Bytes config = hex("9061763031812400000a0e20000024cfa70dbfff3404340080");
  auto av1c = parse_ex_video(config);
  ASSERT_TRUE(av1c);
  EXPECT_EQ(bytes_of(av1c->tracks[0].payload), Bytes(config.begin() + 5, config.end()));
  EXPECT_EQ(av1c->tracks[0].payload[0], 0x81);  // av1C marker and version

  // Metadata with frame type 5: colorInfo, not a command.
  const Bytes color = hex("d461763031020009636f6c6f72496e666f03");
  auto meta = parse_ex_video(color);
  ASSERT_TRUE(meta) << meta.error().message;
  EXPECT_EQ(meta->packet_type, VideoPacketType::kMetadata);
  EXPECT_FALSE(meta->command);
  EXPECT_EQ(meta->tracks[0].payload[0], 0x02);  // AMF0 string "colorInfo"

  // AV1 coded frames carry no composition time: the payload is the OBUs.
  auto key = parse_ex_video(hex("916176303112000a0e"));
  ASSERT_TRUE(key);
  EXPECT_TRUE(key->keyframe());
  EXPECT_EQ(key->tracks[0].composition_time, 0);
  EXPECT_EQ(bytes_of(key->tracks[0].payload), hex("12000a0e"));
  auto inter = parse_ex_video(hex("a16176303112003288"));
  ASSERT_TRUE(inter);
  EXPECT_EQ(inter->frame_type, 2);

  auto opus_head = parse_ex_audio(hex("904f7075734f707573486561640101380180bb0000000000"));
  ASSERT_TRUE(opus_head) << opus_head.error().message;
  EXPECT_EQ(opus_head->packet_type, AudioPacketType::kSequenceStart);
  EXPECT_EQ(opus_head->tracks[0].fourcc, kFourCcOpus);
  EXPECT_EQ(bytes_of(opus_head->tracks[0].payload.first(8)), hex("4f70757348656164"));  // OpusHead

  auto channels = parse_ex_audio(hex("944f707573010100000004"));
  ASSERT_TRUE(channels);
  EXPECT_EQ(channels->packet_type, AudioPacketType::kMultichannelConfig);
  auto config_of_channels = parse_multichannel_config(channels->tracks[0].payload);
  ASSERT_TRUE(config_of_channels);
  EXPECT_EQ(config_of_channels->channel_order, 1);  // native
  EXPECT_EQ(config_of_channels->channel_count, 1);
  EXPECT_EQ(config_of_channels->channel_flags, 0x4u);  // front centre

  for (const auto& body : {empty_start, config, color, hex("916176303112000a0e")})
    expect_round_trip_video(body);
  expect_round_trip_audio(hex("944f707573010100000004"));
}

// Vectors written from the spec's pseudocode, one per packet type and signal.
TEST(EnhancedFlv, HevcCompositionTimeOnlyInCodedFrames) {
  auto coded = parse_ex_video(hex("9168766331000021 0000000126"));
  ASSERT_TRUE(coded);
  EXPECT_EQ(coded->tracks[0].fourcc, kFourCcHevc);
  EXPECT_EQ(coded->tracks[0].composition_time, 33);
  EXPECT_EQ(bytes_of(coded->tracks[0].payload), hex("0000000126"));
  auto negative = parse_ex_video(hex("a168766331ffffdf01"));
  ASSERT_TRUE(negative);
  EXPECT_EQ(negative->tracks[0].composition_time, -33);
  auto x = parse_ex_video(hex("a3687663310000000126"));
  ASSERT_TRUE(x);
  EXPECT_EQ(x->packet_type, VideoPacketType::kCodedFramesX);
  EXPECT_EQ(x->tracks[0].composition_time, 0);
  EXPECT_EQ(bytes_of(x->tracks[0].payload), hex("0000000126"));
  auto end = parse_ex_video(hex("9268766331"));
  ASSERT_TRUE(end);
  EXPECT_EQ(end->packet_type, VideoPacketType::kSequenceEnd);
  auto ts_start = parse_ex_video(hex("95617630318001"));
  ASSERT_TRUE(ts_start);
  EXPECT_EQ(ts_start->packet_type, VideoPacketType::kMpeg2TsSequenceStart);
  for (const char* body : {"9168766331000021 0000000126", "a168766331ffffdf01",
                           "a3687663310000000126", "9268766331", "95617630318001"})
    expect_round_trip_video(hex(body));
  // What the spec defines only for other codecs.
  EXPECT_EQ(parse_ex_video(hex("a36176303112")).error().code, Errc::kUnsupported);
  EXPECT_EQ(parse_ex_video(hex("9568766331")).error().code, Errc::kUnsupported);
  EXPECT_EQ(parse_ex_video(hex("916876633100")).error().code, Errc::kMalformed);  // short CTS
}

TEST(EnhancedFlv, ModExTimestampOffsetNano) {
  // ModEx (7): 3 bytes of data (500 ns), then type 0 (TimestampOffsetNano), CodedFrames.
  const Bytes body = hex("97 02 0001f4 01 68766331 000000 65");
  auto m = parse_ex_video(body);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->timestamp_offset_ns, 500u);
  EXPECT_EQ(m->packet_type, VideoPacketType::kCodedFrames);
  EXPECT_EQ(bytes_of(m->tracks[0].payload), hex("65"));
  expect_round_trip_video(body);
  // The same size in the 16-bit form (0xFF escape), and an unknown ModEx type before it.
  auto wide = parse_ex_video(hex("97 ff0002 0001f4 07 00 aa 11 68766331 000000 65"));
  ASSERT_TRUE(wide) << wide.error().message;
  EXPECT_EQ(wide->timestamp_offset_ns, 500u);
  EXPECT_EQ(write_ex_video(*wide), body);
  auto audio = parse_ex_audio(hex("97 02 0003e8 01 4f707573 fc"));
  ASSERT_TRUE(audio);
  EXPECT_EQ(audio->timestamp_offset_ns, 1000u);
  expect_round_trip_audio(hex("97 02 0003e8 01 4f707573 fc"));
  // A millisecond or more is not an offset under a millisecond; short data is no offset.
  EXPECT_EQ(parse_ex_video(hex("97 02 0f4240 01 68766331 000000 65")).error().code,
            Errc::kMalformed);
  EXPECT_EQ(parse_ex_video(hex("97 01 0001 01 68766331 000000 65")).error().code, Errc::kMalformed);
  EXPECT_EQ(parse_ex_video(hex("97 02 000001 01")).error().code,
            Errc::kMalformed);  // no FourCC
}

TEST(EnhancedFlv, MultitrackLayouts) {
  // ManyTracks: one FourCC, then track ID, UI24 size (counting the CTS) and payload.
  const Bytes many = hex("96 11 68766331 00 000005 000000 aabb 01 000004 000021 cc");
  auto m = parse_ex_video(many);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->multitrack, MultitrackType::kManyTracks);
  ASSERT_EQ(m->tracks.size(), 2u);
  EXPECT_EQ(m->tracks[1].track_id, 1);
  EXPECT_EQ(m->tracks[1].composition_time, 33);
  EXPECT_EQ(bytes_of(m->tracks[0].payload), hex("aabb"));
  EXPECT_EQ(bytes_of(m->tracks[1].payload), hex("cc"));
  expect_round_trip_video(many);

  // ManyTracksManyCodecs audio: a FourCC per track, before its ID.
  const Bytes codecs = hex("95 21 4f707573 00 000002 aabb 6d703461 01 000001 cc");
  auto a = parse_ex_audio(codecs);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->multitrack, MultitrackType::kManyTracksManyCodecs);
  ASSERT_EQ(a->tracks.size(), 2u);
  EXPECT_EQ(a->tracks[0].fourcc, kFourCcOpus);
  EXPECT_EQ(a->tracks[1].fourcc, kFourCcAac);
  expect_round_trip_audio(codecs);

  // OneTrack: an ID and no size; the payload runs to the end.
  const Bytes one = hex("96 00 61763031 02 81240000");
  auto o = parse_ex_video(one);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->tracks[0].track_id, 2);
  EXPECT_EQ(bytes_of(o->tracks[0].payload), hex("81240000"));
  expect_round_trip_video(one);

  // ModEx before multitrack applies to the whole message.
  expect_round_trip_video(hex("97 02 000064 06 11 68766331 00 000004 000000 aa"));
}

TEST(EnhancedFlv, CommandFrameHasNoCodec) {
  auto seek = parse_ex_video(hex("d101"));  // frame type 5, CodedFrames, EndSeek
  ASSERT_TRUE(seek);
  EXPECT_EQ(seek->command, 1);
  EXPECT_TRUE(seek->tracks.empty());
  expect_round_trip_video(hex("d101"));
  EXPECT_FALSE(parse_ex_video(hex("d1")));
}

TEST(EnhancedFlv, RefusesWhatContradictsItself) {
  const auto code = [](const std::string& h) { return parse_ex_video(hex(h)).error().code; };
  EXPECT_EQ(code("96 11 68766331 00 000009 000000"),
            Errc::kMalformed);  // past the end
  EXPECT_EQ(code("96 13 68766331 00 000001 aa 00 000001 bb"),
            Errc::kMalformed);  // track 0 twice
  EXPECT_EQ(code("96 16 68766331"),
            Errc::kMalformed);  // multitrack in multitrack
  EXPECT_EQ(code("96 17 68766331"),
            Errc::kMalformed);  // ModEx after multitrack
  EXPECT_EQ(code("96 31 68766331"),
            Errc::kUnsupported);  // multitrack type 3
  EXPECT_EQ(code("96 11 68766331"),
            Errc::kMalformed);  // no track at all
  EXPECT_EQ(code("98 68766331"),
            Errc::kUnsupported);  // packet type 8
  EXPECT_EQ(code("91 48323634 000000"),
            Errc::kUnsupported);  // "H264" is no FourCC of it
  EXPECT_EQ(code("91 6876"),
            Errc::kMalformed);  // truncated FourCC
  EXPECT_EQ(code("97 05 0000"),
            Errc::kMalformed);                                            // truncated ModEx
  EXPECT_EQ(parse_ex_audio(hex("af01")).error().code, Errc::kMalformed);  // legacy AAC
  EXPECT_EQ(parse_ex_audio(hex("93 4f707573")).error().code, Errc::kUnsupported);
  EXPECT_EQ(parse_ex_audio(hex("91 61632d34 00")).error().code,
            Errc::kUnsupported);  // ac-4
  EXPECT_EQ(parse_ex_audio(hex("91 61632d33 00")).value().tracks[0].fourcc, kFourCcAc3);
  EXPECT_TRUE(parse_ex_audio(hex("91 4f707573")).value().tracks[0].payload.empty());

  // A message of many small tracks stops at the limit.
  Bytes lots = hex("96 11 61763031");
  for (int id = 0; id < 20; ++id) {
    lots.push_back(static_cast<std::uint8_t>(id));
    for (std::uint8_t b : hex("00000100"))
      lots.push_back(b);
  }
  EXPECT_EQ(parse_ex_video(lots).error().code, Errc::kLimitExceeded);
  EXPECT_TRUE(parse_ex_video(lots, ExLimits{32}));
}

TEST(EnhancedFlv, MultichannelConfigForms) {
  auto custom = parse_multichannel_config(hex("0203 000102"));
  ASSERT_TRUE(custom);
  EXPECT_EQ(custom->mapping, hex("000102"));
  EXPECT_TRUE(parse_multichannel_config(hex("0002")));  // unspecified: a count only
  EXPECT_FALSE(parse_multichannel_config(hex("0203 00")));
  EXPECT_FALSE(parse_multichannel_config(hex("0102 0000")));
  EXPECT_FALSE(parse_multichannel_config(hex("0302")));
  EXPECT_EQ(fourcc_text(kFourCcHevc), "hvc1");
  EXPECT_EQ(fourcc_text(0x01020304), "0x01020304");
}

}  // namespace
}  // namespace sluice::flv
