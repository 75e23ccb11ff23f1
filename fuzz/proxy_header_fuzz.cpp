// The PROXY protocol header, read as the server reads it (exactly the bytes asked for, never
// past the header), and the trusted-network list: no crash, a header never longer than what
// was read nor than its version allows, and an encoded header parses back to itself.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "proto/proxy/proxy_header.h"

namespace pp = sluice::proxy_protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> wire(data, size);
  std::vector<std::uint8_t> in;
  for (;;) {
    auto step = pp::parse(in);
    if (!step) break;
    if (step->header) {
      const auto& h = *step->header;
      if (h.size != in.size()) __builtin_trap();  // read exactly the header
      if (h.version == 1 && h.size > pp::kV1MaxLength) __builtin_trap();
      if (h.source && h.destination) {
        const auto wire2 = pp::encode_v2(*h.source, *h.destination);
        auto again = pp::parse(wire2);
        if (wire2.empty() || !again || !again->header || again->header->size != wire2.size())
          __builtin_trap();
        if (pp::encode_v2(*again->header->source, *again->header->destination) != wire2)
          __builtin_trap();
      }
      break;
    }
    if (step->need == 0 || in.size() + step->need > wire.size()) break;
    in.insert(in.end(), wire.begin() + static_cast<long>(in.size()),
              wire.begin() + static_cast<long>(in.size() + step->need));
  }
  // The same bytes as a list of trusted networks, and as an address to look up in it.
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto networks = pp::parse_networks(text)) {
    for (const auto& n : *networks) {
      if (n.prefix < 0 || n.prefix > (n.v4 ? 32 : 128)) __builtin_trap();
    }
    const auto space = text.find(' ');
    (void)pp::contains(*networks, text.substr(space == std::string_view::npos ? 0 : space + 1));
  }
  return 0;
}
