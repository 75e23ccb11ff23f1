#include "observe/log.h"

#include <spdlog/pattern_formatter.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace sluice::observe {

namespace {

// The fields of the Logger whose line is being formatted. spdlog's default logger formats on
// the calling thread, so a thread-local hands them to the formatter without changing
// spdlog's API for the plain spdlog::info() calls, which simply have none.
thread_local const LogFields* current_fields = nullptr;

std::string utc_time(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms.count() % 1000);
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto level = spdlog::level::to_string_view(msg.level);
    const std::string line =
        json_log_line(utc_time(msg.time), std::string_view(level.data(), level.size()),
                      current_fields ? *current_fields : LogFields{},
                      std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

std::atomic<bool> json_format{false};

}  // namespace

void setup_logging(const std::string& level, LogFormat format) {
  spdlog::set_level(spdlog::level::from_str(level));
  json_format = format == LogFormat::kJson;
  if (json_format) {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
}

std::string json_log_line(std::string_view time, std::string_view level, const LogFields& fields,
                          std::string_view message) {
  // Built by hand to keep the key order readable; values go through nlohmann for escaping.
  // Invalid UTF-8 (from a peer's bytes) is replaced rather than thrown about.
  const auto quoted = [](std::string_view text) {
    return nlohmann::json(std::string(text))
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict) on chains of operator+.
  std::string out = "{\"time\":";
  out.append(quoted(time)).append(",\"level\":").append(quoted(level));
  for (const auto& [key, value] : fields)
    out.append(",").append(quoted(key)).append(":").append(quoted(value));
  out.append(",\"msg\":").append(quoted(message)).append("}");
  return out;
}

Logger& Logger::with(const std::string& key, std::string value) {
  for (auto& field : fields_) {
    if (field.first == key) {
      field.second = std::move(value);
      return *this;
    }
  }
  fields_.emplace_back(key, std::move(value));
  return *this;
}

void Logger::log(spdlog::level::level_enum level, std::string_view message) const {
  if (!spdlog::should_log(level)) return;
  if (!json_format) {
    if (tag_.empty()) {
      spdlog::log(level, "{}", message);
    } else {
      spdlog::log(level, "{}: {}", tag_, message);
    }
    return;
  }
  current_fields = &fields_;
  spdlog::log(level, "{}", message);
  current_fields = nullptr;
}

LogRateLimiter::Decision LogRateLimiter::admit(std::string_view cause, Clock::time_point now) {
  auto it = causes_.find(cause);
  if (it == causes_.end()) it = causes_.emplace(std::string(cause), Cause{now, 0, 0}).first;
  Cause& c = it->second;
  if (now - c.window_start >= window_) {
    c.window_start = now;
    c.written = 0;
  }
  if (c.written >= burst_) {
    ++c.suppressed;
    return {};
  }
  ++c.written;
  return {true, std::exchange(c.suppressed, 0)};
}

namespace {

std::mutex limiter_mutex;
LogRateLimiter limiter(20, std::chrono::seconds(10));
std::atomic<std::uint64_t> suppressed_total{0};

}  // namespace

void set_log_rate_limit(std::size_t burst, std::chrono::seconds window) {
  std::lock_guard lock(limiter_mutex);
  limiter = LogRateLimiter(burst, window);
}

namespace {

// The line to write for a line of `cause`, with the count of those dropped before it; nullopt
// if it is dropped.
std::optional<std::string> admit_limited(std::string_view cause, std::string_view message) {
  LogRateLimiter::Decision decision;
  {
    std::lock_guard lock(limiter_mutex);
    decision = limiter.admit(cause, LogRateLimiter::Clock::now());
  }
  if (!decision.write) {
    suppressed_total.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  if (decision.suppressed == 0) return std::string(message);
  return fmt::format("{} ({} more lines of \"{}\" were suppressed)", message, decision.suppressed,
                     cause);
}

}  // namespace

void log_limited(spdlog::level::level_enum level, std::string_view cause,
                 std::string_view message) {
  if (!spdlog::should_log(level)) return;
  if (const auto line = admit_limited(cause, message)) spdlog::log(level, "{}", *line);
}

void Logger::log_limited(spdlog::level::level_enum level, std::string_view cause,
                         std::string_view message) const {
  if (!spdlog::should_log(level)) return;
  if (const auto line = admit_limited(cause, message)) log(level, *line);
}

std::uint64_t log_lines_suppressed() {
  return suppressed_total.load(std::memory_order_relaxed);
}

}  // namespace sluice::observe
