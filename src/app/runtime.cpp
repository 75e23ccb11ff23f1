#include "app/runtime.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio/signal_set.hpp>
#include <fstream>
#include <thread>
#include <vector>

#include "net/accept.h"
#include "observe/log.h"

namespace sluice::app {

namespace asio = boost::asio;
using asio::ip::tcp;

void setup_process(const ServeConfig& config) {
  observe::setup_logging(config.log_level, config.log_format == "json" ? observe::LogFormat::kJson
                                                                       : observe::LogFormat::kText);
  observe::set_log_rate_limit(config.log_burst, std::chrono::seconds(10));
  spdlog::info("open descriptor limit: {}", net::raise_descriptor_limit());
}

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

std::string endpoint_text(const tcp::endpoint& ep) {
  return (ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string()) +
         ":" + std::to_string(ep.port());
}

namespace {

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

}  // namespace

Result<std::unique_ptr<admission::PlaybackTokens>> playback_tokens(const ServeConfig& config) {
  const auto& secret = config.playback_token_secret;
  const auto& key_file = config.playback_token_public_key;
  if (secret.empty() && key_file.empty()) return std::unique_ptr<admission::PlaybackTokens>();
  if (!secret.empty() && !key_file.empty())
    return make_error(Errc::kMalformed,
                      "playback_token_secret and playback_token_public_key: set one of them");
  if (!secret.empty()) {
    return std::make_unique<admission::PlaybackTokens>(
        admission::TokenConfig{admission::TokenAlgorithm::kHs256, secret});
  }
  std::ifstream in(key_file, std::ios::binary);
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof())
    return make_error(Errc::kIo, "playback_token_public_key: cannot read " + key_file);
  if (pem.find("-----BEGIN PUBLIC KEY-----") == std::string::npos)
    return make_error(Errc::kMalformed,
                      "playback_token_public_key: " + key_file + " holds no PEM public key");
  return std::make_unique<admission::PlaybackTokens>(
      admission::TokenConfig{admission::TokenAlgorithm::kRs256, std::move(pem)});
}

Result<admission::AdmissionConfig> admission_config(const ServeConfig& config) {
  if (config.playback_id == "key") {
    spdlog::warn(
        "playback_id = key: the stream key is the public playback path (compatibility "
        "mode); anyone who can watch can publish");
    return admission::AdmissionConfig{admission::PlaybackIdMode::kKey, ""};
  }
  auto s = playback_secret(config);
  if (!s) return s.error();
  return admission::AdmissionConfig{admission::PlaybackIdMode::kHash, *s};
}

int io_thread_count(int configured) {
  return configured > 0 ? configured
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void run_until_signal(asio::io_context& io, int threads, const std::function<bool()>& on_stop,
                      const std::function<void()>& on_reload) {
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        on_reload();
        wait_signal();
        return;
      }
      spdlog::info("signal {}: shutting down", sig);
      if (on_stop()) {
        io.stop();
      } else {
        wait_signal();  // a second signal may cut a drain short
      }
    });
  };
  wait_signal();
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i)
    pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool)
    t.join();
}

}  // namespace sluice::app
