#pragma once

// Database tests' access to PostgreSQL: the env file of the CTest fixture "pg"
// (KLERNO_PG_ENV_FILE), a private schema per test on the shared servers (tests run in parallel),
// polling with deadlines, and private clusters for tests that stop the database.

#include <chrono>
#include <functional>
#include <string>

namespace klerno::test::pg {

/// The shared servers of the fixture.
struct env {
  std::string primary; ///< DATABASE_URL
  std::string replica; ///< first of DATABASE_READ_URLS (empty: none)
};

/// Reads the env file named by the environment variable KLERNO_PG_ENV_FILE (set by CTest), or
/// the build's default; fails the test when it is missing.
env load_env();

/// A schema of its own on the shared servers, created on construction and dropped (with
/// everything in it) on destruction. The URLs select it through search_path, so the storage
/// code's unqualified table names resolve inside it.
class schema {
public:
  explicit schema(const env& e);
  ~schema();

  schema(const schema&) = delete;
  schema& operator=(const schema&) = delete;

  /// Returns the primary URL with search_path set to this schema.
  std::string primary_url() const;

  /// Returns the replica URL with search_path set to this schema (empty without replica).
  std::string replica_url() const;

  /// Runs SQL on the primary (as the test's superuser-less role) in this schema.
  void exec(const std::string& sql) const;

  /// Returns the first column of the first row of `sql` run on the primary, as text.
  std::string query_value(const std::string& sql) const;

  const std::string& name() const noexcept {
    return name_;
  }

private:
  env env_;
  std::string name_;
};

/// Returns `url` with search_path set to `schema`.
std::string with_search_path(const std::string& url, const std::string& schema);

/// Calls `f` until it returns true or `timeout` passes; returns its last result.
bool eventually(const std::function<bool()>& f,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// Runs scripts/pg with `args`; returns its exit code (output goes to the test's output).
int pg_script(const std::string& args);

} // namespace klerno::test::pg
