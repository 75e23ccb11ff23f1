// A registry value read back from Redis, where any client of the store may have written
// anything. What decodes must hold exactly the stored numbers (no silent narrowing) and must
// survive encode and decode unchanged, as servers rewrite entries they read.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "registry/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::registry;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto e = decode_stream(text)) {
    const auto j = nlohmann::json::parse(text);
    if (j["id"] != e->playback_id || j["address"] != e->address || j["session"] != e->session ||
        j["next_sequence"] != e->next_sequence || j["discontinuities"] != e->discontinuities) {
      __builtin_trap();
    }
    const auto back = decode_stream(encode(*e));
    if (!back || !(*back == *e)) __builtin_trap();
  }
  if (auto e = decode_node(text)) {
    const auto j = nlohmann::json::parse(text);
    if (j["address"] != e->address || j["rtmp"] != e->rtmp_address ||
        j["capacity"] != e->capacity || j["load"] != e->load || j["draining"] != e->draining) {
      __builtin_trap();
    }
    const auto back = decode_node(encode(*e));
    if (!back || !(*back == *e)) __builtin_trap();
  }
  return 0;
}
