#include "admission/stream_key.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>

namespace sluice::admission {

PublishName split_publish_name(std::string_view name) {
  const auto q = name.find('?');
  if (q == std::string_view::npos) return {std::string(name), {}};
  return {std::string(name.substr(0, q)), std::string(name.substr(q + 1))};
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(percent_decode(part), std::string{});
    } else {
      out.emplace_back(percent_decode(part.substr(0, eq)), percent_decode(part.substr(eq + 1)));
    }
  }
  return out;
}

bool valid_stream_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string derive_playback_id(PlaybackIdMode mode, std::string_view secret, std::string_view key) {
  if (mode == PlaybackIdMode::kKey) return std::string(key);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(key.data()), key.size(), mac, &mac_len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned int i = 0; i < 10 && i < mac_len; ++i) {
    id += kHex[mac[i] >> 4];
    id += kHex[mac[i] & 0xf];
  }
  return id;
}

std::string mask_key(std::string_view key) {
  const auto shown = key.size() > 6 ? 3 : key.size() / 2;
  return std::string(key.substr(0, shown)) + "…(" + std::to_string(key.size()) + ")";
}

}  // namespace sluice::admission
