// What an RTMP audio or video message (an FLV tag body, legacy or Enhanced RTMP) carries for
// the stream: a Packet of its main track, or nothing (a sequence end, a command frame,
// metadata, another track), or an error that names what was wrong. Sans-I/O and fuzzed.
//
// Enhanced RTMP's own spellings of H.264 (avc1) and AAC (mp4a) are rewritten into the legacy
// tag bodies, so players, relays and recorders that know only those get what they expect.
// Other codecs keep their Enhanced RTMP body; a multitrack message is cut down to its main
// track, so every Packet's body holds one track.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "media/packet.h"
#include "media/result.h"
#include "proto/flv/enhanced.h"

namespace sluice::ingest {

// Track 0 is the stream's main video and audio (the spec's default track).
inline constexpr std::uint8_t kMainTrack = 0;

class MediaMessageReader {
 public:
  explicit MediaMessageReader(flv::ExLimits limits = {}) : limits_(limits) {}

  // `kind` is kVideo or kAudio (the RTMP message type). A returned null Packet is not an
  // error: the message carries nothing the stream passes on. The Packet's dts is left 0.
  Result<std::shared_ptr<media::Packet>> read(media::TrackKind kind,
                                              const media::SharedBytes& body);

 private:
  Result<std::shared_ptr<media::Packet>> read_video(const media::SharedBytes& body);
  Result<std::shared_ptr<media::Packet>> read_audio(const media::SharedBytes& body);
  Result<std::shared_ptr<media::Packet>> read_ex_video(const media::SharedBytes& body);
  Result<std::shared_ptr<media::Packet>> read_ex_audio(const media::SharedBytes& body);
  Result<std::shared_ptr<media::Packet>> read_av1_descriptor(const flv::ExVideoMessage& message);

  flv::ExLimits limits_;
  std::uint8_t opus_channels_ = 2;  // from a MultichannelConfig, for an empty Opus header
};

// The media codec an Enhanced RTMP FourCC names (kUnknown for one Sluice does not take).
media::Codec codec_of(flv::FourCc fourcc);
// The FourCC Enhanced RTMP names a codec by (0 for none).
flv::FourCc fourcc_of(media::Codec codec);

// Why an RTMP peer (a player, or a relay's destination) cannot be sent a stream of these
// codecs, or empty if it can: codecs beyond legacy FLV's (H.264, AAC, MP3) go only to a peer
// that announced their FourCC in connect (a player's command, a server's _result).
std::string unplayable_for(media::Codec video, media::Codec audio,
                           const std::function<bool(std::string_view)>& announced);

}  // namespace sluice::ingest
