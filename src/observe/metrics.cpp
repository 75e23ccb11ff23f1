#include "observe/metrics.h"

#include "observe/log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice::observe {

void append_metric(std::string& out, const char* name, const char* type, const char* help,
                   double value) {
  append_family(out, name, type, help);
  out += fmt::format("{} {}\n", name, value);
}

void append_family(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void append_sample(std::string& out, const char* name,
                   std::initializer_list<std::pair<const char*, std::string_view>> labels,
                   double value) {
  out += name;
  char separator = '{';
  for (const auto& [label, text] : labels) {
    out += separator;
    out += label;
    out += "=\"";
    for (char c : text) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
    separator = ',';
  }
  if (separator == ',') out += '}';
  out += fmt::format(" {}\n", value);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1) {}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i])
    ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(std::llround(std::max(value, 0.0) * 1e6)),
                        std::memory_order_relaxed);
}

void Histogram::append(std::string& out, const char* name, const char* help) const {
  append_family(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    const std::string le = i < bounds_.size() ? fmt::format("{}", bounds_[i]) : "+Inf";
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, le, cumulative);
  }
  out += fmt::format("{}_sum {}\n{}_count {}\n", name,
                     static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6, name,
                     count_.load(std::memory_order_relaxed));
}

namespace {

// Fields of /proc/self/stat after the command name (which may hold spaces), numbered as in
// proc(5): field 3 is the state.
std::vector<std::string> self_stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> fields(3);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 1));
  for (std::string f; rest >> f;)
    fields.push_back(f);
  return fields;
}

double boot_time_s() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

void append_process_metrics(std::string& out) {
  // Counted in memory, so they are there even when the process is out of descriptors and
  // cannot read /proc.
  append_metric(out, "sluice_connections_shed_total", "counter",
                "Connections closed at accept because the process was out of descriptors.",
                process_counters().connections_shed.load());
  append_metric(out, "sluice_proxy_headers_total", "counter",
                "PROXY protocol headers read from trusted networks.",
                process_counters().proxy_headers.load());
  append_metric(out, "sluice_proxy_headers_refused_total", "counter",
                "Connections refused over a PROXY protocol header (malformed, missing, late, or "
                "from an untrusted network).",
                process_counters().proxy_headers_refused.load());
  append_metric(out, "sluice_log_lines_suppressed_total", "counter",
                "Log lines dropped by the per-cause rate limit.", log_lines_suppressed());
  const auto fields = self_stat_fields();
  if (fields.size() < 25) return;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double cpu = (std::stod(fields[14]) + std::stod(fields[15])) / ticks;
  const double rss = std::stod(fields[24]) * static_cast<double>(sysconf(_SC_PAGESIZE));
  static const double start = boot_time_s() + std::stod(fields[22]) / ticks;
  std::error_code ec;
  std::size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  append_metric(out, "process_cpu_seconds_total", "counter", "User and system CPU time.", cpu);
  append_metric(out, "process_resident_memory_bytes", "gauge", "Resident memory.", rss);
  append_metric(out, "process_open_fds", "gauge", "Open file descriptors.", fds);
  append_metric(out, "process_start_time_seconds", "gauge", "Start time, seconds since the epoch.",
                start);
}

ProcessCounters& process_counters() {
  static ProcessCounters counters;
  return counters;
}

}  // namespace sluice::observe
