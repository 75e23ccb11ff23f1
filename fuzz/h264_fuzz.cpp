// Feeds arbitrary bytes to every H.264 parser: as an avcC record, as an SPS, and as an AVCC
// access unit (converted with and without parameter-set insertion).
#include <cstddef>
#include <cstdint>
#include <span>

#include "media/h264.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::media;
  const std::span<const std::uint8_t> in(data, size);
  auto config = parse_avc_config(in);
  if (config) {
    for (const auto& sps : config->sps)
      (void)parse_sps(sps);
    (void)avc_codec_string(*config);
  }
  if (auto sps = parse_sps(in); sps && (sps->width <= 0 || sps->height <= 0)) __builtin_trap();
  Bytes out;
  const std::uint8_t length_size = size ? (data[0] & 3) + 1 : 4;
  (void)avcc_to_annexb(in, length_size, config ? &*config : nullptr, out);
  return 0;
}
