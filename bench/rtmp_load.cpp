// RTMP play load generator for benchmarks: N players on one thread, each handshakes,
// connects, plays, then reads and discards (acknowledging bytes as a real client does).
// It prints one JSON line: players connected, bytes per player (min/avg), elapsed seconds.
// It never parses media, so it stays far cheaper than the servers it loads.
//
//   rtmp_load --url rtmp://127.0.0.1:1935/stream/<name> --players 200 --seconds 30
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "proto/amf0/amf0.h"
#include "proto/rtmp/chunk.h"
#include "proto/rtmp/handshake.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace sluice;

namespace {

struct Target {
  std::string host, port, app, name, tc_url;
};

std::vector<std::uint8_t> command(std::uint32_t stream_id, std::initializer_list<amf0::Value> v) {
  std::vector<std::uint8_t> body, out;
  for (const auto& x : v)
    amf0::encode(x, body);
  rtmp::encode_message(3, rtmp::kCommandAmf0, stream_id, 0, body, 128, out);
  return out;
}

asio::awaitable<void> player(Target t, std::uint64_t& received, int& connected,
                             std::chrono::steady_clock::time_point end) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  tcp::resolver resolver(ex);
  auto eps = co_await resolver.async_resolve(t.host, t.port, asio::use_awaitable);
  co_await asio::async_connect(sock, eps, asio::use_awaitable);
  sock.set_option(tcp::no_delay(true));

  rtmp::ClientHandshake hs(true);
  auto c0c1 = hs.start();
  co_await asio::async_write(sock, asio::buffer(c0c1), asio::use_awaitable);
  std::vector<std::uint8_t> buf(256 * 1024);
  for (;;) {
    auto n = co_await sock.async_read_some(asio::buffer(buf), asio::use_awaitable);
    auto step = hs.feed(std::span<const std::uint8_t>(buf.data(), n));
    if (!step) co_return;
    if (!step->out.empty())
      co_await asio::async_write(sock, asio::buffer(step->out), asio::use_awaitable);
    if (step->done) break;
  }
  std::vector<std::uint8_t> out = command(0, {"connect", 1.0,
                                              amf0::Object{{{"app", t.app},
                                                            {"flashVer", "LNX 9,0,124,2"},
                                                            {"tcUrl", t.tc_url},
                                                            {"fpad", false},
                                                            {"capabilities", 15.0},
                                                            {"audioCodecs", 3191.0},
                                                            {"videoCodecs", 252.0},
                                                            {"videoFunction", 1.0}}}});
  auto more = command(0, {"createStream", 2.0, amf0::Null{}});
  out.insert(out.end(), more.begin(), more.end());
  more = command(1, {"play", 0.0, amf0::Null{}, t.name, -1000.0});
  out.insert(out.end(), more.begin(), more.end());
  co_await asio::async_write(sock, asio::buffer(out), asio::use_awaitable);
  ++connected;

  std::uint32_t since_ack = 0;
  std::uint32_t total32 = 0;
  while (std::chrono::steady_clock::now() < end) {
    auto [ec, n] =
        co_await sock.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    received += n;
    total32 += static_cast<std::uint32_t>(n);
    since_ack += static_cast<std::uint32_t>(n);
    if (since_ack >= 1'000'000) {  // ack well inside any window a server asks for
      since_ack = 0;
      std::vector<std::uint8_t> ack;
      rtmp::write_acknowledgement(total32, ack);
      co_await asio::async_write(sock, asio::buffer(ack), asio::use_awaitable);
    }
  }
  boost::system::error_code ignored;
  sock.close(ignored);
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int players = 10;
  double seconds = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--url") url = argv[i + 1];
    if (a == "--players") players = std::stoi(argv[i + 1]);
    if (a == "--seconds") seconds = std::stod(argv[i + 1]);
  }
  auto u = boost::urls::parse_uri(url);
  if (!u || u->scheme() != "rtmp") {
    std::fprintf(stderr,
                 "usage: rtmp_load --url rtmp://host:port/app/name [--players N] [--seconds S]\n");
    return 2;
  }
  std::string path = std::string(u->path());
  auto slash = path.find('/', 1);
  Target t{std::string(u->host()), u->has_port() ? std::string(u->port()) : "1935",
           path.substr(1, slash - 1), path.substr(slash + 1), ""};
  t.tc_url = "rtmp://" + t.host + ":" + t.port + "/" + t.app;

  asio::io_context io(1);
  std::vector<std::uint64_t> received(players, 0);
  int connected = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(seconds));
  for (int i = 0; i < players; ++i) {
    asio::co_spawn(io, player(t, received[i], connected, end), asio::detached);
  }
  io.run();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::uint64_t sum = 0;
  for (auto r : received)
    sum += r;
  const auto min = players ? *std::min_element(received.begin(), received.end()) : 0;
  std::printf(
      "{\"players\": %d, \"connected\": %d, \"bytes_min\": %llu, \"bytes_avg\": %llu, "
      "\"elapsed_s\": %.2f}\n",
      players, connected, static_cast<unsigned long long>(min),
      static_cast<unsigned long long>(players ? sum / players : 0), elapsed);
  return 0;
}
