#include "observe/metrics.h"

#include <gtest/gtest.h>

namespace sluice::observe {
namespace {

TEST(Histogram, BucketsAreCumulativeWithSumAndCount) {
  Histogram h({1, 5});
  h.observe(0.5);
  h.observe(1);  // on a bound: counted in that bucket (le is "less or equal")
  h.observe(3);
  h.observe(10);
  std::string out;
  h.append(out, "x_seconds", "An example.");
  EXPECT_EQ(out,
            "# HELP x_seconds An example.\n# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"1\"} 2\nx_seconds_bucket{le=\"5\"} 3\n"
            "x_seconds_bucket{le=\"+Inf\"} 4\nx_seconds_sum 14.5\nx_seconds_count 4\n");
}

TEST(Samples, LabelValuesAreEscaped) {
  std::string out;
  append_sample(out, "m", {{"a", "x\"y\\z\nw"}, {"b", "2"}}, 3);
  EXPECT_EQ(out, "m{a=\"x\\\"y\\\\z\\nw\",b=\"2\"} 3\n");
  out.clear();
  append_sample(out, "m", {}, 1.5);
  EXPECT_EQ(out, "m 1.5\n");
}

TEST(ProcessMetrics, ReadsThisProcess) {
  std::string out;
  append_process_metrics(out);
  EXPECT_NE(out.find("process_cpu_seconds_total "), std::string::npos);
  EXPECT_NE(out.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(out.find("process_open_fds "), std::string::npos);
  EXPECT_NE(out.find("process_start_time_seconds "), std::string::npos);
}

}  // namespace
}  // namespace sluice::observe
