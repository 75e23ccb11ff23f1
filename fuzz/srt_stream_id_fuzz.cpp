// The SRT stream ID of a caller's handshake: no crash; what is accepted names a stream within
// the length limit, in one of the two modes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/srt/stream_id.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view id(reinterpret_cast<const char*>(data), size);
  auto request = sluice::srt::parse_stream_id(id, "stream");
  if (!request) return 0;
  if (request->name.empty() || request->name.size() > sluice::srt::kMaxStreamIdLength)
    __builtin_trap();
  if (request->name.find('/') != std::string::npos && !id.starts_with("#!::")) {
    // A plain ID may name the application once; the rest of the name cannot hold it.
    if (!id.starts_with("stream/")) __builtin_trap();
  }
  return 0;
}
