#include "ingest/media_message.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "media/opus.h"

namespace sluice::ingest {
namespace {

media::SharedBytes hex(const std::string& text) {
  auto out = std::make_shared<media::Bytes>();
  std::string digits;
  for (const char c : text)
    if (c != ' ') digits += c;
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2)
    out->push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return out;
}

media::Bytes payload_of(const media::Packet& p) {
  return media::Bytes(p.payload().begin(), p.payload().end());
}

TEST(MediaMessage, LegacyAvcAndAacPassAsTheyCame) {
  MediaMessageReader reader;
  auto body = hex("17 00 000000 01640028");  // AVC sequence header
  auto p = reader.read(media::TrackKind::kVideo, body);
  ASSERT_TRUE(p && *p);
  EXPECT_EQ((*p)->codec, media::Codec::kH264);
  EXPECT_TRUE((*p)->config);
  EXPECT_EQ((*p)->body, body);  // no copy
  EXPECT_EQ(payload_of(**p), (media::Bytes{0x01, 0x64, 0x00, 0x28}));

  auto frame = reader.read(media::TrackKind::kVideo, hex("27 01 000021 00000002 0910"));
  ASSERT_TRUE(frame && *frame);
  EXPECT_FALSE((*frame)->keyframe);
  EXPECT_EQ((*frame)->cts_ms, 0x21);

  auto end = reader.read(media::TrackKind::kVideo, hex("17 02 000000"));
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);

  auto aac = reader.read(media::TrackKind::kAudio, hex("AF 00 1210"));
  ASSERT_TRUE(aac && *aac);
  EXPECT_EQ((*aac)->codec, media::Codec::kAac);
  EXPECT_TRUE((*aac)->config);
  EXPECT_EQ(payload_of(**aac), (media::Bytes{0x12, 0x10}));
}

TEST(MediaMessage, EnhancedAvcAndAacBecomeLegacyBodies) {
  MediaMessageReader reader;
  // ExVideoTagHeader: key frame, CodedFrames, "avc1", composition time 0x000010.
  auto p = reader.read(media::TrackKind::kVideo, hex("91 61766331 000010 00000002 0910"));
  ASSERT_TRUE(p && *p) << (p ? "" : p.error().message);
  EXPECT_EQ((*p)->codec, media::Codec::kH264);
  EXPECT_TRUE((*p)->keyframe);
  EXPECT_EQ((*p)->cts_ms, 16);
  EXPECT_EQ(*(*p)->body, *hex("17 01 000010 00000002 0910"));

  // ExAudioTagHeader: SequenceStart, "mp4a".
  auto a = reader.read(media::TrackKind::kAudio, hex("90 6d703461 1210"));
  ASSERT_TRUE(a && *a);
  EXPECT_EQ((*a)->codec, media::Codec::kAac);
  EXPECT_TRUE((*a)->config);
  EXPECT_EQ(*(*a)->body, *hex("AF 00 1210"));
}

TEST(MediaMessage, HevcAndAv1KeepTheirEnhancedBodies) {
  MediaMessageReader reader;
  auto body = hex("91 68766331 fffff6 00000003 260102");  // hvc1 CodedFrames, cts -10
  auto p = reader.read(media::TrackKind::kVideo, body);
  ASSERT_TRUE(p && *p);
  EXPECT_EQ((*p)->codec, media::Codec::kHevc);
  EXPECT_EQ((*p)->cts_ms, -10);
  EXPECT_EQ((*p)->body, body);
  EXPECT_EQ(payload_of(**p), (media::Bytes{0, 0, 0, 3, 0x26, 0x01, 0x02}));

  // av01 SequenceStart: an empty one is skipped, the one with the av1C is a config.
  auto empty = reader.read(media::TrackKind::kVideo, hex("90 61763031"));
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);
  auto config = reader.read(media::TrackKind::kVideo, hex("90 61763031 8124000000"));
  ASSERT_TRUE(config && *config);
  EXPECT_EQ((*config)->codec, media::Codec::kAv1);
  EXPECT_TRUE((*config)->config);
  EXPECT_EQ(payload_of(**config), (media::Bytes{0x81, 0x24, 0, 0, 0}));
  // CodedFramesX (3) and AV1 CodedFrames have no composition time.
  auto frame = reader.read(media::TrackKind::kVideo, hex("91 61763031 12000a0b"));
  ASSERT_TRUE(frame && *frame);
  EXPECT_EQ((*frame)->cts_ms, 0);
  EXPECT_EQ(payload_of(**frame), (media::Bytes{0x12, 0x00, 0x0a, 0x0b}));

  // SequenceEnd, Metadata and command frames carry nothing for the stream.
  for (const char* nothing : {"92 61763031", "5 0 00"}) {
    auto r = reader.read(media::TrackKind::kVideo, hex(nothing));
    ASSERT_TRUE(r) << nothing;
    EXPECT_FALSE(*r) << nothing;
  }
}

