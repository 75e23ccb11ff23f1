#include "store/hls_mirror.h"

#include <spdlog/spdlog.h>

#include "package/media_playlist.h"
#include "store/files.h"

namespace sluice::store {

namespace fs = std::filesystem;

HlsMirror::HlsMirror(fs::path dir, const package::HlsStore& store, std::size_t keep_segments,
                     std::size_t max_queue)
    : dir_(std::move(dir)),
      store_(store),
      keep_(keep_segments),
      max_queue_(max_queue),
      worker_([this] { run(); }) {}

HlsMirror::~HlsMirror() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_one();
  worker_.join();
}

std::uint64_t HlsMirror::dropped_writes() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void HlsMirror::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (jobs_.size() >= max_queue_) {
      if (dropped_++ % 100 == 0) spdlog::warn("hls mirror: disk too slow, dropping writes");
      return;
    }
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void HlsMirror::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stop_ and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

void HlsMirror::on_segment(const std::string& playback_id, const std::string& rendition,
                           const package::SegmentPtr& segment) {
  post([this, playback_id, rendition, segment] { write_segment(playback_id, rendition, segment); });
}

void HlsMirror::on_stream_dropped(const std::string& playback_id) {
  post([this, playback_id] {
    std::error_code ec;
    fs::remove_all(dir_ / playback_id, ec);
    std::erase_if(on_disk_,
                  [&](const auto& kv) { return kv.first.starts_with(playback_id + "/"); });
    std::erase_if(inits_on_disk_,
                  [&](const auto& kv) { return kv.first.starts_with(playback_id + "/"); });
  });
}

void HlsMirror::write_segment(const std::string& playback_id, const std::string& rendition,
                              const package::SegmentPtr& segment) {
  const fs::path rendition_dir = dir_ / playback_id / rendition;
  std::error_code ec;
  fs::create_directories(rendition_dir, ec);
  const bool fmp4 = segment->init != nullptr;
  const std::string extension = fmp4 ? ".m4s" : ".ts";
  const std::string key = playback_id + "/" + rendition;
  // An fMP4 segment's init segment first, once per init segment.
  if (!ec && fmp4 && inits_on_disk_[key].insert(segment->init_id).second) {
    const auto& init = *segment->init;
    if (!write_file_atomic(rendition_dir / ("init" + std::to_string(segment->init_id) + ".mp4"),
                           init.data(), init.size()))
      inits_on_disk_[key].erase(segment->init_id);
  }
  const auto& data = *segment->data;
  if (ec || !write_file_atomic(rendition_dir / (std::to_string(segment->sequence) + extension),
                               data.data(), data.size())) {
    spdlog::warn("hls mirror: cannot write {}: {}", rendition_dir.string(),
                 ec ? ec.message() : "write failed");
    return;
  }
  if (auto playlist = store_.media_playlist(playback_id, rendition)) {
    const std::string text = package::without_low_latency(*playlist);
    write_file_atomic(rendition_dir / "index.m3u8", text.data(), text.size());
  }
  if (auto master = store_.master_playlist(playback_id)) {
    write_file_atomic(dir_ / playback_id / "live.m3u8", master->data(), master->size());
  }
  auto& kept = on_disk_[key];
  kept.push_back(segment->sequence);
  while (kept.size() > keep_) {
    fs::remove(rendition_dir / (std::to_string(kept.front()) + extension), ec);
    kept.pop_front();
  }
}

}  // namespace sluice::store
