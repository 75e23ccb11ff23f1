// RTMP handshake, sans-I/O. Server side accepts both the simple handshake
// and the digest ("complex", Flash-style) handshake that Flash/FMS-era clients send and that
// librtmp/OBS-family clients validate (HMAC-SHA256 with the Genuine Adobe keys).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "media/result.h"

namespace sluice::rtmp {

inline constexpr std::size_t kHandshakeSize = 1536;
inline constexpr std::uint8_t kRtmpVersion = 3;

// Fills a buffer with random bytes; injected so tests are deterministic.
using RandomFill = std::function<void(std::span<std::uint8_t>)>;
RandomFill default_random_fill();

class ServerHandshake {
 public:
  explicit ServerHandshake(RandomFill random = default_random_fill(), std::uint32_t epoch_ms = 0);

  struct Step {
    std::size_t consumed = 0;       // bytes of `in` used; the rest belong to the chunk stream
    std::vector<std::uint8_t> out;  // bytes to send now (S0+S1+S2 once C0+C1 is complete)
    bool done = false;              // C2 received: the chunk stream starts
  };
  // Feed any number of bytes (1 at a time is fine). Errors: version byte not 3 (kMalformed).
  Result<Step> feed(std::span<const std::uint8_t> in);

  bool used_digest() const { return digest_; }

 private:
  RandomFill random_;
  std::uint32_t epoch_ms_;
  std::vector<std::uint8_t> buf_;  // C0+C1 until complete
  std::size_t c2_received_ = 0;
  enum class State { kC0C1, kC2, kDone } state_ = State::kC0C1;
  bool digest_ = false;
};

// Client side, used by relays and tests. Sends a digest C1 (as librtmp does) when asked.
class ClientHandshake {
 public:
  explicit ClientHandshake(bool digest = true, RandomFill random = default_random_fill());
  std::vector<std::uint8_t> start();  // C0+C1
  struct Step {
    std::size_t consumed = 0;
    std::vector<std::uint8_t> out;  // C2 once S0+S1+S2 is complete
    bool done = false;
  };
  Result<Step> feed(std::span<const std::uint8_t> in);
  // True when the server's S1 carried a valid FMS digest (only meaningful after done).
  bool server_digest_valid() const { return server_digest_valid_; }

 private:
  bool digest_;
  RandomFill random_;
  std::vector<std::uint8_t> c1_;
  std::vector<std::uint8_t> buf_;
  bool done_ = false;
  bool server_digest_valid_ = false;
};

}  // namespace sluice::rtmp
