#include "app/serve.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fstream>
#include <optional>
#include <thread>

#include "admission/admission.h"
#include "app/registration.h"
#include "app/runtime.h"
#include "ingest/publish_gate.h"
#include "ingest/rtmp_server.h"
#include "ingest/stream_hub.h"
#include "package/hls_store.h"
#include "registry/registry.h"
#include "relay/relay.h"
#include "serve/admin_http.h"
#include "serve/hls_http.h"
#include "store/hls_mirror.h"
#include "store/recorder.h"
#include "transcode/transcoder.h"

namespace sluice::app {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Where the fleet reaches this server: configured, or the HTTP listen address.
std::string advertised_address(const ServeConfig& config, const tcp::endpoint& http) {
  if (!config.advertise.empty()) return config.advertise;
  if (!http.address().is_unspecified()) return endpoint_text(http);
  if (config.registry.url != "memory") {
    spdlog::warn(
        "advertise not set and http.listen is a wildcard: advertising 127.0.0.1, "
        "which other machines cannot reach");
  }
  return "127.0.0.1:" + std::to_string(http.port());
}

// Random, so session IDs differ across servers and restarts.
std::string node_tag() {
  unsigned char raw[6];
  if (RAND_bytes(raw, sizeof raw) != 1) return std::to_string(::getpid());
  return fmt::format("{:02x}", fmt::join(raw, ""));
}

std::string env_or(const std::string& value, const char* env, const char* fallback = "") {
  if (!value.empty()) return value;
  const char* v = std::getenv(env);
  return v ? v : fallback;
}

// Where recordings go, from the dvr options; nullopt when recording is off.
std::optional<store::RecorderConfig> recorder_config(const ServeConfig& config) {
  if (config.dvr == "off") return std::nullopt;
  store::RecorderConfig rc;
  if (!config.dvr.starts_with("s3://")) {
    rc.root =
        config.dvr.empty() ? config.data_dir / "recordings" : std::filesystem::path(config.dvr);
    return rc;
  }
  store::S3Target s3 = config.dvr_s3;
  s3.region = env_or(s3.region, "AWS_REGION", "us-east-1");
  s3.access_key = env_or(s3.access_key, "AWS_ACCESS_KEY_ID");
  s3.secret_key = env_or(s3.secret_key, "AWS_SECRET_ACCESS_KEY");
  s3.session_token = env_or(s3.session_token, "AWS_SESSION_TOKEN");
  rc.s3 = std::move(s3);
  rc.root = config.dvr_spool.empty() ? config.data_dir / "spool" : config.dvr_spool;
  rc.spool_max_bytes = config.dvr_spool_max_mb << 20;
  rc.upload_threads = config.dvr_upload_threads;
  return rc;
}

// Each stream's recorded rendition: the configured one, else the highest rung of the ladder
// the stream has open (rungs that would upscale are skipped), else its only rendition.
store::Recorder::RenditionPicker rendition_picker(const ServeConfig& config,
                                                  const package::HlsStore& hls) {
  std::vector<std::string> ladder;
  for (const auto& rung : config.transcode.ladder.rungs)
    ladder.push_back(rung.name);
  return [&hls, ladder, wanted = config.dvr_rendition](
             const std::string& playback_id) -> std::optional<std::string> {
    if (!wanted.empty()) return wanted;
    const auto open = hls.renditions(playback_id);
    for (auto it = ladder.rbegin(); it != ladder.rend(); ++it) {
      if (std::find(open.begin(), open.end(), *it) != open.end()) return *it;
    }
    if (open.empty()) return std::nullopt;
    return open.back();
  };
}

// What has to be right before anything starts; a failure here is a start-up error.
struct ServeInputs {
  admission::AdmissionConfig admission;
  std::unique_ptr<admission::PublishAuthorizer> auth;
  std::unique_ptr<registry::Registry> registry;
  tcp::endpoint rtmp, http;
  std::optional<tcp::endpoint> admin;
  std::optional<tcp::endpoint> rtmps;
  std::shared_ptr<net::TlsCertificate> tls;
  std::unique_ptr<admission::PlaybackTokens> tokens;  // signed playback, when configured
};

Result<ServeInputs> prepare(const ServeConfig& config) {
  std::error_code fs_ec;
  std::filesystem::create_directories(config.data_dir, fs_ec);
  if (fs_ec)
    return make_error(Errc::kIo, "data_dir " + config.data_dir.string() + ": " + fs_ec.message());
  ServeInputs in;
  auto admission_cfg = admission_config(config);
  if (!admission_cfg) return admission_cfg.error();
  in.admission = std::move(*admission_cfg);
  auto auth = admission::make_authorizer(config.auth, config.webhook_timeout);
  if (!auth) return auth.error();
  in.auth = std::move(*auth);
  if (config.auth == "open") {
    spdlog::warn("auth = open: any valid stream key may publish (development only)");
  }
  auto rtmp_ep = parse_endpoint(config.rtmp_listen);
  if (!rtmp_ep) return rtmp_ep.error();
  auto http_ep = parse_endpoint(config.http_listen);
  if (!http_ep) return http_ep.error();
  in.rtmp = *rtmp_ep;
  in.http = *http_ep;
  if (!config.rtmp_tls_cert.empty()) {
    auto rtmps_ep = parse_endpoint(config.rtmp_tls_listen);
    if (!rtmps_ep) return rtmps_ep.error();
    in.rtmps = *rtmps_ep;
    auto tls = net::TlsCertificate::load(config.rtmp_tls_cert, config.rtmp_tls_key);
    if (!tls) return tls.error();
    in.tls = std::move(*tls);
  }
  if (!config.admin_listen.empty()) {
    auto admin_ep = parse_endpoint(config.admin_listen);
    if (!admin_ep) return admin_ep.error();
    in.admin = *admin_ep;
  }
  auto registry = registry::make_registry(config.registry);
  if (!registry) return registry.error();
  in.registry = std::move(*registry);
  auto tokens = playback_tokens(config);
  if (!tokens) return tokens.error();
  in.tokens = std::move(*tokens);
  return in;
}

// `sluice serve`: every component, declared in dependency order. A member refers only to
// those above it, so the language's construction and (reverse) destruction order is the
// right one: sources (listeners, relays) stop before the transcoder, the transcoder before
// the io_context, the io_context before the hub and the store.
class MediaServer {
 public:
  // Throws boost::system::system_error when a listener cannot bind.
  MediaServer(const ServeConfig& config, ServeInputs inputs);
  void run();

