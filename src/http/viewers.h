// HLS viewers per stream, for `sluice serve` and `sluice origin`. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace sluice::http {

// Distinct client addresses that fetched a playlist in the last 30 s (behind an origin or
// CDN, each of those counts once).
class ViewerCounter {
 public:
  void seen(const std::string& playback_id, std::string_view address);
  std::size_t count(const std::string& playback_id);

 private:
  std::mutex mutex_;
  std::map<std::string, std::map<std::string, std::chrono::steady_clock::time_point>, std::less<>>
      seen_;
  // Streams nobody asks about (ended ones) are swept from seen() now and then.
  std::chrono::steady_clock::time_point last_sweep_;
};

}  // namespace sluice::http
