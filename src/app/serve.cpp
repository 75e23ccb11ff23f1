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

}  // namespace

int run_serve(const ServeConfig& config_in) {
  ServeConfig config = config_in;
  setup_logging(config);

  std::error_code fs_ec;
  std::filesystem::create_directories(config.data_dir, fs_ec);
  if (fs_ec) {
    spdlog::critical("data_dir {}: {}", config.data_dir.string(), fs_ec.message());
    return 1;
  }
  auto admission_cfg = admission_config(config);
  if (!admission_cfg) {
    spdlog::critical("{}", admission_cfg.error().message);
    return 1;
  }

  auto auth = admission::make_authorizer(config.auth, config.webhook_timeout);
  if (!auth) {
    spdlog::critical("{}", auth.error().message);
    return 1;
  }
  if (config.auth == "open") {
    spdlog::warn("auth = open: any valid stream key may publish (development only)");
  }

  auto rtmp_ep = parse_endpoint(config.rtmp_listen);
  auto http_ep = parse_endpoint(config.http_listen);
  if (!rtmp_ep || !http_ep) {
    spdlog::critical("{}", (!rtmp_ep ? rtmp_ep.error() : http_ep.error()).message);
    return 1;
  }

  const int threads = io_thread_count(config.io_threads);
  auto registry = registry::make_registry(config.registry);
  if (!registry) {
    spdlog::critical("{}", registry.error().message);
    return 1;
  }
  ingest::StreamHub hub(config.max_streams);
  package::HlsStore hls(config.hls);
  std::unique_ptr<store::HlsMirror> mirror;
  if (config.hls_mirror) {
    mirror =
        std::make_unique<store::HlsMirror>(config.data_dir / "hls", hls, config.hls.window + 3);
    hls.add_listener(mirror.get());
    spdlog::info("mirroring HLS to {}", (config.data_dir / "hls").string());
  }
  // Before the transcoder: its pipelines may flush a last segment to the listeners as they stop.
  std::optional<store::Recorder> recorder;
  if (auto rc = recorder_config(config)) {
    recorder.emplace(std::move(*rc), rendition_picker(config, hls));
    hls.add_listener(&*recorder);
  }
  std::optional<Registration> registration;  // emplaced once the HTTP address is known
  transcode::TranscodeService transcoder(
      config.transcode, [&hls](const std::string& id) { return hls.begin_session(id); });
  ingest::RtmpCounters rtmp_counters;
  http::HttpCounters http_counters;
  http::ViewerCounter viewers;
  std::atomic<bool> draining{false};
  admission::Admission admission(std::move(*admission_cfg), **auth, &draining);
  // Declared after everything sessions refer to, so it is destroyed first: destroying the
  // io_context destroys the suspended session coroutines while the hub and store still exist.
  asio::io_context io(threads);
  relay::RelayService relays(io, config.relay, &transcoder);

  ingest::PublishGate gate(
      admission, hub,
      ingest::PublishGateHooks{
          [&transcoder](const std::string& id) { return transcoder.open(id); },
          [&](const std::shared_ptr<ingest::Stream>& stream, const std::string& options) {
            if (auto position = hls.live_session(stream->playback_id()))
              registration->on_publish(stream->playback_id(), *position);
            relays.start(stream, options);
          }},
      config.rtmp.takeover);

  std::unique_ptr<ingest::RtmpServer> rtmp;
  std::unique_ptr<http::HttpServer> http;
  try {
    rtmp = std::make_unique<ingest::RtmpServer>(
        io, *rtmp_ep, ingest::IngestContext{config.rtmp, hub, gate, rtmp_counters});
    http = std::make_unique<http::HttpServer>(
        io, *http_ep, config.http, http_counters,
        serve::make_hls_handler(serve::ServeContext{hls, hub, transcoder, **registry, rtmp_counters,
                                                    http_counters, recorder ? &*recorder : nullptr,
                                                    &relays, &viewers}));
  } catch (const boost::system::system_error& e) {
    spdlog::critical("cannot listen: {}", e.what());
    return 1;
  }
  const std::string advertise = advertised_address(config, http->local_endpoint());
  registration.emplace(**registry, advertise, node_tag());
  hls.add_listener(&*registration);
  hls.set_continuation_source(
      [&registration](const std::string& id) { return registration->continuation(id); });
  const auto rtmp_port = std::to_string(rtmp->local_endpoint().port());
  const int capacity = static_cast<int>(serve::node_capacity(hub, transcoder));
  const auto publish_node = [&] {
    (*registry)->publish_node(
        registry::NodeEntry{advertise, advertise.substr(0, advertise.rfind(':') + 1) + rtmp_port,
                            capacity, static_cast<int>(hub.size()), draining.load()});
  };
  publish_node();

  // The admin API, on its own listener (off unless admin.listen is set).
  http::HttpConfig admin_http_config = config.http;
  admin_http_config.writes = true;
  http::HttpCounters admin_counters;
  std::unique_ptr<http::HttpServer> admin;
  if (!config.admin_listen.empty()) {
    auto admin_ep = parse_endpoint(config.admin_listen);
    if (!admin_ep) {
      spdlog::critical("{}", admin_ep.error().message);
      return 1;
    }
    serve::AdminActions actions{[&] {
                                  draining = true;
                                  publish_node();
                                  return hub.size();
                                },
                                [&] { (*auth)->reload(); }};
    try {
      admin = std::make_unique<http::HttpServer>(
          io, *admin_ep, admin_http_config, admin_counters,
          serve::make_admin_handler(
              serve::ServeContext{hls, hub, transcoder, **registry, rtmp_counters, http_counters,
                                  recorder ? &*recorder : nullptr, &relays, &viewers},
              config.admin_token, std::move(actions)));
    } catch (const boost::system::system_error& e) {
      spdlog::critical("cannot listen on admin.listen: {}", e.what());
      return 1;
    }
    admin->start();
    spdlog::info("admin API listening on {}", endpoint_text(admin->local_endpoint()));
  }
  rtmp->start();
  http->start();
  spdlog::info("sluice serve: rtmp listening on {} (app '{}'), http listening on {}, auth {}",
               endpoint_text(rtmp->local_endpoint()), config.rtmp.app,
               endpoint_text(http->local_endpoint()), (*auth)->describe());
  spdlog::info("registry {}; this server is {}", (*registry)->describe(), advertise);
  spdlog::info("recordings: {}", recorder ? recorder->describe() : "off");
  spdlog::info("ladder {} (preset {}, gop {} s{}); transcoding capacity {} streams",
               transcode::format_rungs(config.transcode.ladder.rungs),
               config.transcode.ladder.preset, config.transcode.ladder.gop_s,
               config.transcode.ladder.smart_passthrough ? ", smart passthrough" : "",
               transcoder.capacity());

  // Drops ended streams whose grace period is over.
  asio::steady_timer sweeper(io);
  std::function<void()> schedule_sweep = [&] {
    sweeper.expires_after(std::chrono::seconds(1));
    sweeper.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      hls.sweep();
      transcoder.reap();
      publish_node();
      schedule_sweep();
    });
  };
  schedule_sweep();

  const auto shut_down = [&] {
    if (admin) admin->stop();
    relays.stop();
    rtmp->stop();
    http->stop();
    sweeper.cancel();
  };
  // SIGTERM with drain_timeout: stay up, refuse new publishes, tell the registry (the proxy
  // sends nothing new here), and exit once the publishers are gone or the deadline passes.
  asio::steady_timer drain_timer(io);
  std::chrono::steady_clock::time_point drain_deadline;
  std::function<void()> check_drained = [&] {
    drain_timer.expires_after(std::chrono::milliseconds(250));
    drain_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      if (hub.size() > 0 && std::chrono::steady_clock::now() < drain_deadline) {
        check_drained();
        return;
      }
      spdlog::info("drain: {}; stopping",
                   hub.size() == 0 ? "no publisher left" : "deadline passed");
      shut_down();
      io.stop();
    });
  };
  bool drain_signalled = false;  // a second signal stops at once
  run_until_signal(
      io, threads,
      [&] {
        if (drain_signalled || config.drain_timeout.count() == 0 || hub.size() == 0) {
          drain_timer.cancel();
          shut_down();
          return true;
        }
        drain_signalled = true;
        draining = true;
        publish_node();
        drain_deadline = std::chrono::steady_clock::now() + config.drain_timeout;
        spdlog::info("drain: refusing new publishes; waiting up to {} ms for {} publisher(s)",
                     config.drain_timeout.count(), hub.size());
        check_drained();
        return false;
      },
      [&] {
        spdlog::info("SIGHUP: reloading publish authorization");
        (*auth)->reload();
      });
  // While the io_context still exists: a relay's encode delivers to that relay's send queue.
  transcoder.stop();
  spdlog::info("sluice serve: stopped");
  return 0;
}

}  // namespace sluice::app
