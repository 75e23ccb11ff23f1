#pragma once

#include "app/config.h"

namespace sluice::app {

// Runs `sluice origin` until SIGINT/SIGTERM. Returns the process exit code.
int run_origin(const ServeConfig& config);

}  // namespace sluice::app
