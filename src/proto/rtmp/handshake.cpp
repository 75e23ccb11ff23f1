#include "proto/rtmp/handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::rtmp {
namespace {

constexpr std::size_t kDigestSize = 32;
// C0/S0 + C1/S1.
constexpr std::size_t kFirstFlight = 1 + kHandshakeSize;

// The digest ("complex") handshake is not in the published spec; these constants come from
// the Flash Player / FMS implementation as documented by nginx-rtmp, librtmp and FFmpeg.
constexpr std::array<std::uint8_t, 32> kKeyTail = {
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
};
constexpr std::string_view kPlayerKey = "Genuine Adobe Flash Player 001";        // 30 bytes
constexpr std::string_view kServerKey = "Genuine Adobe Flash Media Server 001";  // 36 bytes
constexpr std::array<std::uint8_t, 4> kServerVersion = {0x0D, 0x0E, 0x0A, 0x0D};
// Flash Player 9.0.124.2, the version FFmpeg announces; any non-zero value marks a digest C1.
constexpr std::array<std::uint8_t, 4> kClientVersion = {0x09, 0x00, 0x7C, 0x02};

using Digest = std::array<std::uint8_t, kDigestSize>;
using Block = std::span<const std::uint8_t>;  // one 1536-byte C1/S1/C2/S2

std::vector<std::uint8_t> full_key(std::string_view prefix) {
  std::vector<std::uint8_t> key(prefix.begin(), prefix.end());
  key.insert(key.end(), kKeyTail.begin(), kKeyTail.end());
  return key;
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Digest hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(),
       &len);
  assert(len == kDigestSize);
  return out;
}

// Two digest layouts exist. Each has a 4-byte field whose byte sum picks where in a 764-byte
// half of the block the 32-byte digest sits. Schema 1 (offset bytes 8..11) is what librtmp
// and FFmpeg clients send; schema 0 (offset bytes 772..775) is the other Flash layout.
enum class Schema { kZero, kOne };

std::size_t digest_offset(Block block, Schema schema) {
  const std::size_t base = schema == Schema::kOne ? 8 : 772;
  const unsigned sum = block[base] + block[base + 1] + block[base + 2] + block[base + 3];
  return sum % 728 + base + 4;
}

// HMAC over the block with the digest bytes left out.
Digest block_digest(Block block, std::size_t offset, std::span<const std::uint8_t> key) {
  std::array<std::uint8_t, kHandshakeSize - kDigestSize> joined;
  std::copy_n(block.begin(), offset, joined.begin());
  std::copy(block.begin() + offset + kDigestSize, block.end(), joined.begin() + offset);
  return hmac_sha256(key, joined);
}

struct FoundDigest {
  Schema schema;
  std::size_t offset;
};

std::optional<FoundDigest> find_digest(Block block, std::span<const std::uint8_t> key) {
  for (Schema schema : {Schema::kOne, Schema::kZero}) {
    const std::size_t offset = digest_offset(block, schema);
    const Digest expected = block_digest(block, offset, key);
    if (CRYPTO_memcmp(expected.data(), block.data() + offset, kDigestSize) == 0) {
      return FoundDigest{schema, offset};
    }
  }
  return std::nullopt;
}

void write_digest(std::span<std::uint8_t> block, Schema schema, std::span<const std::uint8_t> key) {
  const std::size_t offset = digest_offset(block, schema);
  const Digest d = block_digest(block, offset, key);
  std::copy(d.begin(), d.end(), block.begin() + offset);
}

// S2 for a digest C1, or C2 for a digest S1: random bytes signed with a key derived from the
// peer's digest, which proves we saw the peer's first block.
void fill_digest_response(std::span<std::uint8_t> block, std::span<const std::uint8_t> peer_digest,
                          std::span<const std::uint8_t> full_key_bytes, const RandomFill& random) {
  random(block.first(kHandshakeSize - kDigestSize));
  const Digest key = hmac_sha256(full_key_bytes, peer_digest);
  const Digest sig = hmac_sha256(key, block.first(kHandshakeSize - kDigestSize));
  std::copy(sig.begin(), sig.end(), block.begin() + (kHandshakeSize - kDigestSize));
}

void put_be32(std::span<std::uint8_t> out, std::uint32_t v) {
  out[0] = static_cast<std::uint8_t>(v >> 24);
  out[1] = static_cast<std::uint8_t>(v >> 16);
  out[2] = static_cast<std::uint8_t>(v >> 8);
  out[3] = static_cast<std::uint8_t>(v);
}

// Appends up to `want - buf.size()` bytes of `in` to `buf`; returns how many were taken.
std::size_t fill_to(std::vector<std::uint8_t>& buf, std::size_t want, Block in) {
  const std::size_t take = std::min(in.size(), want - buf.size());
  buf.insert(buf.end(), in.begin(), in.begin() + take);
  return take;
}

}  // namespace

