#include "store/recorder.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "observe/log.h"
#include "store/files.h"

namespace sluice::store {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSegmentType = "video/MP2T";
constexpr const char* kFmp4SegmentType = "video/iso.segment";
constexpr const char* kInitType = "video/mp4";
constexpr const char* kSegmentCache = "max-age=31536000";
constexpr const char* kPlaylistType = "application/x-mpegURL";
// A growing recording's playlist changes with every segment: a CDN must not keep an old copy.
// A complete one never changes again.
constexpr const char* kGrowingPlaylistCache = "max-age=1";
constexpr const char* kCompletePlaylistCache = "max-age=31536000";
constexpr std::uint64_t kMaxObjectBytes = 1ull << 30;

// The init segment that segment `i` brings into the recording: its own, when the segment
// before it had another (or none). Each init segment is written and uploaded with that one.
std::optional<std::uint64_t> init_introduced(const Recording& r, std::size_t i) {
  const auto& id = r.segments[i].init_id;
  if (!id || (i > 0 && r.segments[i - 1].init_id == id)) return std::nullopt;
  return id;
}

observe::Logger dvr_log(const std::string& playback_id) {
  observe::Logger log("dvr " + playback_id);
  log.with("component", "dvr").with("stream", playback_id);
  return log;
}

std::uint64_t file_size_or_zero(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

std::chrono::system_clock::time_point modified(const fs::path& path) {
  std::error_code ec;
  const auto t = fs::last_write_time(path, ec);
  if (ec) return std::chrono::system_clock::now();
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(
      std::chrono::file_clock::to_sys(t));
}

// Uploaded recordings leave empty folders in the spool; cleared at start, when no disk write
// can be racing the removal.
void remove_empty_folders(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory()) fs::remove(it->path(), ec);  // fails, harmlessly, unless empty
  }
  fs::remove(dir, ec);
}

}  // namespace

Recorder::Recorder(RecorderConfig config, RenditionPicker pick)
    : config_(std::move(config)), pick_(std::move(pick)) {
  resume();
  disk_thread_ = std::thread([this] { disk_loop(); });
  if (config_.s3) {
    for (int i = 0; i < std::max(1, config_.upload_threads); ++i)
      upload_threads_.emplace_back([this] { upload_loop(); });
  }
}

Recorder::~Recorder() {
  {
    std::lock_guard lock(mutex_);
    stop_disk_ = true;
  }
  disk_cv_.notify_all();
  disk_thread_.join();
  stop_uploads_ = true;
  upload_cv_.notify_all();
  for (auto& t : upload_threads_)
    t.join();
  const auto c = counters();
  if (c.pending_uploads > 0) {
    spdlog::info("dvr: {} segment(s) ({} bytes) left in {} for the next run", c.pending_uploads,
                 c.spool_bytes, config_.root.string());
  }
}

std::string Recorder::describe() const {
  if (config_.s3) {
    return fmt::format("{} (spool {}, at most {} MiB)", object_url(*config_.s3, ""),
                       config_.root.string(), config_.spool_max_bytes >> 20);
  }
  return config_.root.string();
}

