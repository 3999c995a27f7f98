#pragma once

// One Redis connection driven by an Asio event loop (the hiredis async API with an Asio
// adapter): the connection lives on the thread that runs its io_context (an HTTP io thread), and
// every call and every callback happens on that thread, so a request handler reaches Redis
// without a thread hop and nothing ever blocks: commands are written when the socket is writable
// and replies are read when it is readable. Commands issued back to back are pipelined on the
// wire by construction.
//
// The connection connects at once and reconnects by itself with exponential backoff (from
// `reconnect_min` to `reconnect_max`) whenever it is lost. While it is down, commands fail at once
// ("not connected"): nothing waits for Redis, because Redis is only a cache. A command not
// answered within `command_timeout` fails ("timed out") and the connection is dropped and
// re-established (a Redis that stopped answering is treated like one that went away).
//
// This is the only interface the cache modules see; hiredis appears only behind
// `make_hiredis_connection`, and unit tests substitute a fake.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "actors/cache/metrics.hpp"
#include "actors/cache/redis/url.hpp"

namespace klerno::cache::redis {

/// A Redis reply (RESP2).
struct reply {
  enum class kind { nil, integer, string, status, error, array };
  kind type = kind::nil;
  int64_t integer = 0;         ///< kind::integer
  std::string str;             ///< kind::string, kind::status, kind::error (the message)
  std::vector<reply> elements; ///< kind::array

  bool is_nil() const noexcept {
    return type == kind::nil;
  }
  bool is_error() const noexcept {
    return type == kind::error;
  }
};

/// What became of one command.
struct result {
  /// The server answered (`value` holds the reply, possibly an error reply such as NOSCRIPT).
  /// `false`: no reply — not connected, timed out, the connection was lost or closed, or too
  /// many commands in flight; `failure` says which.
  bool ok = false;
  reply value;
  std::string failure; ///< set when !ok: "not connected", "timed out", "connection lost", ...
};

/// Arguments of one command, binary safe: {"SET", key, value, "PX", "5000"}.
using command = std::vector<std::string>;

/// Called each time the connection is ready (connected, authenticated, database selected).
/// `reconnected` is false for the first connection of this object and true afterwards.
using ready_handler = std::function<void(bool reconnected)>;

/// One connection to Redis, used on its io thread only.
class connection {
public:
  virtual ~connection() = default;

  /// Sends `cmd`. `done` runs exactly once, on the io thread, never inside this call: with the
  /// reply, or with a failure (not connected, timed out, lost, closed, overloaded).
  /// Failure texts: "not connected", "timed out", "connection lost", "closed", "overloaded",
  /// "empty command", and "unsupported command: ..." for commands that would break the one
  /// reply per command order (SUBSCRIBE and the other pub/sub commands, MONITOR, HELLO,
  /// CLIENT REPLY) or be undone by a reconnect (SELECT: the database comes from the URL).
  virtual void execute(command cmd, std::function<void(result)> done) = 0;

  /// Sends `cmds` back to back; `done` runs exactly once (never inside this call) with one
  /// result per command, in order. Either every command was sent or none was (a pipeline with
  /// more commands than `max_pending` allows in flight fails "overloaded" as a whole).
  virtual void pipeline(std::vector<command> cmds,
                        std::function<void(std::vector<result>)> done) = 0;

  /// Returns whether the connection is up and ready for commands.
  virtual bool connected() const noexcept = 0;

  /// Adds a handler run on every transition to ready (e.g. to load Lua scripts). Handlers run
  /// in the order added. If the connection is ready already, nothing is called now.
  virtual void on_ready(ready_handler f) = 0;

  /// Adds a handler run on every transition from ready to down (connection lost, timed out).
  virtual void on_lost(std::function<void()> f) = 0;

  /// Closes the connection and stops reconnecting: pending commands fail ("closed"), later ones
  /// fail at once. Call on the io thread before its io_context stops. Idempotent.
  virtual void close() = 0;
};

/// Limits and timing of a connection (REDIS_* keys).
struct connection_config {
  redis_url url;
  std::chrono::milliseconds connect_timeout{1'000}; ///< REDIS_CONNECT_TIMEOUT: TCP + AUTH + SELECT
  std::chrono::milliseconds command_timeout{500};   ///< REDIS_COMMAND_TIMEOUT: per command
  std::chrono::milliseconds reconnect_min{100};     ///< REDIS_RECONNECT_MIN: first retry delay
  std::chrono::milliseconds reconnect_max{5'000};   ///< REDIS_RECONNECT_MAX: backoff cap
  std::size_t max_pending = 10'000; ///< REDIS_MAX_PENDING: commands in flight; more fail at once
  std::string name; ///< CLIENT SETNAME value (e.g. "klerno:node1:io0"); may be empty
};

/// Creates a hiredis connection bound to `ioc` and starts connecting (the first attempt runs on
/// the io thread, so this may be called from any thread before `ioc` runs). `metrics` may be null;
/// when set the connection updates the klerno_redis_* families.
std::shared_ptr<connection> make_hiredis_connection(boost::asio::io_context& ioc,
                                                    connection_config cfg, metrics_ptr metrics);

} // namespace klerno::cache::redis
