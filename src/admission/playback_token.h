// Signed playback: a viewer's token is a JWT (HS256 with a shared secret, or RS256 with the
// issuer's public key) naming the playback ID it opens (`sub`), when it expires (`exp`) and,
// optionally, the one client address it is good for (`ip`). Verified with libjwt; this file
// only checks what the claims say. The algorithm is fixed by the configuration, never taken
// from the token, so neither "none" nor a token signed with the public key as an HMAC secret
// passes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "media/result.h"

namespace sluice::admission {

enum class TokenAlgorithm { kHs256, kRs256 };

struct TokenConfig {
  TokenAlgorithm algorithm = TokenAlgorithm::kHs256;
  std::string key;                     // the HMAC secret, or the PEM public key
  std::size_t max_token_bytes = 4096;  // longer is refused before it is parsed
};

// Why a token was refused; the text goes into the 403 (and the log).
enum class TokenProblem {
  kMissing,
  kMalformed,
  kSignature,
  kAlgorithm,
  kExpired,
  kStream,
  kAddress
};
const char* describe(TokenProblem problem);

class PlaybackTokens {
 public:
  explicit PlaybackTokens(TokenConfig config) : config_(std::move(config)) {}
  // Whether `token` opens `playback_id` for a client at `client_address` at `now_s` (Unix
  // seconds). Ok, or the first problem found.
  Result<Ok> check(std::string_view token, std::string_view playback_id,
                   std::string_view client_address, std::int64_t now_s) const;
  // The problem of a failed check (its error code is kRejected; the message says which).
  static TokenProblem problem_of(const Error& error);

 private:
  TokenConfig config_;
};

// The token of a request: the `token` query parameter, else the `sluice_token` cookie. Empty
// when there is none.
std::string token_from(std::string_view target, std::string_view cookie_header);

// An HTTP request for a file of `playback_id`, checked now: the query parameter its
// playlists' URIs must carry on ("token=...", when the token came in the query; empty when
// it came in a cookie), or why it is refused.
Result<std::string> check_request(const PlaybackTokens& tokens, std::string_view target,
                                  std::string_view cookie_header, std::string_view playback_id,
                                  std::string_view client_address);

}  // namespace sluice::admission