// A previous run's recordings: open ones are finished (their session cannot continue), and
// for S3 every segment still in the spool is queued; a missing file was uploaded already.
void Recorder::resume() {
  std::error_code ec;
  fs::create_directories(config_.root, ec);
  for (fs::directory_iterator ids(config_.root, ec), end; !ec && ids != end; ids.increment(ec)) {
    if (!ids->is_directory()) continue;
    if (config_.s3) remove_empty_folders(ids->path());
    const std::string playback_id = ids->path().filename().string();
    std::error_code inner;
    for (fs::directory_iterator files(ids->path(), inner); !inner && files != end;
         files.increment(inner)) {
      const std::string name = files->path().filename().string();
      if (!name.starts_with("vod-") || !name.ends_with(".m3u8")) continue;
      const std::string id = name.substr(4, name.size() - 9);
      auto text = read_file(files->path(), 64u << 20);
      auto parsed =
          text ? parse_playlist(
                     std::string_view(reinterpret_cast<const char*>(text->data()), text->size()),
                     playback_id, id)
               : Result<Recording>(make_error(Errc::kIo, "unreadable"));
      if (!parsed) {
        spdlog::error("dvr: skipping {}: {}", files->path().string(), parsed.error().message);
        continue;
      }
      Entry entry;
      entry.recording = std::move(*parsed);
      entry.started = modified(files->path());
      if (!entry.recording.finished) {
        entry.recording.finished = true;
        write_playlist(entry);
      }
      const Key key{playback_id, id};
      if (config_.s3) {
        for (std::size_t i = 0; i < entry.recording.segments.size(); ++i) {
          const fs::path file = config_.root / segment_name(playback_id, entry.recording.rendition,
                                                            entry.recording.segments[i]);
          const bool present = fs::exists(file, inner);
          entry.uploaded.push_back(!present);
          if (!present) continue;
          counters_.spool_bytes += file_size_or_zero(file);
          ++counters_.pending_uploads;
          upload_jobs_.push_back({key, i});
        }
        while (entry.uploaded_prefix < entry.uploaded.size() &&
               entry.uploaded[entry.uploaded_prefix])
          ++entry.uploaded_prefix;
        queue_playlist(key, entry);
      }
      entries_.emplace(key, std::move(entry));
    }
  }
  counters_.recordings = entries_.size();
  if (!entries_.empty()) {
    spdlog::info("dvr: {} recording(s) found in {}, {} segment(s) to upload", entries_.size(),
                 config_.root.string(), counters_.pending_uploads);
  }
}

void Recorder::post(std::function<void()> job, bool droppable) {
  {
    std::lock_guard lock(mutex_);
    if (droppable) ++queued_segments_;
    disk_jobs_.emplace_back(std::move(job), droppable);
  }
  disk_cv_.notify_one();
}

void Recorder::disk_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      disk_cv_.wait(lock, [this] { return stop_disk_ || !disk_jobs_.empty(); });
      if (disk_jobs_.empty()) return;  // stopping, and everything queued is written
      job = std::move(disk_jobs_.front().first);
      if (disk_jobs_.front().second) --queued_segments_;
      disk_jobs_.pop_front();
    }
    job();
  }
}

void Recorder::on_segment(const std::string& playback_id, const std::string& rendition,
                          const package::SegmentPtr& segment) {
  Active* active = nullptr;
  std::optional<Active> previous;
  {
    std::lock_guard lock(active_mutex_);
    active = &active_[playback_id];
    if (active->id.empty() || active->session != segment->session) {
      if (!active->id.empty() && !active->ended) previous = *active;
      // Asked with the lock held: the picker reads the HLS store, which never calls
      // listeners under its own lock, so there is no lock cycle.
      *active = Active{segment->session, pick_ ? pick_(playback_id).value_or(rendition) : rendition,
                       new_recording_id(), false};
      if (previous) {
        const Key old{playback_id, previous->id};
        post([this, old] { finish(old); }, false);
      }
      const Key key{playback_id, active->id};
      post([this, key, r = active->rendition] { start_recording(key, r); }, false);
    }
    if (active->rendition != rendition) return;
    const Key key{playback_id, active->id};
    bool full = false;
    {
      std::lock_guard state(mutex_);
      full = queued_segments_ >= config_.max_queue;
      if (full) ++counters_.segments_dropped;
    }
    if (full) {
      dvr_log(playback_id).warn("disk too slow, segment {} not recorded", segment->sequence);
      post(
          [this, key] {
            std::lock_guard state(mutex_);
            if (auto it = entries_.find(key); it != entries_.end()) it->second.gap = true;
          },
          false);
      return;
    }
    post([this, key, segment] { write_segment(key, segment); }, true);
  }
}

