// Signed playback's rewriting of playlist URIs on any text: no crash; lines stay lines, and
// the text grows by whole copies of the parameter and its separator.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/playlist_uris.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kParameter = "token=a.b-c_d";
  const auto out = sluice::http::with_query_parameter(in, kParameter);
  if (std::count(out.begin(), out.end(), '\n') != std::count(in.begin(), in.end(), '\n'))
    __builtin_trap();
  if (out.size() < in.size() || (out.size() - in.size()) % (kParameter.size() + 1) != 0)
    __builtin_trap();
  return 0;
}
