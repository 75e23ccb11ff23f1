// Turns a publish session's packets into the renditions of its ladder, in process, written
// into a media::RenditionSink (HLS packaging for a stream, a relay for its own encode).
//
// Threads: the ingest thread only queues (PacketSink never blocks). One pipeline thread per
// stream decodes each input once, decides keyframes, encodes audio once per distinct setting
// and fans pictures out; one thread per encoded rung scales and encodes video with libx264 and
// writes its segments. Queues between them are bounded. When rungs cannot keep up the pipeline
// sheds the top rungs or drops frames (config); when the pipeline itself falls behind, input
// is dropped up to the next keyframe. Memory stays bounded either way.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "media/packet_sink.h"
#include "media/rendition_sink.h"
#include "transcode/ladder.h"

namespace sluice::transcode {

struct TranscodeConfig {
  LadderConfig ladder;
  std::size_t capacity = 0;                   // streams transcoded at once (0: cores / 2)
  std::size_t rung_queue_frames = 8;          // pictures waiting per rung
  std::size_t input_queue_bytes = 32u << 20;  // compressed input waiting per stream
  int decoder_threads = 0;                    // 0: one up to 1080p, else FFmpeg's choice
  // Files rather than live input (benchmarks): push() waits for room instead of dropping, and
  // nothing degrades, because falling behind real time is the point.
  bool offline = false;
};

struct RungStats {
  std::string name;
  int width = 0;
  int height = 0;
  bool passthrough = false;
  bool shed = false;  // stopped under overload
  std::uint64_t frames_out = 0;
};

struct TranscodeStats {
  std::string playback_id;
  std::vector<RungStats> rungs;
  std::uint64_t frames_decoded = 0;
  std::uint64_t frames_dropped = 0;  // decoded pictures not encoded (drop-frames policy)
  std::uint64_t input_dropped = 0;   // compressed packets dropped because the pipeline lagged
  std::uint64_t rungs_shed = 0;
  double media_seconds = 0;  // of video (or audio) processed
  double wall_seconds = 0;   // since the first packet
};

class Pipeline;

// Opens where a stream's renditions go, per playback ID (the HLS store's sessions).
using RenditionSinkFactory =
    std::function<std::unique_ptr<media::RenditionSink>(const std::string& playback_id)>;

// Owns every stream's pipeline and the node's transcoding capacity. Thread-safe.
class TranscodeService {
 public:
  TranscodeService(TranscodeConfig config, RenditionSinkFactory open_session);
  ~TranscodeService() { stop(); }
  // Ends every pipeline and waits until each has flushed its renditions. A pipeline's
  // outputs may reach objects on the caller's io_context (a relay's encode), so the server
  // calls this before that io_context goes.
  void stop();

  // The sink for a new publish session: a transcoder while capacity lasts, HLS passthrough
  // of the source otherwise (or when the ladder has only source rungs).
  std::unique_ptr<media::PacketSink> open(const std::string& playback_id);

  // A pipeline for `rungs` alone (a relay's encoding profile) whose renditions go to
  // `session` instead of the stream's. It counts against the capacity like a stream's
  // ladder; nullptr when the capacity is used up.
  std::unique_ptr<media::PacketSink> open_encoder(const std::string& id,
                                                  std::vector<RungSpec> rungs,
                                                  std::unique_ptr<media::RenditionSink> session);
  // Joins pipelines that finished. Call periodically.
  void reap();

  std::vector<TranscodeStats> stats() const;
  std::size_t capacity() const { return config_.capacity; }
  std::size_t active() const;
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  const TranscodeConfig& config() const { return config_; }

 private:
  const TranscodeConfig config_;
  const RenditionSinkFactory open_session_;
  bool encodes_;  // the ladder has at least one encoded rung
  mutable std::mutex mutex_;
  std::list<std::shared_ptr<Pipeline>> pipelines_;
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace sluice::transcode
