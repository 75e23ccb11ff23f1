#include "app/proxy.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>

#include "admission/admission.h"
#include "app/runtime.h"
#include "http/http_server.h"
#include "net/srt.h"
#include "registry/registry.h"
#include "route/proxy_routes.h"
#include "route/rtmp_proxy.h"
#include "route/srt_proxy.h"

namespace sluice::app {

int run_proxy(const ServeConfig& config_in) {
  ServeConfig config = config_in;
  setup_process(config);
  std::error_code fs_ec;
  std::filesystem::create_directories(config.data_dir, fs_ec);
  route::ProxyConfig& proxy_config = config.proxy;
  proxy_config.app = config.rtmp.app;
  proxy_config.handshake_timeout = config.rtmp.handshake_timeout;
  proxy_config.idle_timeout = config.rtmp.idle_timeout;
  proxy_config.max_connections = config.rtmp.max_connections;
  proxy_config.chunk_limits = config.rtmp.chunk_limits;
  proxy_config.amf0_limits = config.rtmp.amf0_limits;
  proxy_config.proxy_from = config.rtmp.proxy_from;
  if (config.playback_id == "hash" && config.playback_secret.empty()) {
    spdlog::warn(
        "playback_secret not set: the proxy must derive the same playback IDs as the "
        "servers for republishes to stick to their server");
  }
  auto admission_cfg = admission_config(config);
  if (!admission_cfg) {
    spdlog::critical("{}", admission_cfg.error().message);
    return 1;
  }
  auto auth = admission::make_authorizer(config.auth, config.webhook_timeout);
  auto registry = registry::make_registry(config.registry);
  auto rtmp_ep = parse_endpoint(config.proxy_listen);
  auto http_ep = parse_endpoint(config.proxy_http_listen);
  for (const Error* e :
       {!auth ? &auth.error() : nullptr, !registry ? &registry.error() : nullptr,
        !rtmp_ep ? &rtmp_ep.error() : nullptr, !http_ep ? &http_ep.error() : nullptr}) {
    if (e) {
      spdlog::critical("{}", e->message);
      return 1;
    }
  }
  std::shared_ptr<net::TlsCertificate> tls;
  std::optional<boost::asio::ip::tcp::endpoint> tls_ep;
  if (!config.rtmp_tls_cert.empty()) {
    auto loaded = net::TlsCertificate::load(config.rtmp_tls_cert, config.rtmp_tls_key);
    auto ep = parse_endpoint(config.proxy_tls_listen);
    for (const Error* e : {!loaded ? &loaded.error() : nullptr, !ep ? &ep.error() : nullptr}) {
      if (e) {
        spdlog::critical("{}", e->message);
        return 1;
      }
    }
    tls = std::move(*loaded);
    tls_ep = *ep;
  }
  if (config.registry.url == "memory") {
    spdlog::warn("proxy with the in-memory registry knows no servers; set registry = redis://...");
  }

  admission::Admission admission(std::move(*admission_cfg), **auth);
  route::ProxyCounters counters;
  http::HttpCounters http_counters;
  boost::asio::io_context io(io_thread_count(config.io_threads));
  auto routes = std::make_shared<route::ProxyRoutes>(io, proxy_config, **registry);
  std::unique_ptr<route::RtmpProxy> proxy;
  std::unique_ptr<http::HttpServer> http;
  std::optional<net::SrtLibrary> srt_library;
  std::unique_ptr<route::SrtProxy> srt;
  if (!config.proxy_srt_listen.empty()) {
    srt_library.emplace();
    route::SrtProxyConfig srt_config;
    srt_config.app = config.rtmp.app;
    srt_config.srt = {config.srt.passphrase, config.srt.latency, config.rtmp.idle_timeout};
    srt_config.max_connections = config.srt.max_connections;
    srt = std::make_unique<route::SrtProxy>(io, config.proxy_srt_listen, std::move(srt_config),
                                            proxy_config, *routes, admission, counters);
  }
  try {
    proxy = std::make_unique<route::RtmpProxy>(io, *rtmp_ep, proxy_config, *routes, admission,
                                               counters);
    if (tls) proxy->enable_tls(*tls_ep, tls);
    // Health for DNS checks: any path answers an empty 200 (as the reference's port 8000).
    http = std::make_unique<http::HttpServer>(
        io, *http_ep, config.http, http_counters,
        [&proxy, &srt](const http::HttpRequest& req) -> boost::asio::awaitable<http::HttpReply> {
          http::HttpReply r;
          if (req.target == "/metrics") {
            r.content_type = "text/plain; version=0.0.4; charset=utf-8";
            r.text = proxy->metrics_text() + (srt ? srt->metrics_text() : "");
          }
          co_return r;
        });
  } catch (const boost::system::system_error& e) {
    spdlog::critical("cannot listen: {}", e.what());
    return 1;
  }
  if (srt) {
    if (auto st = srt->start(); !st) {
      spdlog::critical("{}", st.error().message);
      return 1;
    }
  }
  proxy->start();
  routes->start_health_checks();
  http->start();
  spdlog::info(
      "sluice proxy: rtmp listening on {} (app '{}'), http listening on {}, registry {}, "
      "auth {}",
      endpoint_text(proxy->local_endpoint()), proxy_config.app,
      endpoint_text(http->local_endpoint()), (*registry)->describe(), (*auth)->describe());
  if (auto ep = proxy->tls_local_endpoint()) {
    spdlog::info("rtmps listening on {} (certificate {})", endpoint_text(*ep), tls->cert_file());
  }
  if (srt) {
    spdlog::info("srt listening on {} (port {}){}", config.proxy_srt_listen, srt->local_port(),
                 config.srt.passphrase.empty() ? "" : ", encrypted");
  }
  run_until_signal(
      io, io_thread_count(config.io_threads),
      [&] {
        proxy->stop();
        routes->stop();
        if (srt) srt->stop();
        http->stop();
        return true;
      },
      [&] {
        spdlog::info("SIGHUP: reloading publish authorization");
        (*auth)->reload();
        if (tls) tls->reload_on_signal();
      });
  spdlog::info("sluice proxy: stopped");
  return 0;
}

}  // namespace sluice::app
