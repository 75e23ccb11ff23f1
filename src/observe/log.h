// The process's log: spdlog's default logger, as text or as one JSON object per line. A
// Logger names who speaks (a session, a stream's transcoder, a relay): text lines start with
// its tag, JSON lines carry its fields ("session", "stream", ...) for log search.
// Stream keys never reach a log line unmasked: callers log ingest::mask_key(key).
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::observe {

enum class LogFormat { kText, kJson };

// `level` is spdlog's (trace, debug, info, warn, error, critical, off).
void setup_logging(const std::string& level, LogFormat format);

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Lets `burst` lines of each cause through per `window` and counts the rest, so a peer that
// sends garbage on purpose cannot fill the disk through the log. Causes are names chosen in
// the code ("http bad request"), never text from the peer, so their number is bounded.
// Pure (the caller gives the time); not thread-safe.
class LogRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  LogRateLimiter(std::size_t burst, Clock::duration window) : burst_(burst), window_(window) {}

  struct Decision {
    bool write = false;
    std::uint64_t suppressed = 0;  // lines of this cause dropped since the last one written
  };
  Decision admit(std::string_view cause, Clock::time_point now);

 private:
  struct Cause {
    Clock::time_point window_start;
    std::size_t written = 0;
    std::uint64_t suppressed = 0;
  };
  std::size_t burst_;
  Clock::duration window_;
  std::map<std::string, Cause, std::less<>> causes_;
};

// Sets the process-wide limit of log_limited (default: 20 lines per cause per 10 s).
void set_log_rate_limit(std::size_t burst, std::chrono::seconds window);
// Logs a line that a peer can cause, through the process-wide LogRateLimiter. The first line
// written after dropped ones says how many were dropped. Thread-safe.
void log_limited(spdlog::level::level_enum level, std::string_view cause, std::string_view message);
// Lines log_limited has dropped since the process started (sluice_log_lines_suppressed_total).
std::uint64_t log_lines_suppressed();

// A JSON log line: {"time":...,"level":...,<fields>,"msg":...}. Pure, for tests.
std::string json_log_line(std::string_view time, std::string_view level, const LogFields& fields,
                          std::string_view message);

class Logger {
 public:
  explicit Logger(std::string tag = {}) : tag_(std::move(tag)) {}

  // Sets (or replaces) a JSON field.
  Logger& with(const std::string& key, std::string value);
  void set_tag(std::string tag) { tag_ = std::move(tag); }
  // A Logger for a part of this one: tag "<tag> <suffix>", one more field.
  Logger part(const std::string& suffix, const std::string& key, std::string value) const {
    Logger sub = *this;
    sub.tag_ += " " + suffix;
    sub.with(key, std::move(value));
    return sub;
  }
  const std::string& tag() const { return tag_; }

  void log(spdlog::level::level_enum level, std::string_view message) const;
  // A line a peer can cause, through the process-wide limit of log_limited().
  void log_limited(spdlog::level::level_enum level, std::string_view cause,
                   std::string_view message) const;

  template <typename... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) const {
    if (spdlog::should_log(spdlog::level::debug))
      log(spdlog::level::debug, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::info, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::warn, fmt::format(format, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::err, fmt::format(format, std::forward<Args>(args)...));
  }

 private:
  std::string tag_;
  LogFields fields_;
};

}  // namespace sluice::observe
