// Stream keys are secrets and playback IDs are public.
// Pure functions: parsing the publish name, validating keys, deriving IDs, masking for logs.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::admission {

// "key?youtube=x&push=rtmp%3A..." -> key and the raw query (kept for relays).
struct PublishName {
  std::string key;
  std::string query;
};
PublishName split_publish_name(std::string_view name);

// Decoded query parameters in order ("a=1&b=%41" -> {a,1},{b,A}); malformed escapes are kept.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

// Keys and playback IDs: 1..128 of [A-Za-z0-9_-]. Anything else is refused before it can
// become a path, a registry key or a log line.
bool valid_stream_name(std::string_view name);

enum class PlaybackIdMode { kHash, kKey };
// kHash: first 20 hex digits of HMAC-SHA256(secret, key); kKey: the key itself (compatibility
// with the reference system, where the key is the public playback path).
std::string derive_playback_id(PlaybackIdMode mode, std::string_view secret, std::string_view key);

// "abcdef123" -> "abc…(9)": enough to tell keys apart in logs, never the secret.
std::string mask_key(std::string_view key);

}  // namespace sluice::admission