void Recorder::on_session_ended(const std::string& playback_id, std::uint64_t session) {
  std::lock_guard lock(active_mutex_);
  auto it = active_.find(playback_id);
  if (it == active_.end() || it->second.session != session || it->second.ended) return;
  // Kept, so a segment the transcoder flushes after this still joins the recording.
  it->second.ended = true;
  post([this, key = Key{playback_id, it->second.id}] { finish(key); }, false);
}

void Recorder::on_stream_dropped(const std::string& playback_id) {
  std::lock_guard lock(active_mutex_);
  auto it = active_.find(playback_id);
  if (it == active_.end()) return;
  if (!it->second.ended) {
    post([this, key = Key{playback_id, it->second.id}] { finish(key); }, false);
  }
  active_.erase(it);
}

void Recorder::start_recording(const Key& key, const std::string& rendition) {
  std::lock_guard lock(mutex_);
  Entry& entry = entries_[key];
  entry.recording.playback_id = key.first;
  entry.recording.id = key.second;
  entry.recording.rendition = rendition;
  entry.started = std::chrono::system_clock::now();
  counters_.recordings = entries_.size();
  dvr_log(key.first).info("recording {} as {}", rendition, playlist_name(key.first, key.second));
}

void Recorder::write_segment(const Key& key, const package::SegmentPtr& segment) {
  std::string rendition;
  bool new_init = false;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    rendition = it->second.recording.rendition;
    const auto& recorded = it->second.recording.segments;
    new_init = recorded.empty() || recorded.back().init_id != segment->init_id;
    const std::uint64_t size = segment->data ? segment->data->size() : 0;
    if (config_.s3 && counters_.spool_bytes + size > config_.spool_max_bytes) {
      if (!it->second.gap) {
        dvr_log(key.first).error(
            "spool full ({} bytes waiting for S3), not recording until it drains",
            counters_.spool_bytes);
      }
      it->second.gap = true;
      ++counters_.segments_dropped;
      return;
    }
  }
  const bool fmp4 = segment->init != nullptr;
  const fs::path file = config_.root / segment_name(key.first, rendition, segment->sequence, fmp4);
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  const auto& data = *segment->data;
  // fMP4: the init segment goes first when this segment brings a new one.
  bool written = !ec;
  if (written && fmp4 && new_init) {
    const fs::path init = config_.root / init_name(key.first, rendition, segment->init_id);
    written = write_file_atomic(init, segment->init->data(), segment->init->size());
  }
  if (!written || !write_file_atomic(file, data.data(), data.size())) {
    dvr_log(key.first).error("cannot write {}", file.string());
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end()) it->second.gap = true;
    ++counters_.segments_dropped;
    return;
  }
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  entry.recording.segments.push_back({segment->sequence, segment->duration_s,
                                      segment->discontinuity || entry.gap,
                                      fmp4 ? std::optional(segment->init_id) : std::nullopt});
  entry.gap = false;
  // The playlist is written with the lock held: it is small, and a restart must find it
  // listing every segment file that exists.
  write_playlist(entry);
  ++counters_.segments_recorded;
  if (config_.s3) {
    entry.uploaded.push_back(false);
    counters_.spool_bytes += data.size();
    ++counters_.pending_uploads;
    queue_upload({key, entry.recording.segments.size() - 1});
  }
}

void Recorder::finish(const Key& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  entry.recording.finished = true;
  if (entry.recording.segments.empty()) {  // nothing recorded: leave nothing behind
    entries_.erase(it);
    counters_.recordings = entries_.size();
    return;
  }
  write_playlist(entry);
  dvr_log(key.first).info("{} finished, {} segment(s)", playlist_name(key.first, key.second),
                          entry.recording.segments.size());
  if (config_.s3) queue_playlist(key, entry);
}