 private:
  serve::ServeContext serve_context();
  void publish_node();
  void schedule_sweep();
  void shut_down();
  bool on_stop_signal();
  void check_drained();

  const ServeConfig& config_;
  ServeInputs in_;
  const int threads_;
  ingest::StreamHub hub_;
  // Told by the store (from publishers' threads) of every playlist change; outlives it.
  serve::UpdateWaiters waiters_;
  package::HlsStore hls_;
  std::unique_ptr<store::HlsMirror> mirror_;
  std::optional<store::Recorder> recorder_;
  std::optional<Registration> registration_;  // emplaced once the HTTP address is known
  ingest::RtmpCounters rtmp_counters_;
  ingest::SrtCounters srt_counters_;
  http::HttpCounters http_counters_, admin_counters_;
  http::ViewerCounter viewers_;
  std::atomic<bool> draining_{false};
  admission::Admission admission_;
  // Destroying the io_context destroys the suspended session coroutines, which refer to
  // everything above.
  asio::io_context io_;
  // Ends and joins its pipelines before the io_context goes (a relay's encode delivers into
  // that relay's send queue, whose timer belongs to it); their last segments reach the store
  // and its listeners above.
  transcode::TranscodeService transcoder_;
  relay::RelayService relays_;
  ingest::PublishGate gate_;
  const http::HttpConfig admin_http_config_;
  std::unique_ptr<ingest::RtmpServer> rtmp_;
  unsigned short rtmp_port_ = 0;
  std::unique_ptr<ingest::RtmpServer> rtmps_;  // RTMPS, when a certificate is given
  std::optional<net::SrtLibrary> srt_library_;
  std::unique_ptr<ingest::SrtServer> srt_;         // SRT, when srt.listen is set
  std::unique_ptr<serve::Thumbnails> thumbnails_;  // when thumbnail.interval > 0
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<http::HttpServer> admin_;
  std::string advertise_;
  int capacity_ = 0;
  asio::steady_timer sweeper_;
  asio::steady_timer drain_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
  bool drain_signalled_ = false;  // a second signal stops at once
};

MediaServer::MediaServer(const ServeConfig& config, ServeInputs inputs)
    : config_(config),
      in_(std::move(inputs)),
      threads_(io_thread_count(config.io_threads)),
      hub_(config.max_streams),
      hls_(config.hls),
      admission_(in_.admission, *in_.auth, &draining_),
      io_(threads_),
      transcoder_(transcode_config(config),
                  [this](const std::string& id) { return hls_.begin_session(id); }),
      relays_(io_, config.relay, &transcoder_),
      gate_(admission_, hub_,
            ingest::PublishGateHooks{
                [this](const std::string& id) { return transcoder_.open(id); },
                [this](const std::shared_ptr<ingest::Stream>& stream, const std::string& options) {
                  if (auto position = hls_.live_session(stream->playback_id()))
                    registration_->on_publish(stream->playback_id(), *position);
                  relays_.start(stream, options);
                }},
            config.rtmp.takeover),
      admin_http_config_([&] {
        http::HttpConfig c = config.http;
        c.writes = true;
        c.proxy_from.clear();  // an operator's own listener, not behind the balancers
        return c;
      }()),
      sweeper_(io_),
      drain_timer_(io_) {
  if (config.hls_mirror) {
    mirror_ =
        std::make_unique<store::HlsMirror>(config.data_dir / "hls", hls_, config.hls.window + 3);
    hls_.add_listener(mirror_.get());
    spdlog::info("mirroring HLS to {}", (config.data_dir / "hls").string());
  }
  if (auto rc = recorder_config(config)) {
    recorder_.emplace(std::move(*rc), rendition_picker(config, hls_));
    hls_.add_listener(&*recorder_);
  }
  rtmp_ = std::make_unique<ingest::RtmpServer>(
      io_, in_.rtmp,
      ingest::IngestContext{config.rtmp, hub_, gate_, rtmp_counters_, in_.tokens.get(),
                            &draining_});
  rtmp_port_ = rtmp_->local_endpoint().port();
  if (!config.srt_listen.empty()) {
    ingest::SrtConfig srt = config.srt;
    srt.app = config.rtmp.app;
    srt.handshake_timeout = config.rtmp.handshake_timeout;
    srt.idle_timeout = config.rtmp.idle_timeout;
    srt.play_queue_bytes = config.rtmp.play_queue_bytes;  // one player limit for both
    srt_library_.emplace();
    srt_ = std::make_unique<ingest::SrtServer>(
        io_, config.srt_listen, std::move(srt),
        ingest::IngestContext{config.rtmp, hub_, gate_, rtmp_counters_, in_.tokens.get(),
                              &draining_},
        srt_counters_);
  }
  if (in_.rtmps) {
    rtmps_ = std::make_unique<ingest::RtmpServer>(
        io_, *in_.rtmps,
        ingest::IngestContext{config.rtmp, hub_, gate_, rtmp_counters_, in_.tokens.get(),
                              &draining_},
        in_.tls);
  }
  if (config.thumbnail.interval.count() > 0)
    thumbnails_ = std::make_unique<serve::Thumbnails>(config.thumbnail);
  http_ = std::make_unique<http::HttpServer>(io_, in_.http, config.http, http_counters_,
                                             serve::make_hls_handler(serve_context()));
  advertise_ = advertised_address(config, http_->local_endpoint());
  registration_.emplace(*in_.registry, advertise_, node_tag());
  hls_.add_listener(&*registration_);
  hls_.set_update_listener([this](const std::string& id, const std::string& rendition) {
    waiters_.notify(id, rendition);
  });
  hls_.set_continuation_source(
      [this](const std::string& id) { return registration_->continuation(id); });
  capacity_ = static_cast<int>(serve::node_capacity(hub_, transcoder_));
  publish_node();
  // The admin API, on its own listener (off unless admin.listen is set).
  if (in_.admin) {
    serve::AdminActions actions{[this] {
                                  draining_ = true;
                                  publish_node();
                                  return hub_.size();
                                },
                                [this] { in_.auth->reload(); }};
    admin_ = std::make_unique<http::HttpServer>(
        io_, *in_.admin, admin_http_config_, admin_counters_,
        serve::make_admin_handler(serve_context(), config.admin_token, std::move(actions)));
  }
}

serve::ServeContext MediaServer::serve_context() {
  return serve::ServeContext{hls_,
                             hub_,
                             transcoder_,
                             *in_.registry,
                             rtmp_counters_,
                             http_counters_,
                             recorder_ ? &*recorder_ : nullptr,
                             &relays_,
                             &viewers_,
                             &waiters_,
                             config_.srt_listen.empty() ? nullptr : &srt_counters_,
                             thumbnails_.get(),
                             in_.tokens.get()};
}

void MediaServer::publish_node() {
  // The port as bound at start: the acceptor may be closed already when a publish ends
  // during shutdown.
  const std::string host = advertise_.substr(0, advertise_.rfind(':') + 1);
  in_.registry->publish_node(registry::NodeEntry{
      advertise_, host + std::to_string(rtmp_port_), capacity_, static_cast<int>(hub_.size()),
      draining_.load(), srt_ ? host + std::to_string(srt_->local_port()) : ""});
}

// Drops ended streams whose grace period is over.
void MediaServer::schedule_sweep() {
  sweeper_.expires_after(std::chrono::seconds(1));
  sweeper_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    hls_.sweep();
    transcoder_.reap();
    publish_node();
    schedule_sweep();
  });
}

