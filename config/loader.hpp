#pragma once

// The single loader of a node's configuration. Sources, later wins:
//
//   defaults < config file < environment < command line
//
// The config file (`--config PATH` or `KLERNO_CONFIG`) is an env-file of `KEY=VALUE` lines; the
// environment uses the same KEYs; the command line uses `--key=value` or `--key value` with the
// KEY lower-cased and `_` replaced by `-`. Every value a source supplies is validated, even if a
// later source overrides it, so a broken file fails at once rather than when an override goes
// away. `help_text()` lists every KEY with its type, default and meaning.
//
// Secrets (API_KEY, SECRET_KEY, CLUSTER_SECRET) given as the `<redacted>` placeholder, and the
// URLs (DATABASE_URL, REDIS_URL) given with the `***` password placeholder, count as "not set by
// this source": the output of `render()` (`--print-config`) can be reused as a config file, with
// the real secrets coming from defaults, the environment or the command line.

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/settings.hpp"

namespace klerno::config {

/// Signals an invalid configuration. `what()` is one line of the form
/// `PORT: "abc" is not an integer in 0..65535 (from environment)`: it names the key, shows the
/// offending value (never the value of a secret) and the source (`default`, `file PATH:LINE`,
/// `environment`, `command line`).
class error : public std::runtime_error {
public:
  /// Creates an error about `key` (a KEY, or a command-line option such as `--bogus`) whose
  /// `what()` is `message`.
  error(std::string key, const std::string& message);

  /// Returns the KEY (or command-line option) at fault; empty for a malformed file line.
  const std::string& key() const noexcept {
    return key_;
  }

private:
  std::string key_;
};

/// What `load` found: the settings and the flags that ask `main` to do something else than run.
struct load_result {
  settings values;           ///< the effective settings (defaults only if show_help/show_version)
  bool print_config = false; ///< `--print-config`: print `render(values)` and exit
  bool show_help = false;    ///< `--help` / `-h`: print `help_text()` and exit
  bool show_version = false; ///< `--version`: print the version and exit
  std::string config_file;   ///< the config file that was read, empty if none
};

/// Returns the process environment (`environ`) as a map, to be passed to `load`.
std::map<std::string, std::string> environment_from_process();

/// Loads the settings from defaults, the config file, `env` and the command line `argv`
/// (`argv[0]` is the program and is skipped). When `--help`, `-h` or `--version` appears, returns
/// at once with the flag set and the defaults in `values`, reading neither file nor environment.
/// Throws `config::error` on an unknown option or file key, an unreadable file, an invalid value
/// or a violated rule (`MAX_REPLICAS` below `MIN_REPLICAS`, weak secrets in production).
load_result load(int argc, const char* const* argv, const std::map<std::string, std::string>& env);

/// Returns the settings as `KEY=value` lines, one per key in the order of `known_keys()`, in the
/// config-file syntax (values quoted where needed). Secrets print as `<redacted>` (empty when
/// unset), URLs through `redact_url`, durations as `15s` / `250ms`, sizes in bytes.
std::string render(const settings& values);

/// Returns the usage text: the command-line flags and every KEY with its type, default and a
/// one-line description.
std::string help_text();

/// Returns every KEY, in the documented order.
const std::vector<std::string>& known_keys();

} // namespace klerno::config
