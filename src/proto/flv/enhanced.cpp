#include "proto/flv/enhanced.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace sluice::flv {

namespace {

constexpr std::uint8_t kModExTimestampOffsetNano = 0;
constexpr std::uint32_t kMaxNanoOffset = 999'999;

Error malformed(const std::string& what) {
  return make_error(Errc::kMalformed, "enhanced flv: " + what);
}
Error unsupported(const std::string& what) {
  return make_error(Errc::kUnsupported, "enhanced flv: " + what);
}

// Big-endian reads within a body; every read is checked.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> body) : body_(body) {}
  std::size_t left() const { return body_.size() - at_; }
  bool done() const { return at_ == body_.size(); }
  std::optional<std::uint32_t> read(std::size_t bytes) {
    if (left() < bytes) return std::nullopt;
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < bytes; ++i)
      value = value << 8 | body_[at_++];
    return value;
  }
  std::optional<std::span<const std::uint8_t>> take(std::size_t bytes) {
    if (left() < bytes) return std::nullopt;
    auto out = body_.subspan(at_, bytes);
    at_ += bytes;
    return out;
  }
  std::span<const std::uint8_t> rest() { return *take(left()); }

 private:
  std::span<const std::uint8_t> body_;
  std::size_t at_ = 0;
};

bool known_video(FourCc c) {
  return c == kFourCcAvc || c == kFourCcHevc || c == kFourCcAv1 || c == kFourCcVp9 ||
         c == kFourCcVp8;
}
bool known_audio(FourCc c) {
  return c == kFourCcAac || c == kFourCcOpus || c == kFourCcFlac || c == kFourCcMp3 ||
         c == kFourCcAc3 || c == kFourCcEac3;
}
bool has_composition_time(FourCc c) {
  return c == kFourCcAvc || c == kFourCcHevc;
}

// The ModEx records after the first byte: the packet type they end with, and the nanosecond
// offset if one was given. Unknown ModEx types are skipped, their size being known.
Result<std::uint8_t> read_mod_ex(Reader& in, std::uint8_t packet_type, std::uint32_t& offset_ns) {
  constexpr std::uint8_t kModEx = 7;
  while (packet_type == kModEx) {
    auto size = in.read(1);
    if (!size) return malformed("truncated ModEx");
    std::uint32_t data_size = *size + 1;
    if (data_size == 256) {
      auto wide = in.read(2);
      if (!wide) return malformed("truncated ModEx size");
      data_size = *wide + 1;
    }
    auto data = in.take(data_size);
    auto types = in.read(1);
    if (!data || !types) return malformed("truncated ModEx data");
    packet_type = static_cast<std::uint8_t>(*types & 0x0f);
    if ((*types >> 4) == kModExTimestampOffsetNano) {
      if (data->size() < 3) return malformed("TimestampOffsetNano of fewer than 3 bytes");
      offset_ns = std::uint32_t{(*data)[0]} << 16 | std::uint32_t{(*data)[1]} << 8 | (*data)[2];
      if (offset_ns > kMaxNanoOffset) return malformed("TimestampOffsetNano of 1 ms or more");
    }
  }
  return packet_type;
}

// The multitrack signal: its type and the packet type of every track.
Result<MultitrackType> read_multitrack(Reader& in, std::uint8_t& packet_type,
                                       std::uint8_t multitrack_signal, std::uint8_t mod_ex) {
  auto byte = in.read(1);
  if (!byte) return malformed("truncated multitrack header");
  if ((*byte >> 4) > 2) return unsupported("multitrack type " + std::to_string(*byte >> 4));
  packet_type = static_cast<std::uint8_t>(*byte & 0x0f);
  if (packet_type == multitrack_signal || packet_type == mod_ex)
    return malformed("multitrack inside multitrack, or ModEx after it");
  return static_cast<MultitrackType>(*byte >> 4);
}

