// Fuzzes the FLV tag body header parsers with arbitrary message bodies.
#include <cstddef>
#include <cstdint>
#include <span>

#include "proto/flv/flv.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> body(data, size);
  if (auto v = sluice::flv::parse_video_tag(body); v && v->header_size > size) __builtin_trap();
  if (auto a = sluice::flv::parse_audio_tag(body); a && a->header_size > size) __builtin_trap();
  return 0;
}
