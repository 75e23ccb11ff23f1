// The stored form of registry entries, JSON strings in Redis: in a file of its own, apart from
// the registry's I/O, so that the decoder is fuzzed alone (fuzz/registry_records_fuzz.cpp).
#include "registry/registry.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>

namespace sluice::registry {

std::string encode(const StreamEntry& e) {
  return nlohmann::json{{"id", e.playback_id},
                        {"address", e.address},
                        {"session", e.session},
                        {"next_sequence", e.next_sequence},
                        {"discontinuities", e.discontinuities}}
      .dump();
}

std::string encode(const NodeEntry& e) {
  return nlohmann::json{{"address", e.address}, {"rtmp", e.rtmp_address}, {"capacity", e.capacity},
                        {"load", e.load},       {"draining", e.draining}, {"srt", e.srt_address}}
      .dump();
}

namespace {

// Values come from a shared store: anything may be there, so every field is checked.
template <typename T>
bool get(const nlohmann::json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end()) return false;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return false;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return false;
  } else {
    // A number the field cannot hold is refused, not narrowed: a capacity of 2^32 + 1 must
    // not read as 1 (nlohmann's get<int> truncates).
    if (!it->is_number_integer()) return false;
    const bool fits = it->is_number_unsigned() ? std::in_range<T>(it->get<std::uint64_t>())
                                               : std::in_range<T>(it->get<std::int64_t>());
    if (!fits) return false;
  }
  out = it->get<T>();
  return true;
}

Result<nlohmann::json> parse_object(std::string_view text, const char* what) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return make_error(Errc::kMalformed, std::string("registry: bad ") + what);
  return j;
}

}  // namespace

Result<StreamEntry> decode_stream(std::string_view text) {
  auto j = parse_object(text, "stream entry");
  if (!j) return j.error();
  StreamEntry e;
  if (!get(*j, "id", e.playback_id) || !get(*j, "address", e.address) ||
      !get(*j, "session", e.session) || !get(*j, "next_sequence", e.next_sequence) ||
      !get(*j, "discontinuities", e.discontinuities) || e.playback_id.empty() ||
      e.address.empty()) {
    return make_error(Errc::kMalformed, "registry: stream entry lacks a field");
  }
  return e;
}

Result<NodeEntry> decode_node(std::string_view text) {
  auto j = parse_object(text, "node entry");
  if (!j) return j.error();
  NodeEntry e;
  if (!get(*j, "address", e.address) || !get(*j, "rtmp", e.rtmp_address) ||
      !get(*j, "capacity", e.capacity) || !get(*j, "load", e.load) ||
      !get(*j, "draining", e.draining) || e.address.empty()) {
    return make_error(Errc::kMalformed, "registry: node entry lacks a field");
  }
  // Optional: a server of a release before SRT takes none.
  if (j->contains("srt") && !get(*j, "srt", e.srt_address))
    return make_error(Errc::kMalformed, "registry: node entry's srt is not a string");
  return e;
}

}  // namespace sluice::registry
