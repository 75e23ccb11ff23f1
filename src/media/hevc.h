// HEVC helpers: the HEVCDecoderConfigurationRecord (hvcC) that Enhanced RTMP sequence starts
// and MP4 carry, its HLS codec string, and the picture size from its SPS.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "media/packet.h"
#include "media/result.h"

namespace sluice::media {

struct HevcConfig {
  std::uint8_t profile_space = 0;
  bool high_tier = false;
  std::uint8_t profile_idc = 0;
  std::uint32_t compatibility_flags = 0;
  std::array<std::uint8_t, 6> constraint_flags{};
  std::uint8_t level_idc = 0;
  std::uint8_t nal_length_size = 4;
  std::vector<Bytes> vps, sps, pps;
};
Result<HevcConfig> parse_hevc_config(std::span<const std::uint8_t> record);

// Codec string for HLS CODECS, e.g. "hvc1.1.6.L93.B0".
std::string hevc_codec_string(const HevcConfig& config);

struct PictureSize {
  int width = 0;
  int height = 0;
};
// `nal` is one SPS NAL unit including its 2-byte header. The size after the conformance window.
Result<PictureSize> parse_hevc_sps_size(std::span<const std::uint8_t> nal);

// Builds an hvcC (4-byte NAL lengths) from the VPS, SPS and PPS found in an Annex B access
// unit (MPEG-TS carries them in band). Errors when any is missing or the SPS is malformed.
Result<Bytes> hevc_config_from_annexb(std::span<const std::uint8_t> annexb);

// Appends the NAL units of `annexb` with 4-byte lengths, leaving out parameter sets and access
// unit delimiters (the hvcC carries them).
void annexb_to_hvcc(std::span<const std::uint8_t> annexb, Bytes& out);

}  // namespace sluice::media
