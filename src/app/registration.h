// Keeps the registry told which streams this server holds: a stream is published when its
// publish starts (so RTMP players and the proxy find it at once), or, when it moves here from
// another server, once its first segment exists (viewers stay on the old server until this one
// can serve them); updated with each segment (so a move can continue its numbering); and
// withdrawn, compare-and-delete on its session, when the store drops it after the grace period.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "package/hls_store.h"
#include "registry/registry.h"

namespace sluice::app {

class Registration final : public package::SegmentListener {
 public:
  // `node_tag` makes session IDs unique across servers and restarts.
  Registration(registry::Registry& registry, std::string advertise, std::string node_tag);

  void on_segment(const std::string& playback_id, const std::string& rendition,
                  const package::SegmentPtr& segment) override;
  void on_stream_dropped(const std::string& playback_id) override;
  // A publish of `playback_id` started here; `position` is its HLS session's.
  void on_publish(const std::string& playback_id,
                  const package::HlsStore::SessionPosition& position);

  // For HlsStore::set_continuation_source: where another server left this playback ID.
  std::optional<package::Continuation> continuation(const std::string& playback_id) const;

 private:
  struct Held {
    std::string session;
    std::uint64_t next_sequence = 0;
    std::uint64_t discontinuities = 0;
  };
  registry::Registry& registry_;
  const std::string advertise_;
  const std::string node_tag_;
  std::mutex mutex_;  // guards held_; rendition threads report segments concurrently
  std::map<std::string, Held> held_;
};

}  // namespace sluice::app
