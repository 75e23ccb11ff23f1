#include "http/viewers.h"

#include <iterator>

namespace sluice::http {

namespace {
constexpr std::chrono::seconds kViewerWindow{30};  // a viewer polls far more often
}  // namespace

void ViewerCounter::seen(const std::string& playback_id, std::string_view address) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  seen_[playback_id][std::string(address)] = now;
  if (now - last_sweep_ < kViewerWindow) return;
  last_sweep_ = now;
  for (auto it = seen_.begin(); it != seen_.end();) {
    std::erase_if(it->second,
                  [&](const auto& entry) { return now - entry.second > kViewerWindow; });
    it = it->second.empty() ? seen_.erase(it) : std::next(it);
  }
}

std::size_t ViewerCounter::count(const std::string& playback_id) {
  const auto cutoff = std::chrono::steady_clock::now() - kViewerWindow;
  std::lock_guard lock(mutex_);
  auto it = seen_.find(playback_id);
  if (it == seen_.end()) return 0;
  std::erase_if(it->second, [&](const auto& entry) { return entry.second < cutoff; });
  const std::size_t n = it->second.size();
  if (n == 0) seen_.erase(it);
  return n;
}

}  // namespace sluice::http