// The tracks of a body. `read_track_head` reads what precedes a track's payload for its
// packet type (a composition time), given the track.
template <typename ReadHead>
Status read_tracks(Reader& in, std::optional<MultitrackType> multitrack, FourCc shared_fourcc,
                   const ExLimits& limits, std::vector<ExTrack>& tracks, ReadHead read_head) {
  const auto one = [&](ExTrack track, std::span<const std::uint8_t> part) -> Status {
    Reader body(part);
    if (auto st = read_head(body, track); !st) return st;
    track.payload = body.rest();
    tracks.push_back(track);
    return Ok{};
  };
  if (!multitrack) return one(ExTrack{shared_fourcc, 0, 0, {}}, in.rest());
  do {
    if (tracks.size() == limits.max_tracks)
      return make_error(Errc::kLimitExceeded,
                        "enhanced flv: more than " + std::to_string(limits.max_tracks) + " tracks");
    ExTrack track{shared_fourcc, 0, 0, {}};
    if (*multitrack == MultitrackType::kManyTracksManyCodecs) {
      auto fourcc = in.read(4);
      if (!fourcc) return malformed("truncated track FourCC");
      track.fourcc = *fourcc;
    }
    auto id = in.read(1);
    if (!id) return malformed("truncated track ID");
    track.track_id = static_cast<std::uint8_t>(*id);
    for (const auto& t : tracks) {
      if (t.track_id == track.track_id)
        return malformed("track " + std::to_string(*id) + " twice in one message");
    }
    if (*multitrack == MultitrackType::kOneTrack) {
      if (auto st = one(track, in.rest()); !st) return st;
      break;
    }
    auto size = in.read(3);
    if (!size) return malformed("truncated track size");
    auto part = in.take(*size);
    if (!part) return malformed("a track of " + std::to_string(*size) + " bytes past the body");
    if (auto st = one(track, *part); !st) return st;
  } while (!in.done());
  return Ok{};
}

Status check_video_codec(FourCc fourcc, VideoPacketType type) {
  if (!known_video(fourcc)) return unsupported("video codec " + fourcc_text(fourcc));
  if (type == VideoPacketType::kCodedFramesX && !has_composition_time(fourcc))
    return unsupported("CodedFramesX for " + fourcc_text(fourcc));
  if (type == VideoPacketType::kMpeg2TsSequenceStart && fourcc != kFourCcAv1)
    return unsupported("MPEG2TSSequenceStart for " + fourcc_text(fourcc));
  return Ok{};
}

void put(std::vector<std::uint8_t>& out, std::uint32_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

// Writes what parse_ex_* read after the first byte's nibble: ModEx, multitrack, tracks.
template <typename WriteHead>
void write_rest(std::vector<std::uint8_t>& out, std::uint8_t packet_type,
                std::uint8_t multitrack_signal, std::uint8_t mod_ex, std::uint32_t offset_ns,
                std::optional<MultitrackType> multitrack, const std::vector<ExTrack>& tracks,
                WriteHead write_head) {
  // The first byte's low nibble is the first signal: ModEx, then multitrack, then the type.
  std::vector<std::uint8_t> signals;
  if (offset_ns != 0) signals.push_back(mod_ex);
  if (multitrack) signals.push_back(multitrack_signal);
  signals.push_back(packet_type);
  out.back() |= signals.front();
  std::size_t next = 1;
  if (offset_ns != 0) {
    out.push_back(2);  // three bytes, less one
    put(out, offset_ns, 3);
    out.push_back(static_cast<std::uint8_t>(kModExTimestampOffsetNano << 4 | signals[next++]));
  }
  if (multitrack) {
    out.push_back(
        static_cast<std::uint8_t>(static_cast<std::uint8_t>(*multitrack) << 4 | signals[next]));
    if (*multitrack != MultitrackType::kManyTracksManyCodecs && !tracks.empty())
      put(out, tracks.front().fourcc, 4);
  } else if (!tracks.empty()) {
    put(out, tracks.front().fourcc, 4);
  }
  for (const auto& track : tracks) {
    std::vector<std::uint8_t> part;
    write_head(part, track);
    part.insert(part.end(), track.payload.begin(), track.payload.end());
    if (multitrack) {
      if (*multitrack == MultitrackType::kManyTracksManyCodecs) put(out, track.fourcc, 4);
      out.push_back(track.track_id);
      if (*multitrack != MultitrackType::kOneTrack)
        put(out, static_cast<std::uint32_t>(part.size()), 3);
    }
    out.insert(out.end(), part.begin(), part.end());
  }
}

}  // namespace

