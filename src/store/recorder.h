// DVR: records the top rendition of every publish session as a VOD (store/recording.h), to a
// local directory or to S3 through a local spool. Nothing is lost to an S3 outage or a
// restart: a segment is written to disk first and deleted from the spool only once S3 has it;
// uploads retry with backoff, and a restart re-reads the spool and uploads what is pending.
// The uploaded playlist lists only segments already uploaded, so it never points at a
// missing object.
//
// Threads: the publisher's thread only queues (on_segment must not block); one disk thread
// writes segments and playlists; upload threads (S3) PUT them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "package/hls_store.h"
#include "store/recording.h"
#include "store/s3_client.h"

namespace sluice::store {

struct RecorderConfig {
  std::filesystem::path root;  // the recordings (local), or the spool of the S3 target
  std::optional<S3Target> s3;
  // S3 only. Past this many bytes waiting for upload, new segments are not recorded (logged
  // and counted, the recording gets a discontinuity): what is spooled is never deleted unsent.
  std::uint64_t spool_max_bytes = 8ull << 30;
  int upload_threads = 4;
  std::size_t max_queue = 64;  // segments waiting for the disk thread; more are dropped
  std::chrono::milliseconds retry_min{500};
  std::chrono::milliseconds retry_max{30000};
};

struct RecorderCounters {
  std::uint64_t segments_recorded = 0;
  std::uint64_t segments_dropped = 0;  // not recorded: spool full, queue full or disk error
  std::uint64_t objects_uploaded = 0;
  std::uint64_t upload_failures = 0;  // attempts that failed (each is retried)
  std::uint64_t pending_uploads = 0;  // segments in the spool
  std::uint64_t spool_bytes = 0;
  std::uint64_t recordings = 0;  // known here: local ones, or S3 ones not fully uploaded
};

struct RecordingSummary {
  std::string playback_id;
  std::string id;
  std::string rendition;
  std::size_t segments = 0;
  double duration_s = 0;
  bool finished = false;
  std::size_t pending_uploads = 0;
  std::chrono::system_clock::time_point started;
};

class Recorder final : public package::SegmentListener {
 public:
  // Which rendition of a playback ID's current session to record; nullopt records the first
  // one that brings a segment.
  using RenditionPicker = std::function<std::optional<std::string>(const std::string&)>;

  // Re-reads the root: finishes recordings a previous run left open and, for S3, queues
  // everything still in the spool.
  Recorder(RecorderConfig config, RenditionPicker pick);
  ~Recorder() override;  // writes what is queued; uploads in flight stop and resume next run

  void on_segment(const std::string& playback_id, const std::string& rendition,
                  const package::SegmentPtr& segment) override;
  void on_session_ended(const std::string& playback_id, std::uint64_t session) override;
  void on_stream_dropped(const std::string& playback_id) override;

  std::vector<RecordingSummary> list() const;
  // The file behind `name` (a playlist_name or segment_name) if it is part of a recording
  // kept on local disk.
  std::optional<std::filesystem::path> local_file(std::string_view name) const;
  RecorderCounters counters() const;
  std::string describe() const;

 private:
  struct Entry {
    Recording recording;
    std::chrono::system_clock::time_point started;
    bool gap = false;  // a segment was lost; the next recorded one starts a discontinuity
    // S3 only.
    std::vector<bool> uploaded;
    std::size_t uploaded_prefix = 0;  // leading segments all uploaded
    std::size_t playlist_listed = 0;  // segments listed by the uploaded playlist
    bool playlist_finished = false;   // the uploaded playlist has EXT-X-ENDLIST
    bool playlist_queued = false;
  };
  using Key = std::pair<std::string, std::string>;  // playback ID, recording ID
  struct UploadJob {
    Key key;
    std::optional<std::size_t> segment;  // else the playlist
  };
  // Publisher side: the recording each playback ID's current session goes to.
  struct Active {
    std::uint64_t session = 0;
    std::string rendition;  // empty: not chosen yet
    std::string id;
    bool ended = false;
  };

  void resume();
  void post(std::function<void()> job, bool droppable);
  void disk_loop();
  void start_recording(const Key& key, const std::string& rendition);
  void write_segment(const Key& key, const package::SegmentPtr& segment);
  void finish(const Key& key);
  void write_playlist(const Entry& entry);
  void queue_upload(UploadJob job);                   // mutex_ held
  void queue_playlist(const Key& key, Entry& entry);  // mutex_ held
  void upload_loop();
  bool upload(S3Client& client, const UploadJob& job);
  bool wait_retry(std::chrono::milliseconds delay);

  const RecorderConfig config_;
  const RenditionPicker pick_;

  std::mutex active_mutex_;
  std::map<std::string, Active> active_;

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable disk_cv_;
  std::condition_variable upload_cv_;
  std::deque<std::pair<std::function<void()>, bool>> disk_jobs_;  // job, droppable
  std::size_t queued_segments_ = 0;
  std::deque<UploadJob> upload_jobs_;
  std::map<Key, Entry> entries_;
  RecorderCounters counters_;
  bool stop_disk_ = false;
  std::atomic<bool> stop_uploads_{false};

  std::thread disk_thread_;
  std::vector<std::thread> upload_threads_;
};

}  // namespace sluice::store
