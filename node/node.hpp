#pragma once

// The node assembly: wires config, logging, metrics, the actor system with its supervisor tree
// and the HTTP edge into one klerno-node process, and runs its lifecycle:
//
//   start:    logging -> metrics -> actor system -> supervisor tree -> HTTP listeners -> serving
//   SIGTERM:  readiness 503 -> SHUTDOWN_GRACE -> stop accepting -> finish in-flight requests
//             (at most SHUTDOWN_DRAIN_TIMEOUT) -> stop the HTTP edge -> stop the actors in
//             reverse start order -> exit 0
//   failure:  the root supervisor giving up -> readiness 503 -> the same stop without the grace
//             period -> exit 1
//
// A second SIGTERM/SIGINT skips what is left of the grace period. A watchdog bounds the whole
// shutdown: if it takes longer than grace + drain + stop timeouts (+5 s), the process exits 1.

#include <string>

#include "config/settings.hpp"

namespace klerno::node {

/// The version of this build ("0.1.0").
const char* version() noexcept;

/// Exit codes of klerno-node.
enum exit_code : int {
  exit_ok = 0,           ///< clean shutdown
  exit_failure = 1,      ///< startup failed, the root supervisor gave up, or shutdown overran
  exit_config_error = 2, ///< invalid configuration
};

/// Runs a node with `cfg` until it is told to stop or fails; returns the process exit code.
int run(const config::settings& cfg);

} // namespace klerno::node
