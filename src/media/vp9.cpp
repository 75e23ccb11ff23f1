#include "media/vp9.h"

#include <cstdio>

namespace sluice::media {

Result<Vp9Config> parse_vp9_config(std::span<const std::uint8_t> record) {
  if (record.size() < 8) {
    return make_error(Errc::kMalformed,
                      "vp9: vpcC of " + std::to_string(record.size()) + " bytes (< 8)");
  }
  Vp9Config c;
  c.profile = record[0];
  c.level = record[1];
  c.bit_depth = record[2] >> 4;
  c.chroma_subsampling = (record[2] >> 1) & 7;
  c.full_range = (record[2] & 1) != 0;
  c.colour_primaries = record[3];
  c.transfer = record[4];
  c.matrix = record[5];
  if (c.profile > 3 || (c.bit_depth != 8 && c.bit_depth != 10 && c.bit_depth != 12)) {
    return make_error(Errc::kMalformed, "vp9: vpcC profile " + std::to_string(c.profile) +
                                            " bit depth " + std::to_string(c.bit_depth));
  }
  return c;
}

std::string vp9_codec_string(const Vp9Config& config) {
  char s[32];
  std::snprintf(s, sizeof s, "vp09.%02u.%02u.%02u", config.profile, config.level, config.bit_depth);
  return s;
}

}  // namespace sluice::media
