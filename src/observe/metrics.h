// Prometheus text format (version 0.0.4) for every role: single samples, labelled families,
// histograms, and the standard process_* metrics. Pure formatting plus lock-free counters.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace sluice::observe {

// One metric with its HELP and TYPE lines.
void append_metric(std::string& out, const char* name, const char* type, const char* help,
                   double value);
template <typename Number>
void append_metric(std::string& out, const char* name, const char* type, const char* help,
                   Number value) {
  append_metric(out, name, type, help, static_cast<double>(value));
}

// HELP and TYPE of a family whose samples follow, each from append_sample.
void append_family(std::string& out, const char* name, const char* type, const char* help);
// `labels` is name/value pairs; values are escaped as the format requires.
void append_sample(std::string& out, const char* name,
                   std::initializer_list<std::pair<const char*, std::string_view>> labels,
                   double value);

// A histogram with fixed upper bounds, safe to observe from any thread.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // The whole family: name_bucket{le=...} (cumulative), name_sum, name_count.
  void append(std::string& out, const char* name, const char* help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> buckets_;  // per bound, then +Inf; not cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};  // sum in millionths, so it can be atomic
};

// Counters of the whole process, bumped from anywhere.
struct ProcessCounters {
  // Connections accepted and closed at once because the process was out of descriptors.
  std::atomic<std::uint64_t> connections_shed{0};
  // PROXY protocol headers taken from trusted networks, and connections refused over one
  // (malformed, missing, late, or from a network that is not trusted).
  std::atomic<std::uint64_t> proxy_headers{0};
  std::atomic<std::uint64_t> proxy_headers_refused{0};
};
ProcessCounters& process_counters();

// sluice_connections_shed_total, sluice_proxy_headers_total,
// sluice_proxy_headers_refused_total and sluice_log_lines_suppressed_total; then
// process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
// process_start_time_seconds: the names every Prometheus client library exports.
void append_process_metrics(std::string& out);

}  // namespace sluice::observe
