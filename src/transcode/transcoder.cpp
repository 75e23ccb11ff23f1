#include "transcode/transcoder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <optional>
#include <variant>

#include "media/video_config.h"
#include "observe/log.h"
#include "transcode/av.h"
#include "transcode/bounded_queue.h"
#include "transcode/codecs.h"
#include "transcode/interleaver.h"
#include "transcode/pipeline_policy.h"

namespace sluice::transcode {
namespace {

using Clock = std::chrono::steady_clock;

// Audio may wait this long in a rung for video output to catch up (x264 lookahead is well
// under a second at the presets a live ladder uses).
constexpr std::int64_t kMaxAudioHoldMs = 3000;
constexpr auto kRungPushTimeout = std::chrono::seconds(10);

bool is_video_frame(const media::Packet& p) {
  return p.kind == media::TrackKind::kVideo && !p.config;
}

std::uint64_t declared_peak_bps(const PlannedRung& plan) {
  if (plan.passthrough) return 0;
  // The VBV cap bounds video over a buffer's worth of time; audio and MPEG-TS overhead on top.
  return static_cast<std::uint64_t>(plan.spec.video_maxrate_kbps + plan.spec.audio_kbps) * 1000;
}

// A log line per distinct problem, so a broken input does not flood the log.
class Warner {
 public:
  explicit Warner(observe::Logger log) : log_(std::move(log)) {}
  void operator()(const std::string& what) {
    if (what == last_) return;
    last_ = what;
    log_.warn("{}", what);
  }
  const observe::Logger& log() const { return log_; }

