#include "app/serve.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fstream>
#include <thread>

#include "ingest/auth.h"
#include "ingest/rtmp_server.h"
#include "ingest/stream_hub.h"
#include "package/hls_store.h"
#include "serve/http_server.h"
#include "store/hls_mirror.h"
#include "transcode/transcoder.h"

namespace sluice::app {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

Result<tcp::endpoint> parse_endpoint(const std::string& listen) {
  const auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec)
    return make_error(Errc::kMalformed, "listen address '" + listen + "': host must be an IP");
  return tcp::endpoint(address, static_cast<unsigned short>(std::stoi(listen.substr(colon + 1))));
}

// The playback-ID hashing secret: from config, else from data_dir, else generated there, so
// playback IDs stay stable across restarts.
Result<std::string> playback_secret(const ServeConfig& config) {
  if (!config.playback_secret.empty()) return config.playback_secret;
  const auto path = config.data_dir / "playback.secret";
  if (std::ifstream in(path); in) {
    std::string secret;
    std::getline(in, secret);
    if (!secret.empty()) return secret;
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return make_error(Errc::kIo, "cannot generate a secret");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string secret;
  for (unsigned char b : raw) {
    secret += kHex[b >> 4];
    secret += kHex[b & 15];
  }
  const mode_t old = ::umask(077);
  std::ofstream out(path);
  out << secret << "\n";
  ::umask(old);
  if (!out) return make_error(Errc::kIo, "cannot write " + path.string());
  spdlog::info("generated playback ID secret in {}", path.string());
  return secret;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  return (ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string()) +
         ":" + std::to_string(ep.port());
}

}  // namespace

int run_serve(const ServeConfig& config_in) {
  ServeConfig config = config_in;
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  std::error_code fs_ec;
  std::filesystem::create_directories(config.data_dir, fs_ec);
  if (fs_ec) {
    spdlog::critical("data_dir {}: {}", config.data_dir.string(), fs_ec.message());
    return 1;
  }
  if (config.playback_id == "hash") {
    auto secret = playback_secret(config);
    if (!secret) {
      spdlog::critical("{}", secret.error().message);
      return 1;
    }
    config.rtmp.playback_secret = *secret;
    config.rtmp.playback_id_mode = ingest::PlaybackIdMode::kHash;
  } else {
    config.rtmp.playback_id_mode = ingest::PlaybackIdMode::kKey;
    spdlog::warn(
        "playback_id = key: the stream key is the public playback path (compatibility "
        "mode); anyone who can watch can publish");
  }

  auto auth = ingest::make_authorizer(config.auth, config.webhook_timeout);
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

  const int threads = config.io_threads > 0
                          ? config.io_threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ingest::StreamHub hub(config.max_streams);
  package::HlsStore hls(config.hls);
  std::unique_ptr<store::HlsMirror> mirror;
  if (config.hls_mirror) {
    mirror =
        std::make_unique<store::HlsMirror>(config.data_dir / "hls", hls, config.hls.window + 3);
    hls.add_listener(mirror.get());
    spdlog::info("mirroring HLS to {}", (config.data_dir / "hls").string());
  }
  transcode::TranscodeService transcoder(config.transcode, hls);
  ingest::RtmpCounters rtmp_counters;
  serve::HttpCounters http_counters;
  // Declared after everything sessions refer to, so it is destroyed first: destroying the
  // io_context destroys the suspended session coroutines while the hub and store still exist.
  asio::io_context io(threads);

  std::unique_ptr<ingest::RtmpServer> rtmp;
  std::unique_ptr<serve::HttpServer> http;
  try {
    rtmp = std::make_unique<ingest::RtmpServer>(
        io, *rtmp_ep,
        ingest::IngestContext{config.rtmp, hub, **auth,
                              [&transcoder](const std::string& id) { return transcoder.open(id); },
                              rtmp_counters});
    http = std::make_unique<serve::HttpServer>(
        io, *http_ep,
        serve::ServeContext{config.http, hls, hub, transcoder, rtmp_counters, http_counters});
  } catch (const boost::system::system_error& e) {
    spdlog::critical("cannot listen: {}", e.what());
    return 1;
  }
  rtmp->start();
  http->start();
  spdlog::info("sluice serve: rtmp listening on {} (app '{}'), http listening on {}, auth {}",
               endpoint_text(rtmp->local_endpoint()), config.rtmp.app,
               endpoint_text(http->local_endpoint()), (*auth)->describe());
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
      schedule_sweep();
    });
  };
  schedule_sweep();

  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP: reloading publish authorization");
        (*auth)->reload();
        wait_signal();
        return;
      }
      spdlog::info("signal {}: shutting down", sig);
      rtmp->stop();
      http->stop();
      sweeper.cancel();
      io.stop();
    });
  };
  wait_signal();

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i)
    pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool)
    t.join();
  spdlog::info("sluice serve: stopped");
  return 0;
}

}  // namespace sluice::app
