// The process's log: spdlog's default logger, as text or as one JSON object per line. A
// Logger names who speaks (a session, a stream's transcoder, a relay): text lines start with
// its tag, JSON lines carry its fields ("session", "stream", ...) for log search.
// Stream keys never reach a log line unmasked: callers log ingest::mask_key(key).
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::observe {

enum class LogFormat { kText, kJson };

// `level` is spdlog's (trace, debug, info, warn, error, critical, off).
void setup_logging(const std::string& level, LogFormat format);

using LogFields = std::vector<std::pair<std::string, std::string>>;

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
