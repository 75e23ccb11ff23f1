// The SRT stream ID of a caller's handshake: no crash; what is accepted names a stream within
// the length limit, in one of the two modes; and what the proxy passes on for it asks for
// the same stream in the same mode, naming the caller.
#include <cstddef>
#include <cstdint>
#include <string>
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
  const std::string passed_on = sluice::srt::with_client_address(id, "192.0.2.1");
  if (passed_on.size() > sluice::srt::kMaxStreamIdLength) __builtin_trap();
  auto relayed = sluice::srt::parse_stream_id(passed_on, "stream");
  if (!relayed || relayed->name != request->name || relayed->mode != request->mode ||
      relayed->user != request->user)
    __builtin_trap();
  if (passed_on != id && relayed->client != "192.0.2.1") __builtin_trap();
  return 0;
}
