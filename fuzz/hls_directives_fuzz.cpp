// What the network sends the HLS code as text: a request-target with its _HLS_ query (from a
// player or a CDN), and a low-latency playlist the origin reads back from a server.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/routes.h"
#include "route/live_edge.h"

namespace {

bool same(const sluice::http::HlsDirectives& a, const sluice::http::HlsDirectives& b) {
  return a.msn == b.msn && a.part == b.part && a.skip == b.skip;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)http::parse_route(in);
  if (auto directives = http::parse_hls_directives(in)) {
    // The origin forwards and keys its cache by the canonical form: it must mean the same.
    const auto again = http::parse_hls_directives("/p/r/index.m3u8" + http::hls_query(*directives));
    if (!again || !same(*again, *directives)) __builtin_trap();
  }
  if (auto next = route::next_part_request(in)) {
    if (!next->msn || !next->part) __builtin_trap();  // always a part to wait for
    const auto again = http::parse_hls_directives("/p/r/index.m3u8" + http::hls_query(*next));
    if (!again || !same(*again, *next)) __builtin_trap();
  }
  return 0;
}