 private:
  observe::Logger log_;
  std::string last_;
};

observe::Logger stream_logger(const std::string& component, const std::string& playback_id) {
  observe::Logger log(component + " " + playback_id);
  log.with("component", component).with("stream", playback_id);
  return log;
}

// ---- one rung ---------------------------------------------------------------------------

struct FrameItem {
  av::SharedFrame frame;
  bool force_key = false;
};
struct FinishItem {};
using RungItem = std::variant<FrameItem, media::PacketPtr, FinishItem>;

class Rung {
 public:
  Rung(PlannedRung plan, media::RenditionOutput& writer, VideoEncoderParams params,
       std::size_t queue_frames, const observe::Logger& log)
      : plan_(std::move(plan)),
        queue_(queue_frames),
        writer_(writer),
        params_(std::move(params)),
        scaler_(plan_.width, plan_.height),
        interleaver_([this](const media::PacketPtr& p) { write(p); }, kMaxAudioHoldMs),
        warn_(log.part(plan_.spec.name, "rendition", plan_.spec.name)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Rung() { finish(); }

  const PlannedRung& plan() const { return plan_; }
  bool encoded() const { return !plan_.passthrough; }

  // Waits for room when the rung is behind: the pipeline then lags, which the overload
  // policy sees. Returns false (item dropped) only if the rung is stuck.
  bool push(RungItem item) {
    if (queue_.try_push(item)) return true;
    if (queue_.push_for(std::move(item), kRungPushTimeout)) return true;
    warn_("rung stuck for 10 s; dropping");
    return false;
  }

  // Drains the queue, flushes the encoder and stops the thread.
  void finish() {
    if (!thread_.joinable()) return;
    queue_.push_force(FinishItem{});
    thread_.join();
  }

  // Stops without encoding what is queued or held in the encoder's lookahead: a rung shed
  // under overload must give its CPU back at once (at a slow preset a flush of the lookahead
  // took tens of seconds, during which the whole pipeline stood still).
  void abandon() {
    abandoned_.store(true, std::memory_order_relaxed);
    finish();
  }

  RungStats stats() const {
    return RungStats{plan_.spec.name,   plan_.width, plan_.height,
                     plan_.passthrough, false,       frames_out_.load(std::memory_order_relaxed)};
  }

 private:
  void run() {
    while (true) {
      RungItem item = queue_.pop();
      if (std::holds_alternative<FinishItem>(item)) break;
      if (abandoned_.load(std::memory_order_relaxed)) continue;
      if (auto* frame = std::get_if<FrameItem>(&item)) {
        encode(*frame);
        continue;
      }
      const auto& packet = std::get<media::PacketPtr>(item);
      if (plan_.passthrough) {
        write(packet);
        if (is_video_frame(*packet)) frames_out_.fetch_add(1, std::memory_order_relaxed);
      } else {
        interleaver_.audio(packet, plan_.width > 0);
      }
    }
    if (abandoned_.load(std::memory_order_relaxed)) return;  // held audio has no video to come
    if (encoder_) {
      if (auto st = encoder_->flush([this](media::PacketPtr p) { video_out(std::move(p)); }); !st) {
        warn_(st.error().message);
      }
    }
    interleaver_.flush();
  }

  void encode(const FrameItem& item) {
    if (broken_) return;
    if (!encoder_) {
      auto encoder = VideoEncoder::open(params_);
      if (!encoder) {
        broken_ = true;
        warn_.log().error("{}", encoder.error().message);
        return;
      }
      encoder_ = std::move(*encoder);
      interleaver_.video(encoder_->config_packet(item.frame->pts));
    }
    auto picture = scaler_.scale(item.frame.get());
    if (!picture) {
      warn_(picture.error().message);
      return;
    }
    auto st = encoder_->encode(*picture, item.force_key,
                               [this](media::PacketPtr p) { video_out(std::move(p)); });
    if (!st) warn_(st.error().message);
  }

  void video_out(media::PacketPtr packet) {
    frames_out_.fetch_add(1, std::memory_order_relaxed);
    interleaver_.video(packet);
  }

  void write(const media::PacketPtr& packet) {
    if (auto st = writer_.on_packet(packet); !st) warn_("hls: " + st.error().message);
  }

  const PlannedRung plan_;
  BoundedQueue<RungItem> queue_;
  media::RenditionOutput& writer_;
  const VideoEncoderParams params_;
  std::unique_ptr<VideoEncoder> encoder_;
  bool broken_ = false;
  Scaler scaler_;
  Interleaver interleaver_;
  Warner warn_;
  std::atomic<std::uint64_t> frames_out_{0};
  std::atomic<bool> abandoned_{false};
  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace

// ---- one stream ---------------------------------------------------------------------------

class Pipeline {
 public:
  Pipeline(std::string id, TranscodeConfig config, std::unique_ptr<media::RenditionSink> session)
      : id_(std::move(id)),
        config_(std::move(config)),
        session_(std::move(session)),
        warn_(stream_logger("transcode", id_)),
        started_(Clock::now()) {
    thread_ = std::thread([this] { run(); });
  }

  ~Pipeline() { stop(); }

  // Ends the input and waits until the thread has flushed and ended the session. Safe to
  // call from several threads, never from the pipeline's own.
  void stop() {
    end();
    std::lock_guard lock(join_mutex_);
    if (thread_.joinable()) thread_.join();
  }

  // Ingest side: never blocks. Past the byte limit, drops up to the next video keyframe.
  void push(const media::PacketPtr& packet) {
    const std::size_t bytes = packet->body ? packet->body->size() : 0;
    std::unique_lock lock(input_mutex_);
    if (config_.offline) {
      input_room_.wait(lock,
                       [&] { return ended_ || input_bytes_ + bytes <= config_.input_queue_bytes; });
    }
    if (ended_) return;
    if (packet->kind == media::TrackKind::kVideo) saw_video_ = true;
    last_input_dts_ = std::max(last_input_dts_, packet->dts_ms);
    switch (admit_input({input_bytes_, config_.input_queue_bytes, dropping_, saw_video_}, *packet,
                        bytes)) {
      case InputDecision::kQueue:
        break;
      case InputDecision::kResume:
        dropping_ = false;
        break;
      case InputDecision::kStartDropping:
        dropping_ = true;
        warn_.log().warn("input queue over {} bytes; dropping to the next keyframe",
                         config_.input_queue_bytes);
        [[fallthrough]];
      case InputDecision::kDrop:
        input_dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    input_bytes_ += bytes;
    input_.push_back(packet);
    input_ready_.notify_one();
  }

  void end() {
    std::lock_guard lock(input_mutex_);
    ended_ = true;
    input_ready_.notify_one();
  }

  bool done() const { return done_.load(std::memory_order_acquire); }

  TranscodeStats stats() const {
    TranscodeStats s;
    s.playback_id = id_;
    {
      std::lock_guard lock(rungs_mutex_);
      for (const auto& r : rungs_)
        s.rungs.push_back(r->stats());
      s.rungs.insert(s.rungs.end(), shed_.begin(), shed_.end());
    }
    s.frames_decoded = frames_decoded_.load(std::memory_order_relaxed);
    s.frames_dropped = frames_dropped_.load(std::memory_order_relaxed);
    s.input_dropped = input_dropped_.load(std::memory_order_relaxed);
    s.rungs_shed = rungs_shed_.load(std::memory_order_relaxed);
    s.media_seconds = static_cast<double>(media_ms_.load(std::memory_order_relaxed)) / 1000.0;
    s.wall_seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    return s;
  }

 private:
  // ---- thread body ----
  void run() {
    while (true) {
      media::PacketPtr packet;
      {
        std::unique_lock lock(input_mutex_);
        input_ready_.wait(lock, [&] { return ended_ || !input_.empty(); });
        if (input_.empty()) break;  // ended and drained
        packet = std::move(input_.front());
        input_.pop_front();
        input_bytes_ -= packet->body ? packet->body->size() : 0;
      }
      input_room_.notify_one();
      if (planned_) {
        process(packet);
      } else {
        observe(packet);
      }
    }
    if (!planned_ && !preroll_.empty()) plan_and_replay();
    flush();
    {
      std::lock_guard lock(rungs_mutex_);
      for (auto& r : rungs_)
        r->finish();
    }
    session_->end();
    done_.store(true, std::memory_order_release);
    warn_.log().info("finished ({} frames decoded, {} dropped, {} input packets dropped)",
                     frames_decoded_.load(), frames_dropped_.load(), input_dropped_.load());
  }

  // ---- before the plan: learn the source from the first packets ----
  void observe(const media::PacketPtr& p) {
    preroll_.push_back(p);
    preroll_bytes_ += p->body ? p->body->size() : 0;
    if (p->kind == media::TrackKind::kVideo && decodable(p->codec)) {
      if (p->config) {
        source_codec_ = p->codec;
        if (auto size = video_size(*p)) source_size_ = size;
      } else {
        if (first_video_dts_ < 0) first_video_dts_ = p->dts_ms;
        last_video_dts_ = p->dts_ms;
        ++video_frames_seen_;
        if (p->keyframe && source_size_) {
          if (keyframes_.size() < 2) keyframes_.push_back(p->dts_ms);
        }
        if (keyframes_.size() == 1) gop_bytes_ += p->payload().size();
      }
    }
    PrerollState preroll;
    preroll.span_ms = p->dts_ms - preroll_.front()->dts_ms;
    preroll.bytes = preroll_bytes_;
    preroll.have_size = source_size_.has_value();
    preroll.keyframes = keyframes_.size();
    preroll.ms_since_first_keyframe = keyframes_.empty() ? 0 : p->dts_ms - keyframes_.front();
    preroll.video_frames = video_frames_seen_;
    const bool ready = ready_to_plan(preroll, config_.ladder, config_.input_queue_bytes / 2);
    if (ready) plan_and_replay();
  }

  // Nullopt where the record does not say (VP9): the first decoded picture will.
  static std::optional<std::pair<int, int>> video_size(const media::Packet& config) {
    auto info = media::describe_video_config(config.codec, config.payload());
    if (!info || info->width <= 0 || info->height <= 0) return std::nullopt;
    return std::pair{info->width, info->height};
  }

  std::optional<SourceVideo> source_video() const {
    if (!source_size_) return std::nullopt;
    SourceVideo v;
    v.width = source_size_->first;
    v.height = source_size_->second;
    v.h264 = source_codec_ == media::Codec::kH264;
    if (keyframes_.size() >= 2 && keyframes_[1] > keyframes_[0]) {
      const double seconds = static_cast<double>(keyframes_[1] - keyframes_[0]) / 1000.0;
      v.keyframe_interval_s = seconds;
      v.bitrate_kbps = static_cast<double>(gop_bytes_) * 8.0 / 1000.0 / seconds;
    }
    return v;
  }

  double frame_rate() const {
    if (video_frames_seen_ >= 2 && last_video_dts_ > first_video_dts_) {
      const double fps = static_cast<double>(video_frames_seen_ - 1) * 1000.0 /
                         static_cast<double>(last_video_dts_ - first_video_dts_);
      if (fps >= 1 && fps <= 240) return fps;
    }
    return 30;
  }

  void plan_and_replay() {
    apply_plan(plan_ladder(config_.ladder, source_video()));
    planned_ = true;
    auto preroll = std::move(preroll_);
    preroll_.clear();
    for (const auto& p : preroll)
      process(p);
  }

  std::vector<RunningRung> running() const {
    std::vector<RunningRung> out;
    for (const auto& r : rungs_)
      out.push_back({r->plan(), r->encoded()});
    return out;
  }

  // Runs `plan` (pipeline_policy's change_plan says what it changes).
  void apply_plan(const std::vector<PlannedRung>& plan) {
    const PlanChange change = change_plan(plan_, running(), plan);
    if (!change.changed) return;
    plan_ = plan;
    next_key_ms_.reset();
    std::vector<std::unique_ptr<Rung>> current, keep;
    {
      std::lock_guard lock(rungs_mutex_);  // stats() may be reading
      current.swap(rungs_);
    }
    for (auto& r : current) {
      const auto& name = r->plan().spec.name;
      if (std::find(change.keep.begin(), change.keep.end(), name) != change.keep.end()) {
        keep.push_back(std::move(r));
        continue;
      }
      r->finish();
      session_->close_rendition(name);
    }
    std::string summary;
    smart_ = false;
    const int gop_frames =
        std::max(1, static_cast<int>(std::lround(config_.ladder.gop_s * frame_rate())));
    for (const auto& p : plan) {
      summary +=
          (summary.empty() ? "" : ", ") + p.spec.name +
          (p.width > 0 ? " " + std::to_string(p.width) + "x" + std::to_string(p.height) : "") +
          (p.passthrough ? " (passthrough)" : "");
      if (p.passthrough && !p.spec.source) smart_ = true;
    }
    for (const auto& p : change.start) {
      VideoEncoderParams params;
      params.width = p.width;
      params.height = p.height;
      params.frame_rate = frame_rate();
      params.preset = config_.ladder.preset;
      params.profile = config_.ladder.profile;
      params.x264_params = join_x264_params(config_.ladder.x264_params, p.spec.x264_params);
      // Last, so no other option can lift the bound.
      if (auto frames = delay_budget_frames(config_.ladder.max_encoder_delay_s, frame_rate()))
        params.x264_params =
            join_x264_params(params.x264_params, low_delay_x264_params(params.preset, *frames));
      params.crf = config_.ladder.crf;
      params.maxrate_kbps = p.spec.video_maxrate_kbps;
      params.bufsize_kbps = p.spec.vbv_bufsize_kbps;
      params.gop_frames = gop_frames;
      params.threads = config_.ladder.encoder_threads;
      auto& writer = session_->rendition({p.spec.name, declared_peak_bps(p)});
      auto rung = std::make_unique<Rung>(p, writer, params, config_.rung_queue_frames, warn_.log());
      // A rung joining mid-stream needs the current configs first.
      if (p.passthrough) {
        if (video_config_) rung->push(video_config_);
        if (audio_config_) rung->push(audio_config_);
      } else if (auto it = audio_encoders_.find(p.spec.audio_kbps); it != audio_encoders_.end()) {
        rung->push(it->second->config_packet(last_audio_dts_));
      }
      keep.push_back(std::move(rung));
    }
    std::sort(keep.begin(), keep.end(), [&](const auto& a, const auto& b) {
      return index_in(plan, a->plan().spec.name) < index_in(plan, b->plan().spec.name);
    });
    std::lock_guard lock(rungs_mutex_);
    rungs_ = std::move(keep);
    warn_.log().info("ladder {}", summary.empty() ? "empty" : summary);
  }

  static std::size_t index_in(const std::vector<PlannedRung>& plan, const std::string& name) {
    for (std::size_t i = 0; i < plan.size(); ++i)
      if (plan[i].spec.name == name) return i;
    return plan.size();
  }

  bool any_encoded() const {
    return std::any_of(rungs_.begin(), rungs_.end(), [](const auto& r) { return r->encoded(); });
  }

  void to_passthrough(const media::PacketPtr& p) {
    for (auto& r : rungs_)
      if (!r->encoded()) r->push(p);
  }

  // ---- after the plan ----
  void process(const media::PacketPtr& p) {
    if (p->kind == media::TrackKind::kVideo && decodable(p->codec)) {
      if (p->config) {
        on_video_config(p);
      } else {
        media_ms_.store(std::max<std::int64_t>(0, p->dts_ms), std::memory_order_relaxed);
        to_passthrough(p);
        if (video_decoder_ && any_encoded()) {
          auto st = video_decoder_->decode(*p, [this](AVFrame* f) { on_picture(f); });
          if (!st) warn_(st.error().message);
        }
      }
    } else if (p->kind == media::TrackKind::kAudio && decodable(p->codec)) {
      if (p->config) {
        on_audio_config(p);
      } else {
        // MP3 and AC-3 come without a configuration: their frames say it all.
        if (!audio_decoder_ && !audio_config_ && !needs_config(p->codec)) open_audio_decoder(p);
        last_audio_dts_ = p->dts_ms;
        if (!source_size_)
          media_ms_.store(std::max<std::int64_t>(0, p->dts_ms), std::memory_order_relaxed);
        to_passthrough(p);
        if (audio_decoder_ && any_encoded()) {
          auto st = audio_decoder_->decode(*p, [this](AVFrame* f) { on_sound(f); });
          if (!st) warn_(st.error().message);
        }
      }
    }
  }

  void on_video_config(const media::PacketPtr& p) {
    const auto record = p->payload();
    if (video_config_ && std::ranges::equal(video_config_->payload(), record)) return;
    video_config_ = p;
    to_passthrough(p);
    if (video_decoder_) video_decoder_->flush([this](AVFrame* f) { on_picture(f); });
    video_decoder_.reset();
    source_codec_ = p->codec;
    auto decoder = Decoder::open(p->codec, record, decoder_threads(*p));
    if (!decoder) {
      warn_(decoder.error().message);
      return;
    }
    video_decoder_ = std::move(*decoder);
  }

  // Up to 1080p one thread decodes fast enough, and the rungs' encoders already keep every
  // core busy: frame threads would only add picture copies and a frame of delay each.
  int decoder_threads(const media::Packet& config) const {
    if (config_.decoder_threads > 0) return config_.decoder_threads;
    const auto size = video_size(config);
    return size && size->first * size->second <= 1920 * 1088 ? 1 : 0;
  }

  void on_audio_config(const media::PacketPtr& p) {
    const auto record = p->payload();
    if (audio_config_ && std::ranges::equal(audio_config_->payload(), record)) return;
    audio_config_ = p;
    to_passthrough(p);
    open_audio_decoder(p);
  }

  void open_audio_decoder(const media::PacketPtr& p) {
    audio_decoder_.reset();
    auto decoder =
        Decoder::open(p->codec, p->config ? p->payload() : std::span<const std::uint8_t>(), 1);
    if (!decoder) {
      warn_(decoder.error().message);
      return;
    }
    audio_decoder_ = std::move(*decoder);
  }

  void on_picture(AVFrame* frame) {
    frames_decoded_.fetch_add(1, std::memory_order_relaxed);
    // A new picture size (new sequence header, or parameter sets changed in band), or the
    // first picture of a stream planned as audio-only: plan again.
    if (const std::pair size{frame->width, frame->height}; size != source_size_) {
      warn_.log().info("source picture is now {}x{}", size.first, size.second);
      source_size_ = size;
      apply_plan(plan_ladder(config_.ladder, source_video()));
    }
    const auto gop_ms = static_cast<std::int64_t>(std::llround(config_.ladder.gop_s * 1000));
    const auto key =
        decide_keyframe(frame->pts, frame->key_frame != 0, smart_, next_key_ms_, gop_ms);
    next_key_ms_ = key.next_key_ms;
    if (degrade_for(frame->pts, key.force)) {
      frames_dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const bool force = key.force;
    FrameItem item{av::share(frame), force};
    for (auto& r : rungs_)
      if (r->encoded() && r->plan().width > 0) r->push(item);
  }

  // Overload (pipeline_policy's decide_overload): true to drop this picture. Shedding
  // happens here too.
  bool degrade_for(std::int64_t pts, bool keyframe) {
    if (config_.offline) return false;
    std::int64_t newest;
    {
      std::lock_guard lock(input_mutex_);
      newest = last_input_dts_;
    }
    const auto d = decide_overload(config_.ladder, overload_, newest, pts, keyframe);
    overload_ = d.next;
    if (d.shed) shed_top_rung();
    return d.drop_frame;
  }

  void shed_top_rung() {
    const auto index = rung_to_shed(running());
    if (!index) return;
    Rung* top = rungs_[*index].get();
    warn_.log().warn("cannot keep up in real time; shedding rung {}", top->plan().spec.name);
    top->abandon();
    session_->close_rendition(top->plan().spec.name);
    std::lock_guard lock(rungs_mutex_);
    auto stats = top->stats();
    stats.shed = true;
    shed_.push_back(stats);
    rungs_.erase(rungs_.begin() + static_cast<long>(*index));
    rungs_shed_.fetch_add(1, std::memory_order_relaxed);
  }

  void on_sound(AVFrame* frame) {
    // One encoder per distinct audio bitrate, shared by the rungs that use it.
    if (audio_encoders_.empty()) {
      for (const auto& r : rungs_) {
        if (!r->encoded() || audio_encoders_.contains(r->plan().spec.audio_kbps)) continue;
        auto encoder = AudioEncoder::open(
            AudioEncoderParams{config_.ladder.audio_sample_rate, r->plan().spec.audio_kbps},
            frame->ch_layout.nb_channels);
        if (!encoder) {
          warn_(encoder.error().message);
          continue;
        }
        audio_encoders_.emplace(r->plan().spec.audio_kbps, std::move(*encoder));
      }
      for (auto& [kbps, encoder] : audio_encoders_)
        to_audio_rungs(kbps, encoder->config_packet(frame->pts));
    }
    for (auto& [kbps, encoder] : audio_encoders_) {
      const int rate = kbps;
      auto st = encoder->encode(frame, [&](media::PacketPtr p) { to_audio_rungs(rate, p); });
      if (!st) warn_(st.error().message);
    }
  }

  void to_audio_rungs(int kbps, const media::PacketPtr& p) {
    for (auto& r : rungs_)
      if (r->encoded() && r->plan().spec.audio_kbps == kbps) r->push(p);
  }

  void flush() {
    if (video_decoder_ && any_encoded())
      video_decoder_->flush([this](AVFrame* f) { on_picture(f); });
    if (audio_decoder_ && any_encoded()) audio_decoder_->flush([this](AVFrame* f) { on_sound(f); });
    for (auto& [kbps, encoder] : audio_encoders_) {
      const int rate = kbps;
      auto st = encoder->flush([&](media::PacketPtr p) { to_audio_rungs(rate, p); });
      if (!st) warn_(st.error().message);
    }
  }

  const std::string id_;
  const TranscodeConfig config_;
  std::unique_ptr<media::RenditionSink> session_;
  Warner warn_;
  const Clock::time_point started_;

  // Input queue, shared with the ingest thread.
  std::mutex input_mutex_;
  std::condition_variable input_ready_, input_room_;
  std::deque<media::PacketPtr> input_;
  std::size_t input_bytes_ = 0;
  bool ended_ = false;
  bool dropping_ = false;
  bool saw_video_ = false;
  std::int64_t last_input_dts_ = 0;

  // Pipeline thread state.
  bool planned_ = false;
  std::vector<PlannedRung> plan_;  // running
  std::vector<media::PacketPtr> preroll_;
  std::size_t preroll_bytes_ = 0;
  std::optional<std::pair<int, int>> source_size_;
  media::Codec source_codec_ = media::Codec::kH264;
  std::vector<std::int64_t> keyframes_;  // first two, for the smart ladder
  std::size_t gop_bytes_ = 0;
  std::int64_t first_video_dts_ = -1, last_video_dts_ = 0;
  std::int64_t video_frames_seen_ = 0;
  media::PacketPtr video_config_, audio_config_;
  std::unique_ptr<Decoder> video_decoder_, audio_decoder_;
  std::map<int, std::unique_ptr<AudioEncoder>> audio_encoders_;  // by kbit/s
  std::int64_t last_audio_dts_ = 0;
  bool smart_ = false;
  std::optional<std::int64_t> next_key_ms_;
  OverloadState overload_;

  mutable std::mutex rungs_mutex_;  // rungs_ changes on the pipeline thread; stats() reads it
  std::vector<std::unique_ptr<Rung>> rungs_;
  std::vector<RungStats> shed_;

  std::atomic<std::uint64_t> frames_decoded_{0}, frames_dropped_{0}, input_dropped_{0},
      rungs_shed_{0};
  std::atomic<std::int64_t> media_ms_{0};
  std::atomic<bool> done_{false};
  std::mutex join_mutex_;
  std::thread thread_;  // last: starts after everything it uses exists
};

namespace {

TranscodeConfig with_capacity(TranscodeConfig config) {
  if (config.capacity == 0) {
    config.capacity = std::max(1u, std::thread::hardware_concurrency() / 2);
  }
  return config;
}

class PipelineSink final : public media::PacketSink {
 public:
  explicit PipelineSink(std::shared_ptr<Pipeline> pipeline) : pipeline_(std::move(pipeline)) {}
  ~PipelineSink() override { pipeline_->end(); }
  void on_packet(const media::PacketPtr& packet) override { pipeline_->push(packet); }
  void end() override { pipeline_->end(); }

 private:
  std::shared_ptr<Pipeline> pipeline_;
};

// No transcoding: the source goes out as rendition "source", muxed on the caller's thread.
class SourceSink final : public media::PacketSink {
 public:
  SourceSink(std::unique_ptr<media::RenditionSink> session, const std::string& id)
      : session_(std::move(session)),
        output_(session_->rendition({media::kSourceRendition, 0})),
        warn_(stream_logger("hls", id)) {}
  void on_packet(const media::PacketPtr& packet) override {
    if (auto st = output_.on_packet(packet); !st) warn_(st.error().message);
  }
  void end() override { session_->end(); }

 private:
  std::unique_ptr<media::RenditionSink> session_;
  media::RenditionOutput& output_;
  Warner warn_;
};

}  // namespace

TranscodeService::TranscodeService(TranscodeConfig config, RenditionSinkFactory open_session)
    : config_(with_capacity(std::move(config))), open_session_(std::move(open_session)) {
  encodes_ = std::any_of(config_.ladder.rungs.begin(), config_.ladder.rungs.end(),
                         [](const RungSpec& r) { return !r.source; });
  av::route_logs();
}

void TranscodeService::stop() {
  std::list<std::shared_ptr<Pipeline>> pipelines;
  {
    std::lock_guard lock(mutex_);
    pipelines.swap(pipelines_);
  }
  for (auto& p : pipelines)  // outside the lock: a pipeline's last steps may call back in
    p->stop();
}

std::unique_ptr<media::PacketSink> TranscodeService::open(const std::string& playback_id) {
  if (encodes_) {
    std::unique_lock lock(mutex_);
    const auto running = static_cast<std::size_t>(std::count_if(
        pipelines_.begin(), pipelines_.end(), [](const auto& p) { return !p->done(); }));
    if (running < config_.capacity) {
      auto pipeline = std::make_shared<Pipeline>(playback_id, config_, open_session_(playback_id));
      pipelines_.push_back(pipeline);
      return std::make_unique<PipelineSink>(std::move(pipeline));
    }
    lock.unlock();
    refused_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("transcode {}: capacity of {} streams reached; serving the source only",
                 playback_id, config_.capacity);
  }
  return std::make_unique<SourceSink>(open_session_(playback_id), playback_id);
}

std::unique_ptr<media::PacketSink> TranscodeService::open_encoder(
    const std::string& id, std::vector<RungSpec> rungs,
    std::unique_ptr<media::RenditionSink> session) {
  TranscodeConfig config = config_;
  config.ladder.rungs = std::move(rungs);
  config.ladder.smart_passthrough = false;
  std::lock_guard lock(mutex_);
  const auto running = static_cast<std::size_t>(std::count_if(
      pipelines_.begin(), pipelines_.end(), [](const auto& p) { return !p->done(); }));
  if (running >= config_.capacity) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  auto pipeline = std::make_shared<Pipeline>(id, std::move(config), std::move(session));
  pipelines_.push_back(pipeline);
  return std::make_unique<PipelineSink>(std::move(pipeline));
}

void TranscodeService::reap() {
  std::list<std::shared_ptr<Pipeline>> finished;
  {
    std::lock_guard lock(mutex_);
    for (auto it = pipelines_.begin(); it != pipelines_.end();) {
      if ((*it)->done()) {
        finished.push_back(std::move(*it));
        it = pipelines_.erase(it);
      } else {
        ++it;
      }
    }
  }
  finished.clear();  // joins outside the lock; the threads have already returned
}

std::vector<TranscodeStats> TranscodeService::stats() const {
  std::vector<TranscodeStats> out;
  std::lock_guard lock(mutex_);
  for (const auto& p : pipelines_)
    if (!p->done()) out.push_back(p->stats());
  return out;
}

std::size_t TranscodeService::active() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(pipelines_.begin(), pipelines_.end(),
                                                [](const auto& p) { return !p->done(); }));
}

}  // namespace sluice::transcode