void Recorder::write_playlist(const Entry& entry) {
  const std::string text = render_playlist(entry.recording);
  const fs::path file =
      config_.root / playlist_name(entry.recording.playback_id, entry.recording.id);
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec || !write_file_atomic(file, text.data(), text.size())) {
    spdlog::error("dvr: cannot write {}", file.string());
  }
}

void Recorder::queue_upload(UploadJob job) {
  upload_jobs_.push_back(std::move(job));
  upload_cv_.notify_one();
}

void Recorder::queue_playlist(const Key& key, Entry& entry) {
  if (entry.playlist_queued) return;
  entry.playlist_queued = true;
  queue_upload({key, std::nullopt});
}

void Recorder::upload_loop() {
  S3Client client(*config_.s3, &stop_uploads_);
  for (;;) {
    UploadJob job;
    {
      std::unique_lock lock(mutex_);
      upload_cv_.wait(lock, [this] { return stop_uploads_ || !upload_jobs_.empty(); });
      if (stop_uploads_) return;
      job = std::move(upload_jobs_.front());
      upload_jobs_.pop_front();
    }
    auto delay = config_.retry_min;
    while (!upload(client, job)) {
      if (!wait_retry(delay)) return;
      delay = std::min(delay * 2, config_.retry_max);
    }
  }
}

bool Recorder::wait_retry(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !upload_cv_.wait_for(lock, delay, [this] { return stop_uploads_.load(); });
}

// One attempt; true when done (uploaded, or nothing left to do).
bool Recorder::upload(S3Client& client, const UploadJob& job) {
  std::string name;
  std::string playlist;
  std::size_t listed = 0;
  bool finished = false;
  fs::path file;
  std::string init;  // fMP4: the init segment this segment brings, uploaded first
  bool fmp4 = false;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(job.key);
    if (it == entries_.end()) return true;
    Entry& entry = it->second;
    const Recording& r = entry.recording;
    if (job.segment) {
      const RecordedSegment& segment = r.segments[*job.segment];
      name = segment_name(r.playback_id, r.rendition, segment);
      file = config_.root / name;
      fmp4 = segment.init_id.has_value();
      if (auto id = init_introduced(r, *job.segment))
        init = init_name(r.playback_id, r.rendition, *id);
    } else {
      // Snapshot: a change after this point queues the playlist again.
      entry.playlist_queued = false;
      name = playlist_name(r.playback_id, r.id);
      listed = entry.uploaded_prefix;
      finished = r.finished && listed == r.segments.size();
      if (listed == 0 || (listed == entry.playlist_listed && finished == entry.playlist_finished)) {
        return true;
      }
      playlist = render_playlist(r, listed);
    }
  }
  std::optional<std::vector<std::uint8_t>> body;
  if (job.segment) {
    body = read_file(file, kMaxObjectBytes);
    if (!body) {
      spdlog::error("dvr: {} vanished from the spool before upload", file.string());
    }
  } else {
    body.emplace(playlist.begin(), playlist.end());
  }
  const auto failed = [&](const Status& st) {
    std::lock_guard lock(mutex_);
    if (counters_.upload_failures++ % 20 == 0) {
      spdlog::warn("dvr: upload failed, will retry: {}", st.error().message);
    }
    if (!job.segment) {
      if (auto it = entries_.find(job.key); it != entries_.end()) it->second.playlist_queued = true;
    }
    return false;
  };
  if (body && !init.empty()) {
    if (auto bytes = read_file(config_.root / init, kMaxObjectBytes)) {
      if (auto st = client.put(init, *bytes, kInitType, kSegmentCache); !st) return failed(st);
    } else {
      spdlog::error("dvr: {} vanished from the spool before upload", init);
    }
  }
  if (body) {
    auto st = job.segment
                  ? client.put(name, *body, fmp4 ? kFmp4SegmentType : kSegmentType, kSegmentCache)
                  : client.put(name, *body, kPlaylistType,
                               finished ? kCompletePlaylistCache : kGrowingPlaylistCache);
    if (!st) return failed(st);
  }
  std::lock_guard lock(mutex_);
  if (body) ++counters_.objects_uploaded;
  auto it = entries_.find(job.key);
  if (it == entries_.end()) return true;
  Entry& entry = it->second;
  if (job.segment) {
    entry.uploaded[*job.segment] = true;
    std::error_code ec;
    fs::remove(file, ec);
    if (!init.empty()) fs::remove(config_.root / init, ec);
    counters_.spool_bytes -=
        std::min<std::uint64_t>(counters_.spool_bytes, body ? body->size() : 0);
    --counters_.pending_uploads;
    while (entry.uploaded_prefix < entry.uploaded.size() && entry.uploaded[entry.uploaded_prefix])
      ++entry.uploaded_prefix;
    if (entry.uploaded_prefix > entry.playlist_listed) queue_playlist(job.key, entry);
    return true;
  }
  entry.playlist_listed = std::max(entry.playlist_listed, listed);
  entry.playlist_finished = entry.playlist_finished || finished;
  if (entry.playlist_finished) {
    // All in S3: the spool forgets the recording.
    std::error_code ec;
    fs::remove(config_.root / name, ec);  // empty folders go at the next start
    dvr_log(job.key.first).info("{} complete in S3 ({} segments)", name, listed);
    entries_.erase(it);
    counters_.recordings = entries_.size();
  } else if (entry.uploaded_prefix > entry.playlist_listed ||
             (entry.recording.finished &&
              entry.uploaded_prefix == entry.recording.segments.size())) {
    queue_playlist(job.key, entry);
  }
  return true;
}

