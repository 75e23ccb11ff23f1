// Mirrors live HLS to disk (hls.mirror): <dir>/<playbackId>/live.m3u8,
// <dir>/<playbackId>/<rendition>/{index.m3u8,<N>.ts} (fMP4: <N>.m4s and init<N>.mp4), for
// operators who serve or archive the files with other tools. Low-latency playlists are
// written without their parts (a file server cannot hold a blocking reload, and the parts
// are not mirrored): as plain live playlists of whole segments. Disk writes happen on the
// mirror's own thread, never on the publisher's; the queue is bounded and a full queue drops
// the write (counted, logged).
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "package/hls_store.h"

namespace sluice::store {

class HlsMirror final : public package::SegmentListener {
 public:
  HlsMirror(std::filesystem::path dir, const package::HlsStore& store, std::size_t keep_segments,
            std::size_t max_queue = 256);
  ~HlsMirror() override;  // finishes queued writes, then joins

  void on_segment(const std::string& playback_id, const std::string& rendition,
                  const package::SegmentPtr& segment) override;
  void on_stream_dropped(const std::string& playback_id) override;

  std::uint64_t dropped_writes() const;

 private:
  void run();
  void post(std::function<void()> job);
  void write_segment(const std::string& playback_id, const std::string& rendition,
                     const package::SegmentPtr& segment);

  const std::filesystem::path dir_;
  const package::HlsStore& store_;
  const std::size_t keep_;
  const std::size_t max_queue_;

  mutable std::mutex mutex_;  // guards jobs_, stop_, dropped_
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::uint64_t dropped_ = 0;

  // Worker thread only: segment numbers on disk per "<id>/<rendition>", oldest first, and
  // the init segments written there.
  std::map<std::string, std::deque<std::uint64_t>> on_disk_;
  std::map<std::string, std::set<std::uint64_t>> inits_on_disk_;
  std::thread worker_;
};

}  // namespace sluice::store
