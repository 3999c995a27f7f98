#include "tests/cluster/cluster_support.hpp"

#include <exception>
#include <fstream>
#include <future>
#include <sstream>

#include <catch2/catch.hpp>

#include "tests/support/http.hpp"
#include "tests/support/tcp_client.hpp"

namespace klerno::test::cluster_tests {

using nlohmann::json;

// -- views ---------------------------------------------------------------------------------------

std::string members_view::status_of(const std::string& name) const {
  auto i = members.find(name);
  return i == members.end() ? std::string{} : i->second.status;
}

std::set<std::string> members_view::with_status(const std::string& status) const {
  std::set<std::string> out;
  for (const auto& [name, m] : members) {
    if (m.status == status) {
      out.insert(name);
    }
  }
  return out;
}

namespace {

/// Parses a /cluster/members body; nullopt when it does not have the documented shape.
std::optional<members_view> parse_members(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || j.value("cluster", false) != true || !j.contains("members")
      || !j["members"].is_array() || !j.contains("table_version")
      || !j["table_version"].is_number_unsigned()) {
    return std::nullopt;
  }
  members_view v;
  v.self = j.value("self", "");
  v.table_version = j["table_version"].get<uint64_t>();
  for (const auto& m : j["members"]) {
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string()) {
      return std::nullopt;
    }
    member_info info;
    info.name = m["name"].get<std::string>();
    info.status = m.value("status", "");
    info.role = m.value("role", "");
    info.incarnation = m.value("incarnation", uint64_t{0});
    info.partitions = m.value("partitions", std::size_t{0});
    info.connected = m.value("connected", false);
    v.members[info.name] = info;
  }
  return v;
}

std::string render(const members_view& v) {
  std::ostringstream out;
  out << "self " << v.self << ", table_version " << v.table_version << ":";
  for (const auto& [name, m] : v.members) {
    out << " " << name << "#" << m.incarnation << "=" << m.status << "/" << m.role << "/p"
        << m.partitions << (m.connected ? "/connected" : "/not-connected");
  }
  return out.str();
}

} // namespace

// -- members -------------------------------------------------------------------------------------

member::member(std::string name, const node_process::env_map& settings)
    : name_(std::move(name)), node_(settings, test_node::wait_for::live) {
  if (!node_.ports().cluster) {
    throw std::runtime_error("node " + name_ + " reported no cluster port in PORTS_FILE");
  }
  cluster_port_ = *node_.ports().cluster;
}

unsigned member::readiness() const {
  try {
    return http_get(port(), "/readiness").status;
  } catch (const std::exception&) {
    return 0;
  }
}