std::vector<RecordingSummary> Recorder::list() const {
  std::vector<RecordingSummary> out;
  std::lock_guard lock(mutex_);
  for (const auto& [key, entry] : entries_) {
    const Recording& r = entry.recording;
    if (r.segments.empty()) continue;
    RecordingSummary s{r.playback_id, r.id, r.rendition,  r.segments.size(), 0,
                       r.finished,    0,    entry.started};
    for (const auto& seg : r.segments)
      s.duration_s += seg.duration_s;
    s.pending_uploads =
        static_cast<std::size_t>(std::count(entry.uploaded.begin(), entry.uploaded.end(), false));
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const RecordingSummary& a, const RecordingSummary& b) {
    return a.started > b.started;
  });
  return out;
}

std::optional<fs::path> Recorder::local_file(std::string_view name) const {
  if (config_.s3) return std::nullopt;  // the spool is not a store
  // <id>/vod-<rec>.m3u8, or a segment or init segment a known recording lists; nothing else.
  const auto slash = name.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string playback_id(name.substr(0, slash));
  std::lock_guard lock(mutex_);
  for (auto it = entries_.lower_bound({playback_id, ""});
       it != entries_.end() && it->first.first == playback_id; ++it) {
    const Recording& r = it->second.recording;
    if (name == playlist_name(playback_id, r.id)) return config_.root / name;
    const std::string_view rest = name.substr(slash + 1);
    if (!rest.starts_with(r.rendition + "/")) continue;
    const auto file = parse_recorded_file(rest.substr(r.rendition.size() + 1));
    if (!file) continue;
    if (file->kind == RecordedFile::Kind::kInit) {
      if (std::any_of(r.segments.begin(), r.segments.end(),
                      [&](const RecordedSegment& s) { return s.init_id == file->number; }))
        return config_.root / name;
      continue;
    }
    auto seg =
        std::lower_bound(r.segments.begin(), r.segments.end(), file->number,
                         [](const RecordedSegment& s, std::uint64_t n) { return s.sequence < n; });
    const bool fmp4 = file->kind == RecordedFile::Kind::kFmp4Segment;
    if (seg != r.segments.end() && seg->sequence == file->number &&
        seg->init_id.has_value() == fmp4)
      return config_.root / name;
  }
  return std::nullopt;
}

RecorderCounters Recorder::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace sluice::store