void MediaServer::shut_down() {
  if (admin_) admin_->stop();
  relays_.stop();
  rtmp_->stop();
  if (rtmps_) rtmps_->stop();
  if (srt_) srt_->stop();
  http_->stop();
  sweeper_.cancel();
}

// SIGTERM with drain_timeout: stay up, refuse new publishes, tell the registry (the proxy
// sends nothing new here), and exit once the publishers are gone or the deadline passes.
bool MediaServer::on_stop_signal() {
  if (drain_signalled_ || config_.drain_timeout.count() == 0 || hub_.size() == 0) {
    drain_timer_.cancel();
    shut_down();
    return true;
  }
  drain_signalled_ = true;
  draining_ = true;
  publish_node();
  drain_deadline_ = std::chrono::steady_clock::now() + config_.drain_timeout;
  spdlog::info("drain: refusing new publishes; waiting up to {} ms for {} publisher(s)",
               config_.drain_timeout.count(), hub_.size());
  check_drained();
  return false;
}

void MediaServer::check_drained() {
  drain_timer_.expires_after(std::chrono::milliseconds(250));
  drain_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    if (hub_.size() > 0 && std::chrono::steady_clock::now() < drain_deadline_) {
      check_drained();
      return;
    }
    spdlog::info("drain: {}; stopping", hub_.size() == 0 ? "no publisher left" : "deadline passed");
    shut_down();
    io_.stop();
  });
}