std::string fourcc_text(FourCc fourcc) {
  std::string text;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const auto c = static_cast<char>((fourcc >> shift) & 0xff);
    if (c < 0x20 || c > 0x7e) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%08x", fourcc);
      return hex;
    }
    text += c;
  }
  return text;
}

Result<ExVideoMessage> parse_ex_video(std::span<const std::uint8_t> body, const ExLimits& limits) {
  if (!is_ex_video(body)) return malformed("not an enhanced video body");
  Reader in(body);
  const auto first = *in.read(1);
  ExVideoMessage m;
  m.frame_type = static_cast<std::uint8_t>((first >> 4) & 0x07);
  auto type = read_mod_ex(in, static_cast<std::uint8_t>(first & 0x0f), m.timestamp_offset_ns);
  if (!type) return type.error();
  std::uint8_t packet_type = *type;
  constexpr auto kMetadata = static_cast<std::uint8_t>(VideoPacketType::kMetadata);
  constexpr auto kMultitrack = static_cast<std::uint8_t>(VideoPacketType::kMultitrack);
  constexpr auto kModEx = static_cast<std::uint8_t>(VideoPacketType::kModEx);
  if (m.frame_type == 5 && packet_type != kMetadata) {
    // A command: one byte, no codec and no body.
    auto command = in.read(1);
    if (!command) return malformed("command frame without its command");
    m.packet_type = static_cast<VideoPacketType>(packet_type);
    m.command = static_cast<std::uint8_t>(*command);
    return m;
  }
  if (packet_type == kMultitrack) {
    auto multitrack = read_multitrack(in, packet_type, kMultitrack, kModEx);
    if (!multitrack) return multitrack.error();
    m.multitrack = *multitrack;
  }
  if (packet_type > kMultitrack)
    return unsupported("video packet type " + std::to_string(packet_type));
  m.packet_type = static_cast<VideoPacketType>(packet_type);
  FourCc shared = 0;
  if (m.multitrack != MultitrackType::kManyTracksManyCodecs) {
    auto fourcc = in.read(4);
    if (!fourcc) return malformed("truncated video FourCC");
    shared = *fourcc;
  }
  auto st = read_tracks(
      in, m.multitrack, shared, limits, m.tracks, [&](Reader& track, ExTrack& t) -> Status {
        if (auto ok = check_video_codec(t.fourcc, m.packet_type); !ok) return ok;
        if (m.packet_type != VideoPacketType::kCodedFrames || !has_composition_time(t.fourcc))
          return Ok{};
        auto cts = track.read(3);
        if (!cts) return malformed("truncated composition time");
        std::uint32_t value = *cts;
        if (value & 0x800000) value |= 0xff000000;  // SI24
        t.composition_time = static_cast<std::int32_t>(value);
        return Ok{};
      });
  if (!st) return st.error();
  return m;
}

