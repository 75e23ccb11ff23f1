#include "admission/playback_token.h"

#include <jwt.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace sluice::admission {

namespace {

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using Jwt = std::unique_ptr<jwt_t, JwtFree>;

Error refused(TokenProblem problem, const std::string& detail = {}) {
  return make_error(Errc::kRejected,
                    std::string(describe(problem)) + (detail.empty() ? "" : ": " + detail));
}

// A claim that is a string, or nullopt.
std::optional<std::string> text_claim(jwt_t* jwt, const char* name) {
  errno = 0;
  const char* value = jwt_get_grant(jwt, name);
  if (!value) return std::nullopt;
  return std::string(value);
}

std::optional<long> number_claim(jwt_t* jwt, const char* name) {
  errno = 0;
  const long value = jwt_get_grant_int(jwt, name);
  if (errno != 0) return std::nullopt;
  return value;
}

}  // namespace

const char* describe(TokenProblem problem) {
  switch (problem) {
    case TokenProblem::kMissing:
      return "no playback token";
    case TokenProblem::kMalformed:
      return "malformed playback token";
    case TokenProblem::kSignature:
      return "playback token signature does not verify";
    case TokenProblem::kAlgorithm:
      return "playback token signed with another algorithm";
    case TokenProblem::kExpired:
      return "playback token expired";
    case TokenProblem::kStream:
      return "playback token is for another stream";
    case TokenProblem::kAddress:
      return "playback token is for another address";
  }
  return "playback token refused";
}

TokenProblem PlaybackTokens::problem_of(const Error& error) {
  for (auto p : {TokenProblem::kMissing, TokenProblem::kMalformed, TokenProblem::kSignature,
                 TokenProblem::kAlgorithm, TokenProblem::kExpired, TokenProblem::kStream,
                 TokenProblem::kAddress}) {
    if (error.message.starts_with(describe(p))) return p;
  }
  return TokenProblem::kMalformed;
}

Result<Ok> PlaybackTokens::check(std::string_view token, std::string_view playback_id,
                                 std::string_view client_address, std::int64_t now_s) const {
  if (token.empty()) return refused(TokenProblem::kMissing);
  if (token.size() > config_.max_token_bytes)
    return refused(TokenProblem::kMalformed,
                   "longer than " + std::to_string(config_.max_token_bytes) + " bytes");
  // A JWT is base64url parts and dots; nothing else reaches libjwt or a playlist.
  for (const char c : token) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return refused(TokenProblem::kMalformed, "a character a JWT does not have");
  }
  const std::string text(token);  // libjwt wants it terminated
  // First without a key, only to read the header (libjwt then reports the algorithm as
  // "none", but keeps the header): the algorithm must be the configured one before the
  // signature is checked with that algorithm's key.
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, text.c_str(), nullptr, 0) != 0 || !raw)
    return refused(TokenProblem::kMalformed);
  Jwt unverified(raw);
  const jwt_alg_t wanted =
      config_.algorithm == TokenAlgorithm::kHs256 ? JWT_ALG_HS256 : JWT_ALG_RS256;
  const char* header_alg = jwt_get_header(unverified.get(), "alg");
  if (!header_alg || std::string_view(header_alg) != jwt_alg_str(wanted))
    return refused(TokenProblem::kAlgorithm, header_alg ? header_alg : "none given");
  raw = nullptr;
  if (jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(config_.key.data()),
                 static_cast<int>(config_.key.size())) != 0 ||
      !raw)
    return refused(TokenProblem::kSignature);
  Jwt verified(raw);
  if (jwt_get_alg(verified.get()) != wanted) return refused(TokenProblem::kAlgorithm);
  const auto expires = number_claim(verified.get(), "exp");
  if (!expires) return refused(TokenProblem::kMalformed, "no exp");
  if (*expires <= now_s) return refused(TokenProblem::kExpired);
  if (const auto not_before = number_claim(verified.get(), "nbf");
      not_before && *not_before > now_s)
    return refused(TokenProblem::kExpired, "not valid yet");
  const auto subject = text_claim(verified.get(), "sub");
  if (!subject || *subject != playback_id) return refused(TokenProblem::kStream);
  if (const auto ip = text_claim(verified.get(), "ip"); ip && *ip != client_address)
    return refused(TokenProblem::kAddress);
  return Ok{};
}

namespace {

// The value of `name` in a `;`- or `&`-separated list of name=value pairs.
std::string_view value_in(std::string_view list, char separator, std::string_view name) {
  while (!list.empty()) {
    const auto end = list.find(separator);
    auto pair = list.substr(0, end);
    list = end == std::string_view::npos ? std::string_view{} : list.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ')
      pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name &&
        pair[name.size()] == '=')
      return pair.substr(name.size() + 1);
  }
  return {};
}

}  // namespace

std::string token_from(std::string_view target, std::string_view cookie_header) {
  if (const auto q = target.find('?'); q != std::string_view::npos) {
    if (auto token = value_in(target.substr(q + 1), '&', "token"); !token.empty())
      return std::string(token);
  }
  return std::string(value_in(cookie_header, ';', "sluice_token"));
}

Result<std::string> check_request(const PlaybackTokens& tokens, std::string_view target,
                                  std::string_view cookie_header, std::string_view playback_id,
                                  std::string_view client_address) {
  const std::string token = token_from(target, cookie_header);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (auto ok = tokens.check(token, playback_id, client_address, now); !ok) return ok.error();
  return token_from(target, "").empty() ? std::string() : "token=" + token;
}

}  // namespace sluice::admission
