// Configuration of every role (`sluice serve` and `sluice origin` read the same options, so
// one file can describe a fleet): typed structs with defaults at the declaration, filled
// from a TOML file, then SLUICE_* environment variables, then flags.
// Each option has one name used everywhere: TOML "rtmp.listen", env SLUICE_RTMP_LISTEN,
// flag --rtmp-listen.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "http/http_server.h"
#include "ingest/rtmp_server.h"
#include "ingest/srt_server.h"
#include "media/result.h"
#include "package/hls_store.h"
#include "registry/registry.h"
#include "relay/relay.h"
#include "route/origin.h"
#include "route/rtmp_proxy.h"
#include "serve/thumbnails.h"
#include "store/s3_client.h"
#include "transcode/transcoder.h"

namespace sluice::app {

// An S3 target whose region comes from the environment unless configured.
inline store::S3Target no_region() {
  store::S3Target t;
  t.region.clear();
  return t;
}

struct ServeConfig {
  std::string rtmp_listen = "0.0.0.0:1935";
  std::string http_listen = "0.0.0.0:8000";
  std::filesystem::path data_dir = "data";
  std::string auth = "open";
  std::chrono::milliseconds webhook_timeout{5000};
  std::string playback_id = "hash";  // hash | key
  std::string playback_secret;       // generated into data_dir on first run if empty
  // Signed playback: an HS256 secret, or an RS256 public key's PEM file; neither: open.
  std::string playback_token_secret, playback_token_public_key;
  std::string log_level = "info";
  std::string log_format = "text";  // text | json
  std::size_t log_burst = 20;       // lines a peer can cause, per cause per 10 s
  int io_threads = 0;               // 0 = one per core
  std::size_t max_streams = 100;
  bool hls_mirror = false;  // also write segments and playlists under data_dir/hls
  std::string advertise;    // HTTP HOST:PORT others reach this server at (registry)
  std::chrono::milliseconds drain_timeout{0};  // SIGTERM: wait this long for publishers to end
  std::string admin_listen;                    // "" = no admin API
  // RTMPS: on when a certificate and its key are given.
  std::string rtmp_tls_listen = "0.0.0.0:1936";
  std::string rtmp_tls_cert, rtmp_tls_key;
  std::string srt_listen;  // "" = no SRT
  ingest::SrtConfig srt;
  serve::ThumbnailConfig thumbnail;
  std::string admin_token;
  std::string dvr;                       // "" = data_dir/recordings | a directory | s3://… | off
  std::string dvr_rendition;             // "" = each stream's top rendition
  store::S3Target dvr_s3 = no_region();  // bucket and prefix come from `dvr`
  std::filesystem::path dvr_spool;       // "" = data_dir/spool
  std::uint64_t dvr_spool_max_mb = 8192;
  int dvr_upload_threads = 4;

  ingest::RtmpConfig rtmp;
  // Low-latency HLS unless hls.format says otherwise (the package's own default is MPEG-TS).
  package::HlsConfig hls{.format = package::HlsFormat::kLowLatency};
  http::HttpConfig http;
  transcode::TranscodeConfig transcode;
  registry::RegistryConfig registry;
  relay::RelayConfig relay;
  route::OriginConfig origin;
  std::string proxy_listen = "0.0.0.0:1935";
  std::string proxy_tls_listen = "0.0.0.0:1936";  // RTMPS, on when rtmp.tls_cert is set
  std::string proxy_http_listen = "0.0.0.0:8000";
  std::string proxy_srt_listen;  // "" = no SRT front door
  route::ProxyConfig proxy;
};

struct Option {
  std::string name;  // dotted TOML name
  std::string help;
  std::string default_value;
};

// Every option of `sluice serve`, for --help, docs and the loaders.
std::vector<Option> serve_options();

// Applies one option given as text; the error names the option and says what is expected.
Status set_option(ServeConfig& config, const std::string& name, const std::string& value);

// TOML file: tables map to the dotted names ([rtmp] listen = "..." is rtmp.listen).
Status load_toml(ServeConfig& config, const std::filesystem::path& path);
// SLUICE_<NAME with dots and dashes as underscores, upper case>.
Status load_env(ServeConfig& config);
// Checks cross-option rules once all sources are applied.
Status validate(const ServeConfig& config);
// The transcoder's configuration with what other options imply: in low-latency mode an
// unset transcode.max_delay becomes one part, so encoders keep within the parts' pace.
transcode::TranscodeConfig transcode_config(const ServeConfig& config);

enum class Role { kServe, kOrigin, kProxy };
// Whether `role` reads option `name`. A file or the environment may describe a whole fleet
// and hold every role's options; a flag is for the role it is given to.
bool role_uses(Role role, std::string_view name);
// Why a flag is refused by a role that does not read it, naming the option it probably meant
// (the role's own listener for another role's listener).
std::string unused_option_message(Role role, std::string_view name);

// Flag form of an option name: "rtmp.listen" -> "rtmp-listen".
std::string flag_name(const std::string& option);
std::string env_name(const std::string& option);

}  // namespace sluice::app
