#include "tests/storage/pg_env.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <unistd.h>

#include <pqxx/pqxx>

#include <catch2/catch.hpp>

#include "actors/storage/url.hpp"
#include "tests/support/env_file.hpp"

namespace klerno::test::pg {

env load_env() {
  const char* from_env = std::getenv("KLERNO_PG_ENV_FILE");
  std::string path = from_env != nullptr && *from_env != 0 ? from_env : KLERNO_PG_ENV_DEFAULT;
  std::ifstream probe{path};
  if (!probe) {
    FAIL("no PostgreSQL for the database tests: env file " << path
                                                           << " is missing (CTest fixture pg)");
  }
  env e;
  e.primary = klerno::test::env_file_value(path, "DATABASE_URL");
  auto replicas = klerno::test::env_file_value(path, "DATABASE_READ_URLS");
  e.replica = replicas.substr(0, replicas.find(','));
  REQUIRE(!e.primary.empty());
  return e;
}

std::string with_search_path(const std::string& url, const std::string& schema) {
  return actors::storage::with_url_param(url, "options", "-csearch_path%3D" + schema);
}

namespace {

std::string unique_schema_name() {
  static std::atomic<int> counter{0};
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return "t_" + std::to_string(::getpid()) + "_" + std::to_string(now % 1000000) + "_"
         + std::to_string(++counter);
}

} // namespace

schema::schema(const env& e) : env_(e), name_(unique_schema_name()) {
  pqxx::connection c{env_.primary};
  pqxx::nontransaction n{c};
  n.exec("SET client_min_messages = warning; CREATE SCHEMA " + name_);
}

schema::~schema() {
  try {
    pqxx::connection c{env_.primary};
    pqxx::nontransaction n{c};
    n.exec("SET client_min_messages = warning; DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
  } catch (...) {
    // A leftover schema only costs space in a throwaway cluster.
  }
}

std::string schema::primary_url() const {
  return with_search_path(env_.primary, name_);
}

std::string schema::replica_url() const {
  return env_.replica.empty() ? std::string{} : with_search_path(env_.replica, name_);
}

void schema::exec(const std::string& sql) const {
  pqxx::connection c{primary_url()};
  pqxx::nontransaction n{c};
  n.exec(sql);
}

std::string schema::query_value(const std::string& sql) const {
  pqxx::connection c{primary_url()};
  pqxx::nontransaction n{c};
  auto r = n.exec(sql);
  REQUIRE(!r.empty());
  return r[0][0].c_str();
}

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (f()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int pg_script(const std::string& args) {
  auto cmd = std::string{KLERNO_PG_SCRIPT} + " " + args;
  auto rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

} // namespace klerno::test::pg
