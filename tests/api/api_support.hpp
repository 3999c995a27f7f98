#pragma once

// Support of the API tests: real klerno-node processes against real PostgreSQL.
//
// - the shared servers of the CTest fixture "pg" (KLERNO_PG_ENV_FILE), databases of their own on
//   them (exact numbers for summaries, fresh schemas), and private clusters (scripts/pg) for the
//   tests that stop the database or need a fresh one;
// - unique ids (tests run in parallel against the shared servers);
// - node settings for database tests, JSON requests with the API key, metrics samples;
// - a streaming reader for chunked responses (the CSV export) that never holds the whole body;
// - the resident memory of a process.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include "tests/integration/node_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace klerno::test::api {

using namespace std::chrono_literals;

// -- commands and PostgreSQL -------------------------------------------------------------------

/// The exit code and the output (stdout and stderr) of a command.
struct command_result {
  int code = -1;
  std::string output;
};

/// Runs `command` with /bin/sh and returns its exit code and output.
command_result run_command(const std::string& command);

/// Runs `command` and fails the test (showing the command and its output) unless it exits 0;
/// returns its output.
std::string require_command(const std::string& command);

/// Returns `s` quoted for /bin/sh.
std::string shell_quote(std::string_view s);

/// Returns the path of scripts/pg.
std::string pg_script();

/// Runs psql on `url` with `-Atc sql` and returns its output without the trailing newline; fails
/// the test when psql fails.
std::string psql(const std::string& url, const std::string& sql);

/// Runs psql on `url` with `-Atc sql`; returns whether it succeeded (no test failure).
bool psql_succeeds(const std::string& url, const std::string& sql);

/// The shared servers of the fixture "pg".
struct shared_servers {
  std::string primary_url; ///< DATABASE_URL
  std::string replica_url; ///< DATABASE_READ_URLS (one replica; empty when none)
  std::string dir;         ///< PG_DIR (for scripts/pg psql)
};

/// Reads the env file named by KLERNO_PG_ENV_FILE; fails the test when it is missing.
shared_servers shared_pg();

/// Returns `url` with its database name replaced by `database`.
std::string with_database(const std::string& url, const std::string& database);

/// A database of its own on the shared servers (nothing else writes to it, so counts over the
/// whole database are exact), created on construction and dropped on destruction. Declare it
/// before the nodes that use it (they must be gone when it is dropped).
class scratch_database {
public:
  scratch_database();
  ~scratch_database();

  scratch_database(const scratch_database&) = delete;
  scratch_database& operator=(const scratch_database&) = delete;

  /// Returns the URL of the database on the primary.
  const std::string& primary_url() const noexcept {
    return primary_url_;
  }

  /// Returns the URL of the database on the replica (empty when the fixture has none).
  const std::string& replica_url() const noexcept {
    return replica_url_;
  }

private:
  void drop();

  shared_servers servers_;
  std::string name_;
  std::string primary_url_;
  std::string replica_url_;
};

/// A PostgreSQL cluster of its own (--fast; a primary, and a streaming replica on request) in a
/// short directory of the build tree, for tests that stop the database, need a fresh one or
/// control replication; stopped and removed at the end, also on failure.
class private_cluster {
public:
  enum class replica { none, streaming };

  explicit private_cluster(replica r = replica::none);
  ~private_cluster();

  private_cluster(const private_cluster&) = delete;
  private_cluster& operator=(const private_cluster&) = delete;

  /// Returns DATABASE_URL of the primary.
  const std::string& url() const noexcept {
    return url_;
  }

  /// Returns DATABASE_READ_URLS (empty without a replica).
  const std::string& replica_url() const noexcept {
    return replica_url_;
  }

  /// Returns the cluster's directory.
  const std::string& dir() const noexcept {
    return dir_;
  }

  /// Stops the primary (scripts/pg stop-primary); fails the test if the script fails.
  void stop_primary();

  /// Starts the primary again on the same port (scripts/pg start-primary).
  void start_primary();

  /// Runs `scripts/pg psql DIR -Atc sql` (the database klerno) and returns its output.
  std::string psql(const std::string& sql);