Result<ExAudioMessage> parse_ex_audio(std::span<const std::uint8_t> body, const ExLimits& limits) {
  if (!is_ex_audio(body)) return malformed("not an enhanced audio body");
  Reader in(body);
  const auto first = *in.read(1);
  ExAudioMessage m;
  auto type = read_mod_ex(in, static_cast<std::uint8_t>(first & 0x0f), m.timestamp_offset_ns);
  if (!type) return type.error();
  std::uint8_t packet_type = *type;
  constexpr auto kMultitrack = static_cast<std::uint8_t>(AudioPacketType::kMultitrack);
  constexpr auto kModEx = static_cast<std::uint8_t>(AudioPacketType::kModEx);
  if (packet_type == kMultitrack) {
    auto multitrack = read_multitrack(in, packet_type, kMultitrack, kModEx);
    if (!multitrack) return multitrack.error();
    m.multitrack = *multitrack;
  }
  if (packet_type == 3 || packet_type > kMultitrack)
    return unsupported("audio packet type " + std::to_string(packet_type));
  m.packet_type = static_cast<AudioPacketType>(packet_type);
  FourCc shared = 0;
  if (m.multitrack != MultitrackType::kManyTracksManyCodecs) {
    auto fourcc = in.read(4);
    if (!fourcc) return malformed("truncated audio FourCC");
    shared = *fourcc;
  }
  auto st =
      read_tracks(in, m.multitrack, shared, limits, m.tracks, [&](Reader&, ExTrack& t) -> Status {
        if (!known_audio(t.fourcc)) return unsupported("audio codec " + fourcc_text(t.fourcc));
        return Ok{};
      });
  if (!st) return st.error();
  return m;
}

std::vector<std::uint8_t> write_ex_video(const ExVideoMessage& m) {
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(0x80 | (m.frame_type & 0x07) << 4)};
  constexpr auto kMultitrack = static_cast<std::uint8_t>(VideoPacketType::kMultitrack);
  constexpr auto kModEx = static_cast<std::uint8_t>(VideoPacketType::kModEx);
  if (m.command) {
    write_rest(out, static_cast<std::uint8_t>(m.packet_type), kMultitrack, kModEx,
               m.timestamp_offset_ns, std::nullopt, {}, [](auto&, const ExTrack&) {});
    out.push_back(*m.command);
    return out;
  }
  write_rest(out, static_cast<std::uint8_t>(m.packet_type), kMultitrack, kModEx,
             m.timestamp_offset_ns, m.multitrack, m.tracks,
             [&](std::vector<std::uint8_t>& part, const ExTrack& t) {
               if (m.packet_type == VideoPacketType::kCodedFrames && has_composition_time(t.fourcc))
                 put(part, static_cast<std::uint32_t>(t.composition_time) & 0xffffff, 3);
             });
  return out;
}

std::vector<std::uint8_t> write_ex_audio(const ExAudioMessage& m) {
  std::vector<std::uint8_t> out{0x90};
  write_rest(out, static_cast<std::uint8_t>(m.packet_type),
             static_cast<std::uint8_t>(AudioPacketType::kMultitrack),
             static_cast<std::uint8_t>(AudioPacketType::kModEx), m.timestamp_offset_ns,
             m.multitrack, m.tracks, [](auto&, const ExTrack&) {});
  return out;
}

Result<MultichannelConfig> parse_multichannel_config(std::span<const std::uint8_t> payload) {
  Reader in(payload);
  auto order = in.read(1), count = in.read(1);
  if (!order || !count) return malformed("truncated MultichannelConfig");
  MultichannelConfig c;
  c.channel_order = static_cast<std::uint8_t>(*order);
  c.channel_count = static_cast<std::uint8_t>(*count);
  if (c.channel_order == 1) {
    auto flags = in.read(4);
    if (!flags) return malformed("truncated channel flags");
    c.channel_flags = *flags;
  } else if (c.channel_order == 2) {
    auto mapping = in.take(c.channel_count);
    if (!mapping) return malformed("truncated channel mapping");
    c.mapping.assign(mapping->begin(), mapping->end());
  } else if (c.channel_order != 0) {
    return unsupported("channel order " + std::to_string(c.channel_order));
  }
  return c;
}

}  // namespace sluice::flv
