#pragma once

// Logging: one named spdlog logger per module ("runtime", "config", "http", "access", "actors",
// "cluster", "db", "cache"), all writing to stdout through one asynchronous queue, as text or as
// JSON lines. The queue never blocks a caller: when it is full the oldest lines are dropped and
// counted (`dropped()`), so an io thread or scheduler thread never waits on the log.
//
// Secrets never reach the log: components log `config::secret::redacted()` and
// `config::redact_url`, never raw credentials or request headers.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "config/settings.hpp"

namespace klerno::runtime::logging {

/// Configures every module logger with the given format and level. Call once at startup (calling
/// again replaces the configuration; tests do that).
void init(const config::log_settings& cfg);

/// Returns the logger of `module`; creates it with the current configuration on first use.
std::shared_ptr<spdlog::logger> get(std::string_view module);

/// Returns a logger whose messages are structured: in JSON mode each message must be a sequence
/// of JSON members (`"k":"v","n":1`) that is spliced into the line's object; in text mode it is
/// printed as is. Used by the access log.
std::shared_ptr<spdlog::logger> get_structured(std::string_view module);

/// Returns `true` when lines are written as JSON.
bool json_enabled() noexcept;

/// Writes pending lines and stops the logging thread. Call last, when nothing logs any more;
/// `init` starts a new thread.
void shutdown();

/// Returns how many lines were dropped because the queue was full.
uint64_t dropped() noexcept;

} // namespace klerno::runtime::logging
