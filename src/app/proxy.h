#pragma once

#include "app/config.h"

namespace sluice::app {

// Runs `sluice proxy` until SIGINT/SIGTERM. Returns the process exit code.
int run_proxy(const ServeConfig& config);

}  // namespace sluice::app
