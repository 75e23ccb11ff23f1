// Enhanced RTMP v2 audio and video message bodies (the ExAudioTagHeader and ExVideoTagHeader
// of Enhanced FLV, and the bodies they announce): FourCC codecs, multitrack, ModEx with its
// nanosecond timestamp offset, command frames. Sans-I/O: a parsed message points into the
// body it came from; a message can be written back (for relays and players). Fuzzed.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "media/result.h"

namespace sluice::flv {

// A FourCC as the wire carries it: the four ASCII bytes read as a big-endian UI32.
using FourCc = std::uint32_t;
constexpr FourCc make_fourcc(const char (&text)[5]) {
  return static_cast<FourCc>(static_cast<std::uint8_t>(text[0])) << 24 |
         static_cast<FourCc>(static_cast<std::uint8_t>(text[1])) << 16 |
         static_cast<FourCc>(static_cast<std::uint8_t>(text[2])) << 8 |
         static_cast<FourCc>(static_cast<std::uint8_t>(text[3]));
}
// "hvc1", or the bytes in hex when they are not printable.
std::string fourcc_text(FourCc fourcc);

inline constexpr FourCc kFourCcAvc = make_fourcc("avc1");
inline constexpr FourCc kFourCcHevc = make_fourcc("hvc1");
inline constexpr FourCc kFourCcAv1 = make_fourcc("av01");
inline constexpr FourCc kFourCcVp9 = make_fourcc("vp09");
inline constexpr FourCc kFourCcVp8 = make_fourcc("vp08");
inline constexpr FourCc kFourCcAac = make_fourcc("mp4a");
inline constexpr FourCc kFourCcOpus = make_fourcc("Opus");
inline constexpr FourCc kFourCcFlac = make_fourcc("fLaC");
inline constexpr FourCc kFourCcMp3 = make_fourcc(".mp3");
inline constexpr FourCc kFourCcAc3 = make_fourcc("ac-3");
inline constexpr FourCc kFourCcEac3 = make_fourcc("ec-3");

enum class VideoPacketType : std::uint8_t {
  kSequenceStart = 0,
  kCodedFrames = 1,  // AVC and HEVC: an SI24 composition time first
  kSequenceEnd = 2,
  kCodedFramesX = 3,          // AVC and HEVC, composition time zero
  kMetadata = 4,              // AMF: "colorInfo"
  kMpeg2TsSequenceStart = 5,  // AV1's video descriptor
  kMultitrack = 6,            // header signals only
  kModEx = 7,
};

enum class AudioPacketType : std::uint8_t {
  kSequenceStart = 0,
  kCodedFrames = 1,
  kSequenceEnd = 2,
  kMultichannelConfig = 4,
  kMultitrack = 5,  // header signals only
  kModEx = 7,
};

enum class MultitrackType : std::uint8_t {
  kOneTrack = 0,
  kManyTracks = 1,
  kManyTracksManyCodecs = 2
};

// One track's part of a message. Every track of a message has the message's packet type.
struct ExTrack {
  FourCc fourcc = 0;
  std::uint8_t track_id = 0;              // 0 outside multitrack
  std::int32_t composition_time = 0;      // ms: AVC and HEVC CodedFrames only
  std::span<const std::uint8_t> payload;  // the codec's bytes, within the parsed body
};

struct ExVideoMessage {
  std::uint8_t frame_type = 0;  // 1 key, 2 inter, ... (ignored for Metadata)
  VideoPacketType packet_type = VideoPacketType::kCodedFrames;
  std::optional<MultitrackType> multitrack;  // nullopt: one track, no multitrack signal
  std::optional<std::uint8_t> command;       // a command frame (frame type 5): no tracks
  std::uint32_t timestamp_offset_ns = 0;     // ModEx TimestampOffsetNano, under 1 ms
  std::vector<ExTrack> tracks;
  bool keyframe() const { return frame_type == 1; }
};

struct ExAudioMessage {
  AudioPacketType packet_type = AudioPacketType::kCodedFrames;
  std::optional<MultitrackType> multitrack;
  std::uint32_t timestamp_offset_ns = 0;
  std::vector<ExTrack> tracks;
};

struct ExLimits {
  std::size_t max_tracks = 16;  // tracks in one message
};

// Whether a message body starts with the enhanced header (IsExHeader bit; SoundFormat 9).
inline bool is_ex_video(std::span<const std::uint8_t> body) {
  return !body.empty() && (body[0] & 0x80) != 0;
}
inline bool is_ex_audio(std::span<const std::uint8_t> body) {
  return !body.empty() && (body[0] >> 4) == 9;
}

// The whole body is read: every track, or an error. A codec or packet type the spec does not
// define (or defines only for other codecs) is kUnsupported; bytes that contradict
// themselves (a track that runs past the body, a repeated track ID) are kMalformed.
Result<ExVideoMessage> parse_ex_video(std::span<const std::uint8_t> body,
                                      const ExLimits& limits = {});
Result<ExAudioMessage> parse_ex_audio(std::span<const std::uint8_t> body,
                                      const ExLimits& limits = {});

// The body of a message, as parse_ex_video/parse_ex_audio read it: the nanosecond offset as a
// ModEx record when it is not zero, multitrack as `multitrack` says (ManyTracks needs one
// codec in every track; the caller keeps to what it parsed or built).
std::vector<std::uint8_t> write_ex_video(const ExVideoMessage& message);
std::vector<std::uint8_t> write_ex_audio(const ExAudioMessage& message);

// An audio MultichannelConfig payload.
struct MultichannelConfig {
  std::uint8_t channel_order = 0;  // 0 unspecified, 1 native (flags), 2 custom (mapping)
  std::uint8_t channel_count = 0;
  std::vector<std::uint8_t> mapping;  // custom: the speaker of each channel
  std::uint32_t channel_flags = 0;    // native: which speakers are present
};
Result<MultichannelConfig> parse_multichannel_config(std::span<const std::uint8_t> payload);

}  // namespace sluice::flv