RandomFill default_random_fill() {
  return [](std::span<std::uint8_t> out) {
    // Handshake randomness only needs to be unpredictable enough to defeat caching proxies;
    // fall back to a PRNG if the OpenSSL pool is unavailable.
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) == 1) return;
    std::random_device rd;
    std::mt19937 gen(rd());
    for (auto& b : out)
      b = static_cast<std::uint8_t>(gen());
  };
}

ServerHandshake::ServerHandshake(RandomFill random, std::uint32_t epoch_ms)
    : random_(std::move(random)), epoch_ms_(epoch_ms) {}

Result<ServerHandshake::Step> ServerHandshake::feed(std::span<const std::uint8_t> in) {
  Step step;
  if (state_ == State::kDone) {
    step.done = true;
    return step;
  }
  if (state_ == State::kC0C1) {
    step.consumed += fill_to(buf_, kFirstFlight, in);
    if (!buf_.empty() && buf_[0] != kRtmpVersion) {
      return make_error(Errc::kMalformed, "rtmp handshake: version " + std::to_string(buf_[0]) +
                                              " (only 3, plain RTMP, is supported)");
    }
    if (buf_.size() < kFirstFlight) return step;

    const Block c1 = Block(buf_).subspan(1);
    std::optional<FoundDigest> found;
    if (c1[4] | c1[5] | c1[6] | c1[7]) found = find_digest(c1, as_bytes(kPlayerKey));

    step.out.resize(1 + 2 * kHandshakeSize);
    step.out[0] = kRtmpVersion;
    const std::span<std::uint8_t> s1 = std::span(step.out).subspan(1, kHandshakeSize);
    const std::span<std::uint8_t> s2 = std::span(step.out).subspan(1 + kHandshakeSize);
    put_be32(s1, epoch_ms_);
    random_(s1.subspan(8));
    if (found) {
      digest_ = true;
      std::copy(kServerVersion.begin(), kServerVersion.end(), s1.begin() + 4);
      write_digest(s1, found->schema, as_bytes(kServerKey));
      fill_digest_response(s2, c1.subspan(found->offset, kDigestSize), full_key(kServerKey),
                           random_);
    } else {
      // Simple handshake: S1 zero field, S2 echoes C1.
      std::fill_n(s1.begin() + 4, 4, 0);
      std::copy(c1.begin(), c1.end(), s2.begin());
    }
    buf_.clear();
    buf_.shrink_to_fit();
    state_ = State::kC2;
  }
  // C2 is counted, not checked: clients disagree on what they echo, and nothing depends on it.
  const std::size_t take = std::min(in.size() - step.consumed, kHandshakeSize - c2_received_);
  c2_received_ += take;
  step.consumed += take;
  if (c2_received_ == kHandshakeSize) {
    state_ = State::kDone;
    step.done = true;
  }
  return step;
}

ClientHandshake::ClientHandshake(bool digest, RandomFill random)
    : digest_(digest), random_(std::move(random)) {}

std::vector<std::uint8_t> ClientHandshake::start() {
  c1_.assign(kHandshakeSize, 0);
  random_(std::span(c1_).subspan(8));
  if (digest_) {
    std::copy(kClientVersion.begin(), kClientVersion.end(), c1_.begin() + 4);
    write_digest(c1_, Schema::kOne, as_bytes(kPlayerKey));
  }
  std::vector<std::uint8_t> out;
  out.reserve(kFirstFlight);
  out.push_back(kRtmpVersion);
  out.insert(out.end(), c1_.begin(), c1_.end());
  return out;
}

Result<ClientHandshake::Step> ClientHandshake::feed(std::span<const std::uint8_t> in) {
  Step step;
  if (done_) {
    step.done = true;
    return step;
  }
  step.consumed = fill_to(buf_, 1 + 2 * kHandshakeSize, in);
  if (!buf_.empty() && buf_[0] != kRtmpVersion) {
    return make_error(Errc::kMalformed,
                      "rtmp handshake: server version " + std::to_string(buf_[0]));
  }
  if (buf_.size() < 1 + 2 * kHandshakeSize) return step;

  const Block s1 = Block(buf_).subspan(1, kHandshakeSize);
  std::optional<FoundDigest> found;
  if (s1[4] | s1[5] | s1[6] | s1[7]) found = find_digest(s1, as_bytes(kServerKey));
  server_digest_valid_ = found.has_value();
  // S2 is not verified: servers that answer a digest C1 with an echo are common and harmless.
  step.out.resize(kHandshakeSize);
  if (digest_ && found) {
    fill_digest_response(step.out, s1.subspan(found->offset, kDigestSize), full_key(kPlayerKey),
                         random_);
  } else {
    std::copy(s1.begin(), s1.end(), step.out.begin());
  }
  buf_.clear();
  buf_.shrink_to_fit();
  done_ = true;
  step.done = true;
  return step;
}

}  // namespace sluice::rtmp