void MediaServer::run() {
  if (admin_) {
    admin_->start();
    spdlog::info("admin API listening on {}", endpoint_text(admin_->local_endpoint()));
  }
  rtmp_->start();
  if (srt_) {
    if (auto st = srt_->start(); !st) throw std::runtime_error(st.error().message);
    spdlog::info("srt listening on {} (port {}){}", config_.srt_listen, srt_->local_port(),
                 config_.srt.passphrase.empty() ? "" : ", encrypted");
    publish_node();  // now with the SRT listener's port
  }
  if (rtmps_) {
    rtmps_->start();
    spdlog::info("rtmps listening on {} (certificate {})", endpoint_text(rtmps_->local_endpoint()),
                 in_.tls->cert_file());
  }
  http_->start();
  spdlog::info("sluice serve: rtmp listening on {} (app '{}'), http listening on {}, auth {}",
               endpoint_text(rtmp_->local_endpoint()), config_.rtmp.app,
               endpoint_text(http_->local_endpoint()), in_.auth->describe());
  spdlog::info("registry {}; this server is {}", in_.registry->describe(), advertise_);
  spdlog::info("recordings: {}", recorder_ ? recorder_->describe() : "off");
  spdlog::info("ladder {} (preset {}, gop {} s{}); transcoding capacity {} streams",
               transcode::format_rungs(config_.transcode.ladder.rungs),
               config_.transcode.ladder.preset, config_.transcode.ladder.gop_s,
               config_.transcode.ladder.smart_passthrough ? ", smart passthrough" : "",
               transcoder_.capacity());
  schedule_sweep();
  run_until_signal(
      io_, threads_, [this] { return on_stop_signal(); },
      [this] {
        spdlog::info("SIGHUP: reloading publish authorization");
        in_.auth->reload();
        if (in_.tls) in_.tls->reload_on_signal();  // open sessions keep theirs
      });
}

}  // namespace

int run_serve(const ServeConfig& config_in) {
  const ServeConfig config = config_in;
  setup_process(config);
  auto inputs = prepare(config);
  if (!inputs) {
    spdlog::critical("{}", inputs.error().message);
    return 1;
  }
  try {
    MediaServer server(config, std::move(*inputs));
    server.run();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen: {}", e.what());
    return 1;
  }
  spdlog::info("sluice serve: stopped");
  return 0;
}

}  // namespace sluice::app
