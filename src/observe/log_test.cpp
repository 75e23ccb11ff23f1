#include "observe/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::observe {
namespace {

TEST(JsonLogLine, CarriesFieldsInOrderAndEscapes) {
  const std::string line =
      json_log_line("2026-12-02T08:00:00.000Z", "info", {{"session", "rtmp#3"}, {"stream", "abc"}},
                    "said \"hi\"\n\tthen left");
  EXPECT_EQ(line, R"({"time":"2026-12-02T08:00:00.000Z","level":"info","session":"rtmp#3",)"
                  R"("stream":"abc","msg":"said \"hi\"\n\tthen left"})");
}

TEST(JsonLogLine, ReplacesInvalidUtf8InsteadOfThrowing) {
  const std::string line = json_log_line("t", "warn", {}, std::string("bad \xff byte"));
  const auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["level"], "warn");
  EXPECT_NE(parsed["msg"].get<std::string>().find("byte"), std::string::npos);
}

TEST(Logger, WithReplacesAField) {
  Logger log("rtmp#1");
  log.with("session", "rtmp#1").with("stream", "a").with("stream", "b");
  EXPECT_EQ(log.tag(), "rtmp#1");
  // Through spdlog's default logger (stdout): a replaced field does not duplicate.
  testing::internal::CaptureStdout();
  setup_logging("info", LogFormat::kJson);
  log.info("hello {}", 42);
  spdlog::info("plain");
  setup_logging("info", LogFormat::kText);
  const std::string err = testing::internal::GetCapturedStdout();
  const auto first = nlohmann::json::parse(err.substr(0, err.find('\n')));
  EXPECT_EQ(first["session"], "rtmp#1");
  EXPECT_EQ(first["stream"], "b");
  EXPECT_EQ(first["msg"], "hello 42");
  const auto second = nlohmann::json::parse(err.substr(err.find('\n') + 1));
  EXPECT_EQ(second["msg"], "plain");
  EXPECT_FALSE(second.contains("session"));
}

TEST(LogRateLimiter, LetsABurstThroughPerCauseAndCountsTheRest) {
  using namespace std::chrono_literals;
  LogRateLimiter limiter(2, 10s);
  const LogRateLimiter::Clock::time_point t0{};
  EXPECT_TRUE(limiter.admit("bad request", t0).write);
  EXPECT_TRUE(limiter.admit("bad request", t0 + 1s).write);
  EXPECT_FALSE(limiter.admit("bad request", t0 + 2s).write);
  EXPECT_FALSE(limiter.admit("bad request", t0 + 3s).write);
  // Another cause has a budget of its own.
  EXPECT_TRUE(limiter.admit("accept", t0 + 3s).write);
  // A new window: the first line written reports what was dropped, once.
  const auto next = limiter.admit("bad request", t0 + 10s);
  EXPECT_TRUE(next.write);
  EXPECT_EQ(next.suppressed, 2u);
  EXPECT_EQ(limiter.admit("bad request", t0 + 11s).suppressed, 0u);
}

}  // namespace
}  // namespace sluice::observe
