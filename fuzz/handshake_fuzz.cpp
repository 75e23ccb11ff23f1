// Fuzzes both handshake sides with arbitrary peer bytes, delivered in reads of varying size.
#include <cstddef>
#include <cstdint>
#include <span>

#include "proto/rtmp/handshake.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t step = data[0] == 0 ? size : data[0] * 16u;  // read size from the first byte
  const std::span<const std::uint8_t> in(data + 1, size - 1);
  auto fill = [](std::span<std::uint8_t> out) {
    for (auto& b : out)
      b = 0x5A;
  };
  sluice::rtmp::ServerHandshake server(fill);
  sluice::rtmp::ClientHandshake client(true, fill);
  (void)client.start();
  bool server_ok = true, client_ok = true;
  for (std::size_t i = 0; i < in.size(); i += step) {
    const auto piece = in.subspan(i, std::min(step, in.size() - i));
    if (server_ok) {
      auto r = server.feed(piece);
      server_ok = r.ok();
      if (r && r->consumed > piece.size()) __builtin_trap();
    }
    if (client_ok) {
      auto r = client.feed(piece);
      client_ok = r.ok();
      if (r && r->consumed > piece.size()) __builtin_trap();
    }
  }
  return 0;
}
