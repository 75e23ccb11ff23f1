#include "admission/admission.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fstream>

namespace sluice::admission {
namespace {

const AdmissionConfig kHash{PlaybackIdMode::kHash, "secret"};

const Refusal& refusal(const Verdict& v) {
  return std::get<Refusal>(v);
}
const Admitted& admitted(const Verdict& v) {
  return std::get<Admitted>(v);
}

TEST(Admission, DrainingRefusesBeforeLookingAtTheKey) {
  auto r = check_publish_name("../bad", true);
  ASSERT_TRUE(std::holds_alternative<Refusal>(r));
  EXPECT_EQ(std::get<Refusal>(r).kind, RefusalKind::kDraining);
  EXPECT_STREQ(rtmp_status_code(RefusalKind::kDraining), "NetStream.Publish.Failed");
}

TEST(Admission, InvalidKeysAreRefusedAsBadName) {
  for (const char* name : {"", "a/b", "a.b?x=1", "?only=options", "key with space"}) {
    auto r = check_publish_name(name, false);
    ASSERT_TRUE(std::holds_alternative<Refusal>(r)) << name;
    EXPECT_EQ(std::get<Refusal>(r).kind, RefusalKind::kBadKey) << name;
  }
  EXPECT_STREQ(rtmp_status_code(RefusalKind::kBadKey), "NetStream.Publish.BadName");
}

TEST(Admission, SplitsKeyAndOptions) {
  auto r = check_publish_name("key_1?youtube=abc&push=rtmp%3A%2F%2Fh", false);
  ASSERT_TRUE(std::holds_alternative<PublishName>(r));
  EXPECT_EQ(std::get<PublishName>(r).key, "key_1");
  EXPECT_EQ(std::get<PublishName>(r).query, "youtube=abc&push=rtmp%3A%2F%2Fh");
}

TEST(Admission, RefusalByTheAuthorizerCarriesItsReason) {
  auto v = settle({"k", ""}, PublishDecision{false, "unknown stream key", std::nullopt}, kHash);
  EXPECT_EQ(refusal(v).kind, RefusalKind::kUnauthorized);
  EXPECT_EQ(refusal(v).description, "not authorized: unknown stream key");
}

TEST(Admission, DerivesThePlaybackIdFromTheKey) {
  auto v = settle({"k", "a=1"}, PublishDecision{true, "open", std::nullopt}, kHash);
  EXPECT_EQ(admitted(v).playback_id, derive_playback_id(PlaybackIdMode::kHash, "secret", "k"));
  EXPECT_NE(admitted(v).playback_id, "k");
  EXPECT_EQ(admitted(v).key, "k");
  EXPECT_EQ(admitted(v).options, "a=1");
  EXPECT_EQ(admitted(v).reason, "open");

  auto same = settle({"k", ""}, PublishDecision{true, "open", std::nullopt},
                     AdmissionConfig{PlaybackIdMode::kKey, ""});
  EXPECT_EQ(admitted(same).playback_id, "k");
}

TEST(Admission, AuthorizerNamedPlaybackIdMustBeValid) {
  auto named = settle({"k", ""}, PublishDecision{true, "webhook", "show-1"}, kHash);
  EXPECT_EQ(admitted(named).playback_id, "show-1");
  for (const char* bad : {"", "../etc", "a b", "x/y"}) {
    auto v = settle({"k", ""}, PublishDecision{true, "webhook", std::string(bad)}, kHash);
    ASSERT_TRUE(std::holds_alternative<Refusal>(v)) << bad;
    EXPECT_EQ(refusal(v).kind, RefusalKind::kBadPlaybackId) << bad;
  }
}

TEST(Admission, PlayNamesMustBeValidPlaybackIds) {
  EXPECT_EQ(Admission::playback_id_to_play("abc?x=1"), "abc");
  EXPECT_EQ(Admission::playback_id_to_play("a.b"), std::nullopt);
  EXPECT_EQ(Admission::playback_id_to_play(""), std::nullopt);
}

Verdict run_admit(Admission& admission, const std::string& name) {
  const PublishAttempt attempt{"stream", name, "1.2.3.4", "rtmp://h/stream", "FMLE/3.0", 7};
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, admission.admit(attempt), boost::asio::use_future);
  io.run();
  return future.get();
}

TEST(Admission, AdmitRunsTheWholeStepWithAKeyFile) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("admission_test_" + std::to_string(::getpid()) + ".keys");
  { std::ofstream(path) << "known\nnamed show-9\n"; }
  auto auth = KeyFileAuthorizer::open(path);
  ASSERT_TRUE(auth);
  std::atomic<bool> draining{false};
  Admission admission(kHash, **auth, &draining);

  EXPECT_EQ(admitted(run_admit(admission, "known?x=1")).options, "x=1");
  EXPECT_EQ(admitted(run_admit(admission, "named")).playback_id, "show-9");
  EXPECT_EQ(refusal(run_admit(admission, "other")).kind, RefusalKind::kUnauthorized);
  EXPECT_EQ(refusal(run_admit(admission, "bad/key")).kind, RefusalKind::kBadKey);
  draining = true;
  EXPECT_EQ(refusal(run_admit(admission, "known")).kind, RefusalKind::kDraining);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sluice::admission
