#include "cluster/table_actor.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>

#include "cluster/messages.hpp"
#include "runtime/errc.hpp"

namespace klerno::cluster {

namespace {

struct table_state {
  std::unique_ptr<membership_db> db;
  static inline const char* name = "klerno.cluster_table";
};

using table_actor = caf::stateful_actor<table_state>;

/// Runs `f` against the database, turning its errors into caf::error.
template <class F>
auto guarded(table_actor* self, F f) -> caf::result<decltype(f(*self->state.db))> {
  try {
    return f(*self->state.db);
  } catch (const membership_error& e) {
    auto code = e.kind() == membership_error_kind::unavailable ? runtime::errc::unavailable
                                                               : runtime::errc::invalid_argument;
    return runtime::make_error(code, caf::make_message(std::string{e.what()}));
  } catch (const std::exception& e) {
    return runtime::make_error(runtime::errc::invalid_argument,
                               caf::make_message(std::string{e.what()}));
  }
}

/// Resolves "host:port" into every address of the host ("ip:port", IPv6 in brackets).
std::vector<std::string> resolve(const std::vector<std::string>& seeds) {
  std::set<std::string> out;
  for (const auto& seed : seeds) {
    auto colon = seed.rfind(':');
    if (colon == std::string::npos) {
      continue;
    }
    auto host = seed.substr(0, colon);
    auto port = seed.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) {
      continue;
    }
    for (auto* p = res; p != nullptr; p = p->ai_next) {
      char buf[NI_MAXHOST];
      if (getnameinfo(p->ai_addr, p->ai_addrlen, buf, sizeof(buf), nullptr, 0, NI_NUMERICHOST)
          == 0) {
        std::string addr{buf};
        out.insert(p->ai_family == AF_INET6 ? "[" + addr + "]:" + port : addr + ":" + port);
      }
    }
    freeaddrinfo(res);
  }
  return {out.begin(), out.end()};
}

using prune_atom = caf::atom_constant<caf::atom("t_prune")>;

/// How long dead rows stay in the table (GET /cluster/members shows them), and how often they
/// are removed.
constexpr std::chrono::hours dead_row_retention{1};
constexpr std::chrono::minutes prune_interval{5};

caf::behavior table_impl(table_actor* self, membership_db_factory make) {
  self->state.db = make();
  self->delayed_send(self, prune_interval, prune_atom::value);
  return {
    [self](prune_atom) {
      // Every node prunes; the statement is idempotent. A failure waits for the next round.
      guarded(self,
              [](membership_db& db) { return db.remove_dead_older_than(dead_row_retention); });
      self->delayed_send(self, prune_interval, prune_atom::value);
    },
    [self](read_atom) { return guarded(self, [](membership_db& db) { return db.read(); }); },
    [self](add_atom, const member_row& row, uint64_t expected) {
      return guarded(self, [&](membership_db& db) { return db.add(row, expected); });
    },
    [self](status_atom, const member_ref& m, member_status st, uint64_t expected) {
      return guarded(self, [&](membership_db& db) { return db.set_status(m, st, expected); });
    },
    [self](alive_atom, const member_ref& m) {
      return guarded(self, [&](membership_db& db) { return db.heartbeat(m); });
    },
    [self](suspect_atom, const member_ref& target, const member_ref& voter, uint64_t expected) {
      return guarded(self, [&](membership_db& db) { return db.suspect(target, voter, expected); });
    },
    [self](declare_atom, const member_ref& target, std::size_t votes,
           std::chrono::milliseconds window, uint64_t expected) {
      return guarded(self, [&](membership_db& db) {
        return db.declare_dead_if(target, votes, window, expected);
      });
    },
    [](resolve_atom, const std::vector<std::string>& seeds) { return resolve(seeds); },
  };
}

} // namespace

caf::actor spawn_table_actor(caf::actor_system& sys, membership_db_factory make) {
  return sys.spawn<caf::detached>(table_impl, std::move(make));
}

} // namespace klerno::cluster
