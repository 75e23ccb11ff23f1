#include "app/runtime.h"

#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <thread>
#include <vector>

namespace sluice::app {

namespace asio = boost::asio;
using asio::ip::tcp;

void setup_logging(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
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

int io_thread_count(int configured) {
  return configured > 0 ? configured
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void run_until_signal(asio::io_context& io, int threads, const std::function<void()>& on_stop,
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
      on_stop();
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
}

}  // namespace sluice::app
