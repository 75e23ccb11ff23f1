#include "ingest/media_message.h"

#include "media/opus.h"
#include "proto/flv/flv.h"

namespace sluice::ingest {
namespace {

std::shared_ptr<media::Packet> make(media::TrackKind kind, media::Codec codec,
                                    const media::SharedBytes& body, std::size_t payload_offset,
                                    bool config, bool keyframe, std::int32_t cts) {
  auto packet = std::make_shared<media::Packet>();
  packet->kind = kind;
  packet->codec = codec;
  packet->body = body;
  packet->payload_offset = static_cast<std::uint32_t>(payload_offset);
  packet->config = config;
  packet->keyframe = keyframe;
  packet->cts_ms = cts;
  return packet;
}

std::size_t offset_in(const media::SharedBytes& body, std::span<const std::uint8_t> part) {
  return static_cast<std::size_t>(part.data() - body->data());
}

// A legacy tag body around `payload`: AVC (with its packet type and composition time) or AAC.
media::SharedBytes legacy_body(media::TrackKind kind, bool keyframe, bool config, std::int32_t cts,
                               std::span<const std::uint8_t> payload, std::size_t& header) {
  auto body = std::make_shared<media::Bytes>(kind == media::TrackKind::kVideo
                                                 ? flv::avc_tag_header(keyframe, config, cts)
                                                 : flv::aac_tag_header(config));
  header = body->size();
  body->insert(body->end(), payload.begin(), payload.end());
  return body;
}

// The track of a message that the stream carries, or null.
const flv::ExTrack* main_track(const std::vector<flv::ExTrack>& tracks) {
  for (const auto& t : tracks) {
    if (t.track_id == kMainTrack) return &t;
  }
  return nullptr;
}

}  // namespace

media::Codec codec_of(flv::FourCc fourcc) {
  switch (fourcc) {
    case flv::kFourCcAvc:
      return media::Codec::kH264;
    case flv::kFourCcHevc:
      return media::Codec::kHevc;
    case flv::kFourCcAv1:
      return media::Codec::kAv1;
    case flv::kFourCcVp9:
      return media::Codec::kVp9;
    case flv::kFourCcAac:
      return media::Codec::kAac;
    case flv::kFourCcOpus:
      return media::Codec::kOpus;
    case flv::kFourCcAc3:
      return media::Codec::kAc3;
    case flv::kFourCcEac3:
      return media::Codec::kEac3;
    case flv::kFourCcFlac:
      return media::Codec::kFlac;
    case flv::kFourCcMp3:
      return media::Codec::kMp3;
    default:
      return media::Codec::kUnknown;
  }
}

flv::FourCc fourcc_of(media::Codec codec) {
  switch (codec) {
    case media::Codec::kH264:
      return flv::kFourCcAvc;
    case media::Codec::kHevc:
      return flv::kFourCcHevc;
    case media::Codec::kAv1:
      return flv::kFourCcAv1;
    case media::Codec::kVp9:
      return flv::kFourCcVp9;
    case media::Codec::kAac:
      return flv::kFourCcAac;
    case media::Codec::kOpus:
      return flv::kFourCcOpus;
    case media::Codec::kAc3:
      return flv::kFourCcAc3;
    case media::Codec::kEac3:
      return flv::kFourCcEac3;
    case media::Codec::kFlac:
      return flv::kFourCcFlac;
    case media::Codec::kMp3:
      return flv::kFourCcMp3;
    default:
      return 0;
  }
}

std::string unplayable_for(media::Codec video, media::Codec audio,
                           const std::function<bool(std::string_view)>& announced) {
  for (const media::Codec codec : {video, audio}) {
    if (codec == media::Codec::kUnknown || codec == media::Codec::kH264 ||
        codec == media::Codec::kAac || codec == media::Codec::kMp3) {
      continue;
    }
    const std::string fourcc = flv::fourcc_text(fourcc_of(codec));
    if (!announced(fourcc)) {
      return "the stream is " + std::string(media::codec_name(codec)) + " (Enhanced RTMP FourCC " +
             fourcc + "), which the other side did not announce in connect";
    }
  }
  return {};
}

Result<std::shared_ptr<media::Packet>> MediaMessageReader::read(media::TrackKind kind,
                                                                const media::SharedBytes& body) {
  if (!body || body->empty()) return std::shared_ptr<media::Packet>();
  return kind == media::TrackKind::kVideo ? read_video(body) : read_audio(body);
}

Result<std::shared_ptr<media::Packet>> MediaMessageReader::read_video(
    const media::SharedBytes& body) {
  if (flv::is_ex_video(*body)) return read_ex_video(body);
  auto hdr = flv::parse_video_tag(*body);
  if (!hdr) return hdr.error();
  if (hdr->frame_type == 5)
    return std::shared_ptr<media::Packet>();  // video info/command frame, not media
  const bool avc = hdr->codec_id == flv::kAvc;
  if (avc && hdr->avc_packet_type == 2) return std::shared_ptr<media::Packet>();  // end of sequence
  return make(media::TrackKind::kVideo, avc ? media::Codec::kH264 : media::Codec::kUnknown, body,
              hdr->header_size, avc && hdr->avc_packet_type == 0, hdr->keyframe(),
              hdr->composition_time);
}

Result<std::shared_ptr<media::Packet>> MediaMessageReader::read_audio(
    const media::SharedBytes& body) {
  if (flv::is_ex_audio(*body)) return read_ex_audio(body);
  auto hdr = flv::parse_audio_tag(*body);
  if (!hdr) return hdr.error();
  media::Codec codec = media::Codec::kUnknown;
  if (hdr->sound_format == flv::kAac) codec = media::Codec::kAac;
  if (hdr->sound_format == 2) codec = media::Codec::kMp3;
  return make(media::TrackKind::kAudio, codec, body, hdr->header_size,
              codec == media::Codec::kAac && hdr->aac_packet_type == 0, false, 0);
}

Result<std::shared_ptr<media::Packet>> MediaMessageReader::read_ex_video(
    const media::SharedBytes& body) {
  auto message = flv::parse_ex_video(*body, limits_);
  if (!message) return message.error();
  using Type = flv::VideoPacketType;
  const Type type = message->packet_type;
  if (type == Type::kMpeg2TsSequenceStart) return read_av1_descriptor(*message);
  if (message->command ||
      (type != Type::kSequenceStart && type != Type::kCodedFrames && type != Type::kCodedFramesX)) {
    // Sequence ends and HDR metadata change nothing downstream.
    return std::shared_ptr<media::Packet>();
  }
  const flv::ExTrack* track = main_track(message->tracks);
  const bool config = type == Type::kSequenceStart;
  // An empty sequence start (some writers send one before the real one) configures nothing.
  if (!track || (config && track->payload.empty())) return std::shared_ptr<media::Packet>();
  const media::Codec codec = codec_of(track->fourcc);
  const bool keyframe = message->keyframe();
  if (codec == media::Codec::kH264) {
    std::size_t header = 0;
    auto legacy = legacy_body(media::TrackKind::kVideo, keyframe, config, track->composition_time,
                              track->payload, header);
    return make(media::TrackKind::kVideo, codec, legacy, header, config, keyframe,
                track->composition_time);
  }
  if (message->multitrack) {
    flv::ExVideoMessage single;
    single.frame_type = message->frame_type;
    single.packet_type = type;
    single.tracks = {*track};
    auto rewritten = std::make_shared<const media::Bytes>(flv::write_ex_video(single));
    // The writer puts the payload last.
    return make(media::TrackKind::kVideo, codec, rewritten,
                rewritten->size() - track->payload.size(), config, keyframe,
                track->composition_time);
  }
  return make(media::TrackKind::kVideo, codec, body, offset_in(body, track->payload), config,
              keyframe, track->composition_time);
}

Result<std::shared_ptr<media::Packet>> MediaMessageReader::read_av1_descriptor(
    const flv::ExVideoMessage& message) {
  const flv::ExTrack* track = main_track(message.tracks);
  if (!track) return std::shared_ptr<media::Packet>();
  // The AV1 video descriptor of MPEG-2 TS (tag 0x80, length 4) holds the first four bytes of
  // an av1C but for its last byte's top bits (hdr_wcg_idc and a reserved bit); the sequence
  // header OBU comes with the first keyframe. As an av1C it configures the stream like a
  // SequenceStart, which is what players are sent.
  const auto d = track->payload;
  if (d.size() < 6 || d[0] != 0x80 || d[1] != 4 || d[2] != 0x81) {
    return make_error(Errc::kMalformed, "enhanced flv: malformed AV1 video descriptor");
  }
  const std::uint8_t av1c[4] = {d[2], d[3], d[4], static_cast<std::uint8_t>(d[5] & 0x1f)};
  flv::ExVideoMessage start;
  start.frame_type = 1;
  start.packet_type = flv::VideoPacketType::kSequenceStart;
  start.tracks = {flv::ExTrack{flv::kFourCcAv1, 0, 0, av1c}};
  auto body = std::make_shared<const media::Bytes>(flv::write_ex_video(start));
  return make(media::TrackKind::kVideo, media::Codec::kAv1, body, body->size() - sizeof av1c, true,
              true, 0);
}

Result<std::shared_ptr<media::Packet>> MediaMessageReader::read_ex_audio(
    const media::SharedBytes& body) {
  auto message = flv::parse_ex_audio(*body, limits_);
  if (!message) return message.error();
  using Type = flv::AudioPacketType;
  const flv::ExTrack* track = main_track(message->tracks);
  if (!track) return std::shared_ptr<media::Packet>();
  const media::Codec codec = codec_of(track->fourcc);
  if (message->packet_type == Type::kMultichannelConfig) {
    auto channels = flv::parse_multichannel_config(track->payload);
    if (!channels) return channels.error();
    if (channels->channel_count > 0) opus_channels_ = channels->channel_count;
    return std::shared_ptr<media::Packet>();
  }
  if (message->packet_type != Type::kSequenceStart && message->packet_type != Type::kCodedFrames) {
    return std::shared_ptr<media::Packet>();
  }
  const bool config = message->packet_type == Type::kSequenceStart;
  if (codec == media::Codec::kAac) {
    std::size_t header = 0;
    auto legacy = legacy_body(media::TrackKind::kAudio, false, config, 0, track->payload, header);
    return make(media::TrackKind::kAudio, codec, legacy, header, config, false, 0);
  }
  if (codec == media::Codec::kOpus && config && track->payload.empty()) {
    // An empty Opus header: mono or stereo as a MultichannelConfig said, else stereo.
    flv::ExAudioMessage filled;
    filled.packet_type = Type::kSequenceStart;
    const media::Bytes head = media::make_opus_head(opus_channels_);
    filled.tracks = {flv::ExTrack{flv::kFourCcOpus, 0, 0, head}};
    auto rewritten = std::make_shared<const media::Bytes>(flv::write_ex_audio(filled));
    return make(media::TrackKind::kAudio, codec, rewritten, rewritten->size() - head.size(), true,
                false, 0);
  }
  if (message->multitrack) {
    flv::ExAudioMessage single;
    single.packet_type = message->packet_type;
    single.tracks = {*track};
    auto rewritten = std::make_shared<const media::Bytes>(flv::write_ex_audio(single));
    return make(media::TrackKind::kAudio, codec, rewritten,
                rewritten->size() - track->payload.size(), config, false, 0);
  }
  return make(media::TrackKind::kAudio, codec, body, offset_in(body, track->payload), config, false,
              0);
}

}  // namespace sluice::ingest