  /// Runs `sql` as the superuser postgres on the primary or the replica, through the cluster's
  /// unix socket (scripts/pg trusts it for the servers' OS user; root may use it too) and returns
  /// its output; fails the test when psql fails.
  std::string superuser_sql(replica server, const std::string& sql);

private:
  std::string dir_;
  std::string url_;
  std::string replica_url_;
};

// -- ids and times -----------------------------------------------------------------------------

/// Returns `prefix` followed by '-' and 16 random hex digits (unique across parallel tests).
std::string unique_id(std::string_view prefix);

/// Returns `t` as the API renders timestamps: ISO 8601 UTC, with six fraction digits unless the
/// microseconds are zero ("2026-11-28T20:17:22.123456Z", "2026-11-28T20:17:22Z"); `t` before
/// 1970 is not supported.
std::string iso_time(std::chrono::system_clock::time_point t);

/// Returns the UTC date of `t` ("2026-11-28").
std::string iso_date(std::chrono::system_clock::time_point t);

// -- nodes and requests ------------------------------------------------------------------------

/// Settings of a node on `primary_url` (and `replica_url` when not empty) with fast health checks
/// (HEALTH_CHECK_INTERVAL 200 ms), so /readiness follows the database quickly; `extra` overrides.
node_process::env_map db_settings(const std::string& primary_url,
                                  const std::string& replica_url = {},
                                  const node_process::env_map& extra = {});

/// The headers of an API request: the API key, and a Content-Type when `content_type` is not
/// empty.
header_list api_headers(std::string_view content_type = "application/json");

/// Sends `body` with `method` to `target` with the API key and a JSON (or `content_type`) body,
/// on a fresh connection; waits for the answer at most `timeout`.
http_response api_request(const test_node& node, std::string_view method, std::string_view target,
                          std::string_view body = {},
                          std::string_view content_type = "application/json",
                          std::chrono::milliseconds timeout = 10s);

/// POSTs `body` as JSON to `target` (with the API key).
http_response post(const test_node& node, std::string_view target, const nlohmann::json& body);

/// GETs `target` with the API key.
http_response get(const test_node& node, std::string_view target);

/// Parses the body of `res` as JSON after checking its status; fails the test otherwise.
nlohmann::json require_status_json(const http_response& res, unsigned status);

/// A transaction input with a fresh tx_id ("<prefix>-..."), `from_addr`, `to_addr` and
/// `amount`, direction "out"; set more fields on the result.
nlohmann::json make_tx(std::string_view prefix, const std::string& from_addr,
                       const std::string& to_addr, const nlohmann::json& amount);

/// An outgoing 20000 with a memo of several suspicious words and a sanctioned tag: risk 1.00
/// (high), so storing it raises an alert.
nlohmann::json make_alert_tx(std::string_view prefix, const std::string& from_addr,
                             const std::string& to_addr);

// -- metrics -----------------------------------------------------------------------------------

/// Returns the value of the sample whose name and labels are exactly `series` in the Prometheus
/// `text`, if present.
std::optional<double> metric_sample(const std::string& text, const std::string& series);

/// Reads /metrics of `node` and returns the value of `series` (0 when absent).
double metric(const test_node& node, const std::string& series);

// -- streaming and memory ----------------------------------------------------------------------

/// The head of a streamed response.
struct stream_head {
  unsigned status = 0;
  header_list headers;

  /// Returns the first field named `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

/// Sends a GET with the API key and reads the response body incrementally: `on_head` gets the
/// head, then `on_data` each piece of the (de-chunked or Content-Length) body as it arrives.
/// Nothing is buffered beyond one read. Fails the test when the response is malformed or when no
/// byte arrives for `idle_timeout`. Returns the number of body bytes.
std::uint64_t stream_get(uint16_t port, std::string_view target,
                         const std::function<void(const stream_head&)>& on_head,
                         const std::function<void(std::string_view)>& on_data,
                         std::chrono::milliseconds idle_timeout = 15s);

/// Returns the resident set size of process `pid` (VmRSS of /proc/<pid>/status) in bytes.
std::uint64_t resident_bytes(pid_t pid);

} // namespace klerno::test::api
