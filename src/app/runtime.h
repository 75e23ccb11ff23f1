// What every role's main loop shares: logging, listen addresses, I/O threads and signals.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "admission/admission.h"
#include "admission/playback_token.h"
#include "app/config.h"
#include "media/result.h"

namespace sluice::app {

// What every role does first: the log as configured, and the open descriptor limit raised to
// what the system allows (every connection and recording needs one).
void setup_process(const ServeConfig& config);
Result<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& listen);
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep);
int io_thread_count(int configured);

// How keys map to playback IDs: `key`, or a keyed hash whose secret comes from the config,
// else from data_dir (generated there on first run), so IDs are stable across restarts.
// Every server and proxy of a fleet needs the same secret.
Result<admission::AdmissionConfig> admission_config(const ServeConfig& config);
// Signed playback's verifier, from playback_token_secret or playback_token_public_key (a PEM
// file, read now); null when neither is set.
Result<std::unique_ptr<admission::PlaybackTokens>> playback_tokens(const ServeConfig& config);

// Runs `io` on `threads` threads until SIGINT or SIGTERM call `on_stop` (close listeners,
// cancel timers), which returns true to stop the loop now, or false when it stops the loop
// itself later (a drain). SIGHUP calls `on_reload`.
void run_until_signal(boost::asio::io_context& io, int threads,
                      const std::function<bool()>& on_stop, const std::function<void()>& on_reload);

}  // namespace sluice::app
