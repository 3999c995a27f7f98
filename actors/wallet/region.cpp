#include "actors/wallet/region.hpp"

#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/storage/messages.hpp"
#include "actors/storage/storage.hpp"
#include "runtime/errc.hpp"
#include "runtime/logging.hpp"

namespace klerno::actors::wallet {

wallet_metrics::wallet_metrics(runtime::metrics::registry& reg)
    : active(reg.gauge("klerno_wallets_active", "Wallet actors currently active.").with({})),
      activations(
        reg.counter("klerno_wallet_activations_total", "Wallet actors activated.").with({})),
      passivations(
        reg.counter("klerno_wallet_passivations_total", "Wallet actors passivated when idle.")
          .with({})),
      load_failures(reg
                      .counter("klerno_wallet_load_failures_total",
                               "Wallet activations that could not load their history.")
                      .with({})),
      scored(reg.counter("klerno_transactions_scored_total",
                         "Transactions scored, by risk bucket (analyzed or stored).", {"bucket"})),
      stored(
        reg.counter("klerno_transactions_stored_total", "Transactions newly stored.").with({})),
      duplicates(reg
                   .counter("klerno_transactions_duplicate_total",
                            "Stores of a tx_id that was already stored (answered with the row).")
                   .with({})),
      alerts(reg
               .counter("klerno_alerts_raised_total",
                        "Stored transactions at or above RISK_THRESHOLD (raised once per tx_id).")
               .with({})) {}

namespace {

using passivate_atom = caf::atom_constant<caf::atom("w_passiv")>;
using idle_check_atom = caf::atom_constant<caf::atom("w_idle")>;

using promise = caf::typed_response_promise<store_reply>;

storage::writer_actor find_writer(caf::actor_system& sys) {
  return caf::actor_cast<storage::writer_actor>(sys.registry().get(storage::writer_name));
}

storage::pool_actor find_primary(caf::actor_system& sys) {
  return caf::actor_cast<storage::pool_actor>(sys.registry().get(storage::primary_name));
}

caf::error no_storage() {
  return runtime::make_error(runtime::errc::unavailable,
                             caf::make_message(std::string{"the storage is not running"}));
}

/// Counts and logs what a committed store means: a new row, a duplicate, an alert.
void account(const wallet_config& cfg, const storage::stored& s) {
  if (!cfg.metrics) {
    return;
  }
  if (!s.inserted) {
    cfg.metrics->duplicates.inc();
    return;
  }
  cfg.metrics->stored.inc();
  if (s.row.risk_score >= cfg.alert_threshold) {
    cfg.metrics->alerts.inc();
    runtime::logging::get("actors")->info("alert: tx {} from {} scored {} ({})", s.row.tx_id,
                                          s.row.from_addr, model::format_score(s.row.risk_score),
                                          s.row.risk_bucket);
  }
}

/// Sends `tx` to the writer and calls `done(result or error)` from `self`'s context.
template <class Self, class Done>
void write(Self* self, const wallet_config& cfg, model::transaction tx, Done done) {
  auto writer = find_writer(self->system());
  if (!writer) {
    done(caf::expected<storage::stored>{no_storage()});
    return;
  }
  storage::tx_list rows;
  rows.push_back(std::move(tx));
  self->request(writer, cfg.storage_timeout, storage::store_atom::value, std::move(rows))
    .then(
      [done](storage::stored_list& out) mutable {
        if (out.size() != 1) {
          done(caf::expected<storage::stored>{caf::make_error(caf::sec::unexpected_response)});
          return;
        }
        done(caf::expected<storage::stored>{std::move(out.front())});
      },
      [done](caf::error& err) mutable { done(caf::expected<storage::stored>{std::move(err)}); });
}

// -- the wallet actor ---------------------------------------------------------------------------

struct wallet_state {
  std::string addr;
  std::shared_ptr<const wallet_config> cfg;
  caf::actor region;
  scoring::wallet_history history;
  bool loaded = false;
  std::vector<std::pair<promise, model::transaction>> stash; ///< requests before the load
  uint64_t received = 0;     ///< store requests received (the region counts what it forwarded)
  std::size_t in_flight = 0; ///< stores waiting for the writer
  std::chrono::steady_clock::time_point last_active;
  bool passivating = false;
  static inline const char* name = "klerno.wallet";
};

using wallet_actor = caf::stateful_actor<wallet_state>;

void handle_store(wallet_actor* self, promise rp, model::transaction tx) {
  auto& st = self->state;
  const auto& cfg = *st.cfg;
  st.last_active = std::chrono::steady_clock::now();
  bool seen = st.history.contains(tx.tx_id);
  auto a = scoring::assess(tx, cfg.rules);
  if (!seen) {
    scoring::merge(a, scoring::evaluate(st.history, tx, cfg.signals));
  }
  tx.category = scoring::categorize(tx, cfg.rules.categories);
  scoring::apply(tx, a);
  if (cfg.metrics) {
    cfg.metrics->scored.with({tx.risk_bucket}).inc();
  }
  // Counted at once, so the next transaction of this wallet sees this one even before it is
  // committed; taken back if it turns out to be a repeat or fails.
  auto tx_id = tx.tx_id;
  if (!seen) {
    st.history.add(scoring::entry_of(tx));
  }
  ++st.in_flight;
  write(self, cfg, std::move(tx),
        [self, rp, tx_id, seen](caf::expected<storage::stored> res) mutable {
          auto& st = self->state;
          --st.in_flight;
          st.last_active = std::chrono::steady_clock::now();
          if (!res) {
            if (!seen) {
              st.history.remove(tx_id);
            }
            rp.deliver(std::move(res.error()));
            return;
          }
          if (!res->inserted && !seen) {
            // It was stored before this wallet's history reached back to it: keep the stored
            // version (its time and amount), not the repeat's.
            st.history.remove(tx_id);
            st.history.add(scoring::entry_of(res->row));
          }
          account(*st.cfg, *res);
          rp.deliver(store_reply{std::move(*res)});
        });
}

void fail_stash(wallet_actor* self, const caf::error& err) {
  for (auto& [rp, tx] : self->state.stash) {
    rp.deliver(err);
  }
  self->state.stash.clear();
}

void load_history(wallet_actor* self) {
  auto& st = self->state;
  auto primary = find_primary(self->system());
  auto fail = [self](const caf::error& err) {
    auto& st = self->state;
    if (st.cfg->metrics) {
      st.cfg->metrics->load_failures.inc();
    }
    runtime::logging::get("actors")->warn("wallet {}: cannot load its history: {}", st.addr,
                                          self->system().render(err));
    fail_stash(self, err);
    // The next request activates a fresh actor, which tries again.
    self->quit(err);
  };
  if (!primary) {
    fail(no_storage());
    return;
  }
  storage::history_query q;
  q.addr = st.addr;
  q.since = model::timestamp{};
  q.limit = st.cfg->signals.history_max;
  self->request(primary, st.cfg->storage_timeout, storage::history_atom::value, q)
    .then(
      [self](storage::history_list& rows) {
        auto& st = self->state;
        for (auto& r : rows) {
          st.history.add(scoring::history_entry{r.tx_id, r.time, r.amount, r.to_addr});
        }
        st.loaded = true;
        auto stash = std::move(st.stash);
        st.stash.clear();
        for (auto& [rp, tx] : stash) {
          handle_store(self, std::move(rp), std::move(tx));
        }
      },
      fail);
}

caf::behavior wallet_impl(wallet_actor* self, std::string addr,
                          std::shared_ptr<const wallet_config> cfg, caf::actor region) {
  auto& st = self->state;
  st.addr = std::move(addr);
  st.cfg = cfg;
  st.region = region;
  st.history = scoring::wallet_history{cfg->signals.history_max};
  st.last_active = std::chrono::steady_clock::now();
  self->monitor(region);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); }); // the region is gone
  load_history(self);
  self->delayed_send(self, cfg->idle_timeout, idle_check_atom::value);
  return {
    [self](store_atom, store_request& req) -> caf::result<store_reply> {
      auto& st = self->state;
      ++st.received;
      auto rp = self->make_response_promise<store_reply>();
      if (!st.loaded) {
        st.stash.emplace_back(rp, std::move(req.tx));
      } else {
        handle_store(self, rp, std::move(req.tx));
      }
      return rp;
    },
    [self](idle_check_atom) {
      auto& st = self->state;
      auto idle = std::chrono::steady_clock::now() - st.last_active;
      if (st.passivating || idle < st.cfg->idle_timeout || st.in_flight > 0 || !st.stash.empty()
          || !st.loaded) {
        self->delayed_send(self, st.cfg->idle_timeout, idle_check_atom::value);
        return;
      }
      st.passivating = true;
      self->request(st.region, st.cfg->storage_timeout, passivate_atom::value, st.addr, st.received)
        .then(
          [self](bool agreed) {
            auto& st = self->state;
            st.passivating = false;
            if (agreed) {
              self->quit();
              return;
            }
            // A request is on its way: stay.
            self->delayed_send(self, st.cfg->idle_timeout, idle_check_atom::value);
          },
          [self](caf::error&) {
            self->state.passivating = false;
            self->delayed_send(self, self->state.cfg->idle_timeout, idle_check_atom::value);
          });
    },
  };
}

