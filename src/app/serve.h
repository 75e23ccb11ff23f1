#pragma once

#include "app/config.h"

namespace sluice::app {

// Runs `sluice serve` until SIGINT/SIGTERM. Returns the process exit code.
int run_serve(const ServeConfig& config);

}  // namespace sluice::app
