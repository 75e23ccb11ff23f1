// H.264 bitstream helpers: the AVCDecoderConfigurationRecord carried in FLV/RTMP sequence
// headers, SPS fields needed for playlists, and AVCC -> Annex B.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "media/packet.h"
#include "media/result.h"

namespace sluice::media {

struct AvcConfig {
  std::uint8_t profile = 0;        // AVCProfileIndication
  std::uint8_t compatibility = 0;  // profile_compatibility
  std::uint8_t level = 0;          // AVCLevelIndication
  std::uint8_t nal_length_size = 4;
  std::vector<Bytes> sps;
  std::vector<Bytes> pps;
};
Result<AvcConfig> parse_avc_config(std::span<const std::uint8_t> record);

// Codec string for HLS CODECS, e.g. "avc1.4d401f".
std::string avc_codec_string(const AvcConfig& config);

struct SpsInfo {
  std::uint8_t profile_idc = 0;
  std::uint8_t level_idc = 0;
  int width = 0;   // after frame cropping
  int height = 0;  // after frame cropping
};
// `nal` is one SPS NAL unit including its 1-byte header; emulation prevention is handled.
Result<SpsInfo> parse_sps(std::span<const std::uint8_t> nal);

// Converts length-prefixed NAL units to an Annex B access unit (00 00 00 01 start codes) as
// MPEG-TS carries it, appending to out: an access unit delimiter comes first (ISO/IEC 13818-1
// 2.14 requires one), inserted unless the first NAL is one. When `config` is given (keyframes),
// its SPS and PPS follow unless the access unit already carries an SPS. Errors on a NAL length
// that runs past the end.
Status avcc_to_annexb(std::span<const std::uint8_t> avcc, std::uint8_t nal_length_size,
                      const AvcConfig* config, Bytes& out);

// The NAL units of an Annex B byte stream (3- or 4-byte start codes), without start codes.
// Encoders (libx264) produce Annex B; FLV, RTMP and our Packets carry length-prefixed units.
std::vector<std::span<const std::uint8_t>> split_annexb(std::span<const std::uint8_t> annexb);

// Appends the NAL units of `annexb` with 4-byte lengths, leaving out parameter sets and access
// unit delimiters (the config record carries SPS/PPS; segmenters put them back on keyframes).
void annexb_to_avcc(std::span<const std::uint8_t> annexb, Bytes& out);

// Builds an AVCDecoderConfigurationRecord (4-byte NAL lengths) from the SPS and PPS found in
// Annex B encoder extradata. Errors when either is missing.
Result<Bytes> avc_config_from_annexb(std::span<const std::uint8_t> annexb);

}  // namespace sluice::media