// -- the region ---------------------------------------------------------------------------------

struct region_state {
  struct entry {
    caf::actor actor;
    uint64_t forwarded = 0;
  };
  std::shared_ptr<const wallet_config> cfg;
  std::unordered_map<std::string, entry> wallets;
  std::unordered_map<caf::actor_addr, std::string> names; ///< actor -> wallet address
  static inline const char* name = "klerno.wallet_region";
};

using region_impl_actor = caf::stateful_actor<region_state>;

/// Stores a transaction that has no sending wallet: the rule table only.
caf::result<store_reply> store_unowned(region_impl_actor* self, model::transaction tx) {
  const auto& cfg = *self->state.cfg;
  scoring::score_static(tx, cfg.rules);
  if (cfg.metrics) {
    cfg.metrics->scored.with({tx.risk_bucket}).inc();
  }
  auto rp = self->make_response_promise<store_reply>();
  write(self, cfg, std::move(tx), [self, rp](caf::expected<storage::stored> res) mutable {
    if (!res) {
      rp.deliver(std::move(res.error()));
      return;
    }
    account(*self->state.cfg, *res);
    rp.deliver(store_reply{std::move(*res)});
  });
  return rp;
}

caf::behavior region_impl(region_impl_actor* self, std::shared_ptr<const wallet_config> cfg) {
  self->state.cfg = cfg;
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto i = st.names.find(msg.source);
    if (i == st.names.end()) {
      return;
    }
    auto w = st.wallets.find(i->second);
    if (w != st.wallets.end() && w->second.actor.address() == msg.source) {
      st.wallets.erase(w);
      if (st.cfg->metrics) {
        st.cfg->metrics->active.dec();
      }
    }
    st.names.erase(i);
  });
  // Wallets die with the region (they monitor it); stop them explicitly on a clean stop too.
  self->attach_functor([self] {
    for (auto& [addr, e] : self->state.wallets) {
      caf::anon_send_exit(e.actor, caf::exit_reason::user_shutdown);
    }
    if (self->state.cfg->metrics) {
      self->state.cfg->metrics->active.add(-static_cast<double>(self->state.wallets.size()));
    }
  });
  return {
    [self](store_atom, store_request& req) -> caf::result<store_reply> {
      auto& st = self->state;
      if (req.tx.from_addr.empty()) {
        return store_unowned(self, std::move(req.tx));
      }
      auto i = st.wallets.find(req.tx.from_addr);
      if (i == st.wallets.end()) {
        auto addr = req.tx.from_addr;
        auto w = self->spawn(wallet_impl, addr, st.cfg, caf::actor_cast<caf::actor>(self));
        self->monitor(w);
        st.names.emplace(w.address(), addr);
        i = st.wallets.emplace(addr, region_state::entry{w, 0}).first;
        if (st.cfg->metrics) {
          st.cfg->metrics->active.inc();
          st.cfg->metrics->activations.inc();
        }
      }
      ++i->second.forwarded;
      return self->delegate(caf::actor_cast<region_actor>(i->second.actor), store_atom::value,
                            std::move(req));
    },
    [self](passivate_atom, const std::string& addr, uint64_t handled) {
      auto& st = self->state;
      auto i = st.wallets.find(addr);
      auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
      if (i == st.wallets.end() || i->second.actor.address() != sender
          || i->second.forwarded != handled) {
        return false; // a request is on its way to it
      }
      st.names.erase(sender);
      st.wallets.erase(i);
      if (st.cfg->metrics) {
        st.cfg->metrics->active.dec();
        st.cfg->metrics->passivations.inc();
      }
      return true;
    },
  };
}

} // namespace

caf::actor spawn_region(caf::actor_system& sys, wallet_config cfg) {
  return sys.spawn(region_impl, std::make_shared<const wallet_config>(std::move(cfg)));
}

} // namespace klerno::actors::wallet