TEST(MediaMessage, Av1VideoDescriptorStartsTheSequenceAsAnAv1c) {
  MediaMessageReader reader;
  // MPEG2TSSequenceStart (5), "av01": descriptor tag 0x80, length 4, then marker/version,
  // profile 0 level 8, 8-bit 4:2:0, and hdr_wcg_idc 1 in the last byte's top bits.
  auto p = reader.read(media::TrackKind::kVideo, hex("95 61763031 8004 8108 0c 40"));
  ASSERT_TRUE(p && *p) << (p ? "" : p.error().message);
  EXPECT_EQ((*p)->codec, media::Codec::kAv1);
  EXPECT_TRUE((*p)->config);
  EXPECT_EQ(payload_of(**p), (media::Bytes{0x81, 0x08, 0x0c, 0x00}));
  EXPECT_EQ(*(*p)->body, *hex("90 61763031 81080c00"));  // a SequenceStart for players
  EXPECT_FALSE(reader.read(media::TrackKind::kVideo, hex("95 61763031 8003 8108 0c")));
  EXPECT_FALSE(reader.read(media::TrackKind::kVideo, hex("95 61763031 8104 8108 0c 00")));
}

TEST(MediaMessage, MultitrackKeepsTheMainTrackAlone) {
  MediaMessageReader reader;
  // Multitrack (packet type 6), ManyTracks (1) of CodedFrames (1) in "av01": track 1 of two
  // bytes, then track 0 of three bytes, each with a UI24 size.
  auto p =
      reader.read(media::TrackKind::kVideo, hex("96 11 61763031 01 000002 aabb 00 000003 ccddee"));
  ASSERT_TRUE(p && *p) << (p ? "" : p.error().message);
  EXPECT_EQ((*p)->codec, media::Codec::kAv1);
  EXPECT_TRUE((*p)->keyframe);
  EXPECT_EQ(payload_of(**p), (media::Bytes{0xcc, 0xdd, 0xee}));
  EXPECT_EQ(*(*p)->body, *hex("91 61763031 ccddee"));  // a one-track body for players

  // Without track 0, nothing for the stream.
  auto other = reader.read(media::TrackKind::kVideo, hex("96 11 61763031 01 000002 aabb"));
  ASSERT_TRUE(other);
  EXPECT_FALSE(*other);
}

TEST(MediaMessage, EmptyOpusHeaderBecomesAnIdentificationHeader) {
  MediaMessageReader reader;
  auto p = reader.read(media::TrackKind::kAudio, hex("90 4f707573"));
  ASSERT_TRUE(p && *p) << (p ? "" : p.error().message);
  EXPECT_EQ((*p)->codec, media::Codec::kOpus);
  EXPECT_TRUE((*p)->config);
  auto head = media::parse_opus_head((*p)->payload());
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->channels, 2);

  auto frame = reader.read(media::TrackKind::kAudio, hex("91 4f707573 fc0102"));
  ASSERT_TRUE(frame && *frame);
  EXPECT_FALSE((*frame)->config);
  EXPECT_EQ(payload_of(**frame), (media::Bytes{0xfc, 0x01, 0x02}));
}

TEST(MediaMessage, MalformedBodiesAreErrors) {
  MediaMessageReader reader;
  for (const char* bad :
       {"91 6176", "91 68766331 0000", "96 11 61763031 00 000009 aabb", "91 78797a77 00"}) {
    EXPECT_FALSE(reader.read(media::TrackKind::kVideo, hex(bad))) << bad;
  }
  EXPECT_FALSE(reader.read(media::TrackKind::kAudio, hex("91 4f70")));
}

TEST(MediaMessage, PlayersGetNewCodecsOnlyIfTheyAnnouncedThem) {
  const auto legacy = [](std::string_view) { return false; };
  const auto av1_only = [](std::string_view f) { return f == "av01"; };
  EXPECT_EQ(unplayable_for(media::Codec::kH264, media::Codec::kAac, legacy), "");
  EXPECT_EQ(unplayable_for(media::Codec::kUnknown, media::Codec::kMp3, legacy), "");
  EXPECT_NE(unplayable_for(media::Codec::kHevc, media::Codec::kAac, legacy).find("hvc1"),
            std::string::npos);
  EXPECT_EQ(unplayable_for(media::Codec::kAv1, media::Codec::kAac, av1_only), "");
  EXPECT_NE(unplayable_for(media::Codec::kAv1, media::Codec::kOpus, av1_only).find("Opus"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::ingest