std::optional<members_view> member::members() const {
  try {
    auto res = api::api_request(node_, "GET", "/cluster/members");
    if (res.status != 200) {
      return std::nullopt;
    }
    return parse_members(res.body);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

double member::metric(const std::string& series) const {
  auto res = http_get(port(), "/metrics");
  INFO("GET /metrics of " << name_ << ": " << res.status);
  REQUIRE(res.status == 200);
  return api::metric_sample(res.body, series).value_or(0.0);
}

node_process::env_map member_settings(const std::string& database_url, const std::string& name,
                                      const node_process::env_map& extra) {
  node_process::env_map env = api::db_settings(database_url);
  env["NODE_NAME"] = name;
  env["CLUSTER_PORT"] = "0";
  env["CLUSTER_BIND_ADDRESS"] = "127.0.0.1";
  env["CLUSTER_SECRET"] = test_cluster_secret;
  // Pools sized up front: a write load never waits for a new PostgreSQL connection (on a busy
  // machine a connect can overrun DB_CONNECT_TIMEOUT and open the database circuit, which is the
  // database-outage behaviour, not the cluster's).
  env["DB_POOL_MIN"] = "4";
  env["DB_POOL_MAX"] = "4";
  for (const auto& [k, v] : extra) {
    env[k] = v;
  }
  return env;
}

// -- clusters ------------------------------------------------------------------------------------

test_cluster::~test_cluster() {
  // The nodes go first (their logs are kept for the failure report), then the database.
  while (!members_.empty()) {
    members_.pop_back();
  }
}

node_process::env_map test_cluster::join_settings(const std::string& name,
                                                  const node_process::env_map& extra) {
  node_process::env_map cluster_env;
  member* seed = nullptr;
  for (auto& m : members_) {
    if (m->process().running()) {
      seed = m.get();
      break;
    }
  }
  if (seed == nullptr) {
    cluster_env["CLUSTER_BOOTSTRAP"] = "true";
  } else {
    cluster_env["CLUSTER_SEEDS"] = seed->seed();
  }
  for (const auto& [k, v] : extra) {
    cluster_env[k] = v;
  }
  return member_settings(db_.primary_url(), name, cluster_env);
}

member& test_cluster::start(const std::string& name, const node_process::env_map& extra) {
  members_.push_back(std::make_unique<member>(name, join_settings(name, extra)));
  return *members_.back();
}

void test_cluster::start_together(const std::vector<std::string>& names) {
  std::vector<std::future<std::unique_ptr<member>>> starting;
  for (const auto& name : names) {
    starting.push_back(std::async(std::launch::async, [name, env = join_settings(name, {})] {
      return std::make_unique<member>(name, env);
    }));
  }
  // Every future is waited for (a failed start rethrows here; the others are kept or killed).
  std::exception_ptr failed;
  for (auto& f : starting) {
    try {
      members_.push_back(f.get());
    } catch (...) {
      failed = std::current_exception();
    }
  }
  if (failed) {
    std::rethrow_exception(failed);
  }
}

void test_cluster::start_all(const std::vector<std::string>& names) {
  std::vector<std::string> all;
  for (const auto& m : members_) {
    all.push_back(m->name());
  }
  for (const auto& n : names) {
    start(n);
    all.push_back(n);
  }
  wait_converged(all);
}

std::vector<member*> test_cluster::members() const {
  std::vector<member*> out;
  for (const auto& m : members_) {
    out.push_back(m.get());
  }
  return out;
}

member& test_cluster::at(const std::string& name) const {
  for (const auto& m : members_) {
    if (m->name() == name) {
      return *m;
    }
  }
  FAIL("no member named " << name);
  throw std::logic_error("unreachable");
}

void test_cluster::wait_converged(const std::vector<std::string>& names,
                                  std::chrono::milliseconds timeout) {
  const std::set<std::string> wanted(names.begin(), names.end());
  std::map<std::string, std::string> last; // what each member said last, for the failure
  bool ok = poll_until(
    [&] {
      std::optional<uint64_t> version;
      bool all = true;
      for (const auto& name : names) {
        auto& m = at(name);
        auto readiness = m.readiness();
        auto v = m.members();
        last[name] =
          "readiness " + std::to_string(readiness) + "; " + (v ? render(*v) : "no member list");
        if (readiness != 200 || !v || v->with_status("up") != wanted) {
          all = false;
          continue;
        }
        for (const auto& n : wanted) {
          all = all && v->members.at(n).connected;
        }
        if (version && *version != v->table_version) {
          all = false;
        }
        version = v->table_version;
      }
      return all;
    },
    timeout);
  if (!ok) {
    std::ostringstream out;
    for (const auto& [name, text] : last) {
      out << "\n  " << name << ": " << text;
    }
    FAIL("the members did not converge within " << timeout.count() << " ms:" << out.str());
  }
}

void test_cluster::wait_status(const std::vector<std::string>& observers, const std::string& name,
                               const std::string& status, std::chrono::milliseconds timeout) {
  std::map<std::string, std::string> last;
  bool ok = poll_until(
    [&] {
      bool all = true;
      for (const auto& o : observers) {
        auto v = at(o).members();
        last[o] = v ? render(*v) : "no member list";
        all = all && v && v->status_of(name) == status;
      }
      return all;
    },
    timeout);
  if (!ok) {
    std::ostringstream out;
    for (const auto& [o, text] : last) {
      out << "\n  " << o << ": " << text;
    }
    FAIL(name << " was not " << status << " for every observer within " << timeout.count()
              << " ms:" << out.str());
  }
}

// -- writes --------------------------------------------------------------------------------------

namespace {

/// Sends a POST /transactions; never throws and never uses Catch (load threads call it).
store_result post_tx(const member& m, const std::string& body) {
  store_result r;
  try {
    auto res = api::api_request(m.node(), "POST", "/transactions", body, "application/json",
                                request_timeout);
    r.status = res.status;
    r.owner = res.header("X-Klerno-Owner");
    if (res.status != 200 && res.status != 201) {
      r.error = res.body.substr(0, 500);
    }
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

} // namespace

store_result store(const member& m, const json& tx) {
  return post_tx(m, tx.dump());
}

json quiet_tx(const std::string& prefix, const std::string& wallet) {
  auto tx = api::make_tx(prefix, wallet, "rClusterPeer", 50);
  tx["direction"] = "in";
  return tx;
}

std::vector<std::string> make_wallets(const std::string& prefix, std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(api::unique_id(prefix));
  }
  return out;
}

std::map<std::string, std::string> owners_of(const member& entry,
                                             const std::vector<std::string>& wallets) {
  std::map<std::string, std::string> owners;
  for (const auto& w : wallets) {
    auto r = store(entry, quiet_tx("probe", w));
    INFO("wallet " << w << " through " << entry.name() << ": " << r.status << " " << r.error);
    REQUIRE(r.status == 201);
    REQUIRE_FALSE(r.owner.empty());
    owners[w] = r.owner;
  }
  return owners;
}

wallet_set wallets_with_owner(const member& entry, const std::string& owner, std::size_t n,
                              std::size_t min_owned) {
  wallet_set out;
  std::size_t owned = 0;
  while (out.wallets.size() < n || owned < min_owned) {
    INFO(owned << " of " << out.wallets.size() << " wallets are owned by " << owner);
    REQUIRE(out.wallets.size() < 200);
    auto w = api::unique_id("rLoad");
    auto o = owners_of(entry, {w}).at(w);
    owned += o == owner ? 1 : 0;
    out.wallets.push_back(w);
    out.owners[w] = o;
  }
  return out;
}

// -- load ----------------------------------------------------------------------------------------

write_load::write_load(std::vector<const member*> entries, std::vector<std::string> wallets,
                       std::size_t threads, std::chrono::milliseconds pace,
                       std::chrono::milliseconds give_up_after)
    : entries_(std::move(entries)),
      wallets_(std::move(wallets)),
      pace_(pace),
      give_up_after_(give_up_after) {
  REQUIRE_FALSE(entries_.empty());
  REQUIRE_FALSE(wallets_.empty());
  // tx_ids: a random token (unique_id is not thread-safe, so it is drawn here), the client and a
  // sequence number.
  auto token = api::unique_id("load");
  for (std::size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i, token] { run(i, token); });
  }
}

write_load::~write_load() {
  stop();
}

void write_load::stop() {
  stopping_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

void write_load::run(std::size_t client, const std::string& token) {
  std::size_t entry = client;
  for (std::size_t seq = 0; !stopping_; ++seq) {
    write_record rec;
    rec.wallet = wallets_[(client + seq) % wallets_.size()];
    rec.tx_id = token + "-" + std::to_string(client) + "-" + std::to_string(seq);
    auto body = json{
      {"tx_id", rec.tx_id},
      {"from_addr", rec.wallet},
      {"to_addr", "rClusterPeer"},
      {"amount", 50},
      {"direction",
       "in"}}.dump();
    rec.first_try = steady::now();
    for (;;) {
      const member* m = entries_[entry++ % entries_.size()];
      auto sent = steady::now();
      ++rec.attempts;
      auto r = post_tx(*m, body);
      if (r.status == 201 || r.status == 200) {
        rec.acknowledged = true;
        rec.status = r.status;
        rec.owner = r.owner;
        rec.acked_at = steady::now();
        ++acked_;
        break;
      }
      {
        std::lock_guard<std::mutex> guard{mtx_};
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - sent);
        failures_.push_back({rec.tx_id, m->name(), sent, took, r.status, r.error});
      }
      if (steady::now() - rec.first_try >= give_up_after_) {
        break;
      }
      // A client's back-off before it sends the same tx_id again.
      std::this_thread::sleep_for(50ms);
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      records_.push_back(std::move(rec));
    }
    std::this_thread::sleep_for(pace_);
  }
}

void write_load::wait_acknowledged(std::size_t n, std::chrono::milliseconds timeout) {
  auto target = acked_.load() + n;
  bool ok = poll_until([&] { return acked_.load() >= target; }, timeout);
  INFO("acknowledged " << acked_.load() << ", wanted " << target
                       << "; failures so far: " << describe(failures()));
  REQUIRE(ok);
}

std::vector<write_record> write_load::records() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return records_;
}

std::vector<failed_attempt> write_load::failures() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return failures_;
}

std::string describe(const std::vector<failed_attempt>& failures, std::size_t max) {
  std::ostringstream out;
  out << failures.size() << " failed attempt(s)";
  for (std::size_t i = 0; i < failures.size() && i < max; ++i) {
    const auto& f = failures[i];
    out << "\n  " << f.tx_id << " via " << f.entry << " (" << f.took.count()
        << " ms): " << (f.status == 0 ? std::string{"no answer"} : std::to_string(f.status)) << " "
        << f.error;
  }
  return out.str();
}

std::map<std::string, int> stored_rows(const std::string& database_url) {
  auto text = api::psql(database_url, "SELECT tx_id || ' ' || count(*) FROM txs GROUP BY tx_id");
  std::map<std::string, int> rows;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    auto sp = line.rfind(' ');
    if (sp != std::string::npos) {
      rows[line.substr(0, sp)] = std::stoi(line.substr(sp + 1));
    }
  }
  return rows;
}

bool process_stopped(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  // "pid (comm) state ...": the command may hold spaces and parentheses; the state follows the
  // last ')'.
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'T';
}

} // namespace klerno::test::cluster_tests
