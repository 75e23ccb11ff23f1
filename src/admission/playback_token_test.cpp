#include "admission/playback_token.h"

#include <gtest/gtest.h>
#include <jwt.h>

#include <string>

namespace sluice::admission {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;
const std::string kSecret = "a shared secret of some length";

// A token made with libjwt itself (the integration tests use PyJWT, a third party's).
std::string mint(const std::string& key, jwt_alg_t alg, const std::string& sub, long exp,
                 const std::string& ip = {}) {
  jwt_t* jwt = nullptr;
  EXPECT_EQ(jwt_new(&jwt), 0);
  if (!sub.empty()) jwt_add_grant(jwt, "sub", sub.c_str());
  if (exp) jwt_add_grant_int(jwt, "exp", exp);
  if (!ip.empty()) jwt_add_grant(jwt, "ip", ip.c_str());
  EXPECT_EQ(jwt_set_alg(jwt, alg, reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size())),
            0);
  char* text = jwt_encode_str(jwt);
  std::string out = text ? text : "";
  free(text);
  jwt_free(jwt);
  return out;
}

TokenProblem problem(const PlaybackTokens& tokens, const std::string& token,
                     const std::string& id = "stream1", const std::string& ip = "192.0.2.1") {
  auto r = tokens.check(token, id, ip, kNow);
  EXPECT_FALSE(r);
  return r ? TokenProblem::kMalformed : PlaybackTokens::problem_of(r.error());
}

TEST(PlaybackTokens, Hs256Claims) {
  const PlaybackTokens tokens({TokenAlgorithm::kHs256, kSecret});
  EXPECT_TRUE(tokens.check(mint(kSecret, JWT_ALG_HS256, "stream1", kNow + 60), "stream1",
                           "192.0.2.1", kNow));
  EXPECT_TRUE(tokens.check(mint(kSecret, JWT_ALG_HS256, "stream1", kNow + 60, "192.0.2.1"),
                           "stream1", "192.0.2.1", kNow));
  EXPECT_EQ(problem(tokens, mint(kSecret, JWT_ALG_HS256, "stream1", kNow + 60, "192.0.2.9")),
            TokenProblem::kAddress);
  EXPECT_EQ(problem(tokens, mint(kSecret, JWT_ALG_HS256, "stream2", kNow + 60)),
            TokenProblem::kStream);
  EXPECT_EQ(problem(tokens, mint(kSecret, JWT_ALG_HS256, "stream1", kNow)), TokenProblem::kExpired);
  EXPECT_EQ(problem(tokens, mint(kSecret, JWT_ALG_HS256, "stream1", 0)),
            TokenProblem::kMalformed);  // no exp: never expires, so refused
  EXPECT_EQ(problem(tokens, mint("another secret entirely", JWT_ALG_HS256, "stream1", kNow + 60)),
            TokenProblem::kSignature);
  EXPECT_EQ(problem(tokens, mint(kSecret, JWT_ALG_HS512, "stream1", kNow + 60)),
            TokenProblem::kAlgorithm);
  EXPECT_EQ(problem(tokens, ""), TokenProblem::kMissing);
  EXPECT_EQ(problem(tokens, "not.a.token"), TokenProblem::kMalformed);
  EXPECT_EQ(problem(tokens, std::string(5000, 'a')), TokenProblem::kMalformed);
}

TEST(PlaybackTokens, TamperedAndUnsignedTokensFail) {
  const PlaybackTokens tokens({TokenAlgorithm::kHs256, kSecret});
  std::string good = mint(kSecret, JWT_ALG_HS256, "stream1", kNow + 60);
  // Another payload under the same signature.
  const auto first_dot = good.find('.'), second_dot = good.rfind('.');
  const std::string other_payload =
      mint(kSecret, JWT_ALG_HS256, "stream2", kNow + 60).substr(first_dot + 1);
  std::string swapped = good.substr(0, first_dot + 1) +
                        other_payload.substr(0, other_payload.find('.')) + good.substr(second_dot);
  EXPECT_EQ(problem(tokens, swapped, "stream2"), TokenProblem::kSignature);
  // alg "none": {"alg":"none","typ":"JWT"} and {"sub":"stream1","exp":1900000000}, unsigned.
  const std::string none =
      "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJzdHJlYW0xIiwiZXhwIjoxOTAwMDAwMDAwfQ.";
  EXPECT_EQ(problem(tokens, none), TokenProblem::kAlgorithm);
}

TEST(PlaybackTokens, PublicKeyIsNoHmacSecret) {
  // An RS256 configuration whose public key an attacker knows: a token signed with that PEM
  // as an HS256 secret is refused for its algorithm, before any signature is checked.
  const std::string pem =
      "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAK1v\n-----END PUBLIC "
      "KEY-----\n";
  const PlaybackTokens tokens({TokenAlgorithm::kRs256, pem});
  EXPECT_EQ(problem(tokens, mint(pem, JWT_ALG_HS256, "stream1", kNow + 60)),
            TokenProblem::kAlgorithm);
}

TEST(PlaybackTokens, TokenFromQueryOrCookie) {
  EXPECT_EQ(token_from("/a/live.m3u8?x=1&token=abc.def.ghi", ""), "abc.def.ghi");
  EXPECT_EQ(token_from("/a/live.m3u8", "theme=dark; sluice_token=t.o.k"), "t.o.k");
  EXPECT_EQ(token_from("/a/live.m3u8?token=q.q.q", "sluice_token=c.c.c"), "q.q.q");
  EXPECT_EQ(token_from("/a/live.m3u8?tokens=x", "xsluice_token=y"), "");
}

}  // namespace
}  // namespace sluice::admission
