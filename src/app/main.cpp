// Composition root: parses the command line, builds the graph, runs it.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <map>

#include "app/config.h"
#include "app/origin.h"
#include "app/proxy.h"
#include "app/publish.h"
#include "app/serve.h"

namespace {

constexpr const char* kVersion = "0.1.0";

int fail(const std::string& message) {
  std::fprintf(stderr, "sluice: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that vanishes must cost one connection, never the process: Asio's socket writes
  // pass MSG_NOSIGNAL, but the proxy's splice(2) into a socket cannot, and would raise
  // SIGPIPE on a reset connection. EPIPE is handled where each write is.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App cli{"Sluice: RTMP in, adaptive HLS out."};
  cli.require_subcommand(1);

  // Every role reads the same options (one config file can describe a fleet).
  std::string config_file;
  std::map<std::string, std::string> flag_values;
  std::map<std::string, std::vector<CLI::Option*>> flags;
  bool check_config = false;
  using sluice::app::Role;
  const auto add_options = [&](CLI::App* role, Role which) {
    // Another role's flags are left over and refused below, with a hint, not ignored.
    role->allow_extras();
    role->add_option("--config", config_file,
                     "TOML config file (also SLUICE_CONFIG); environment variables SLUICE_<NAME> "
                     "and then flags override it");
    role->add_flag("--check-config", check_config,
                   "load and check the configuration (file, environment, flags), then exit");
    for (const auto& opt : sluice::app::serve_options()) {
      if (!sluice::app::role_uses(which, opt.name)) continue;
      const std::string flag = sluice::app::flag_name(opt.name);
      std::string help = opt.help + " [" + opt.name + ", " + sluice::app::env_name(opt.name) +
                         "; default '" + opt.default_value + "']";
      flags[opt.name].push_back(role->add_option("--" + flag, flag_values[opt.name], help));
    }
  };
  auto* serve = cli.add_subcommand("serve", "media server: RTMP ingest, HLS packaging and serving");
  add_options(serve, Role::kServe);
  auto* origin = cli.add_subcommand(
      "origin", "HTTP front door of a fleet: routes, caches and coalesces viewers' requests");
  add_options(origin, Role::kOrigin);
  auto* proxy = cli.add_subcommand(
      "proxy", "RTMP front door of a fleet: routes each publisher to a server with free capacity");
  add_options(proxy, Role::kProxy);

  sluice::app::PublishOptions publish_options;
  auto* publish = cli.add_subcommand(
      "publish",
      "send a file to an RTMP server in real time (FLV, Enhanced FLV, or MP4/Matroska "
      "with H.264, HEVC, AV1, AAC or Opus, sent as Enhanced RTMP where needed)");
  publish->add_option("input", publish_options.input, "the file")->required();
  publish->add_option("url", publish_options.url, "rtmp://host[:port]/app/stream")->required();
  publish->add_option("--loop", publish_options.loops, "send the file this many times")
      ->check(CLI::Range(1, 1000000));
  publish->add_flag("!--no-realtime", publish_options.realtime,
                    "send as fast as the server takes it");

  cli.add_subcommand("version", "print the version")->callback([] {
    std::printf("sluice %s\n", kVersion);
  });
  CLI11_PARSE(cli, argc, argv);
  if (publish->parsed()) return sluice::app::run_publish(publish_options);
  if (!serve->parsed() && !origin->parsed() && !proxy->parsed()) return 0;
  for (const auto& [app, role] : {std::pair{serve, Role::kServe}, std::pair{origin, Role::kOrigin},
                                  std::pair{proxy, Role::kProxy}}) {
    if (!app->parsed() || app->remaining().empty()) continue;
    const std::string extra = app->remaining().front();
    std::string name = extra.starts_with("--") ? extra.substr(2, extra.find('=') - 2) : extra;
    for (const auto& opt : sluice::app::serve_options()) {
      if (sluice::app::flag_name(opt.name) == name)
        return fail(sluice::app::unused_option_message(role, opt.name));
    }
    return fail("unknown argument " + extra + " (see sluice " + app->get_name() + " --help)");
  }

  sluice::app::ServeConfig config;
  if (config_file.empty()) {
    if (const char* env = std::getenv("SLUICE_CONFIG")) config_file = env;
  }
  if (!config_file.empty()) {
    if (auto st = sluice::app::load_toml(config, config_file); !st) return fail(st.error().message);
  }
  if (auto st = sluice::app::load_env(config); !st) return fail(st.error().message);
  for (const auto& [name, options] : flags) {
    std::size_t count = 0;
    for (const auto* option : options)
      count += option->count();
    if (count == 0) continue;
    if (auto st = sluice::app::set_option(config, name, flag_values[name]); !st) {
      return fail(st.error().message + " (from --" + sluice::app::flag_name(name) + ")");
    }
  }
  if (auto st = sluice::app::validate(config); !st) return fail(st.error().message);
  if (check_config) {
    std::printf("configuration ok\n");
    return 0;
  }
  if (proxy->parsed()) return sluice::app::run_proxy(config);
  return serve->parsed() ? sluice::app::run_serve(config) : sluice::app::run_origin(config);
}
