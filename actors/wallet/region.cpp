#include "actors/wallet/region.hpp"

#include <algorithm>
#include <functional>
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

#include "actors/alerts/hub.hpp"
#include "actors/storage/messages.hpp"
#include "actors/storage/storage.hpp"
#include "runtime/errc.hpp"
#include "runtime/logging.hpp"
#include "runtime/mailbox_probe.hpp"

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

namespace detail {

/// Internal: the transactions of one batch that belong to one wallet, in batch order.
struct group_request {
  std::vector<model::transaction> txs;
};

} // namespace detail

} // namespace klerno::actors::wallet

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::wallet::detail::group_request)

namespace klerno::actors::wallet {

namespace {

using passivate_atom = caf::atom_constant<caf::atom("w_passiv")>;
using idle_check_atom = caf::atom_constant<caf::atom("w_idle")>;
using group_atom = caf::atom_constant<caf::atom("w_group")>;
using group_done_atom = caf::atom_constant<caf::atom("w_groupok")>;
using detail::group_request;

using outcomes = std::vector<item_outcome>;

/// Called once with the outcome of every transaction of a group, in order.
using group_done = std::function<void(outcomes)>;

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

outcomes all_failed(std::size_t n, const caf::error& err) {
  outcomes out(n);
  for (auto& o : out) {
    o.error = err;
  }
  return out;
}

/// Counts and logs what a committed store means: a new row, a duplicate, an alert (also sent to
/// the alert hub, for the WebSocket watchers and the cluster).
void account(caf::actor_system& sys, const wallet_config& cfg, const storage::stored& s) {
  if (s.inserted && s.row.risk_score >= cfg.alert_threshold) {
    alerts::publish_local(sys, s.row);
  }
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

/// The requests an actor has pending at the writer. They carry no timeout: CAF cancels request
/// timeouts in O(pending) per actor, which made large batches quadratic. The writer answers every
/// request (its database calls are bounded by the statement, queue and connect timeouts); if it
/// stops, the monitor fails what was pending.
struct writer_link {
  caf::actor_addr writer; ///< the instance currently monitored
  std::unordered_map<uint64_t, std::pair<std::size_t, group_done>> pending;
  uint64_t next = 0;
};

/// Sends `rows` to the writer (one group commit request) and calls `done` with one outcome per
/// row, from `self`'s context.
template <class Self>
void write(Self* self, writer_link& link, storage::tx_list rows, group_done done) {
  auto writer = find_writer(self->system());
  auto n = rows.size();
  if (!writer) {
    done(all_failed(n, no_storage()));
    return;
  }
  if (writer.address() != link.writer) {
    link.writer = writer.address();
    self->monitor(writer);
  }
  auto id = link.next++;
  link.pending.emplace(id, std::make_pair(n, std::move(done)));
  auto take = [&link, id]() -> group_done {
    auto i = link.pending.find(id);
    if (i == link.pending.end()) {
      return {}; // already failed because the writer stopped
    }
    auto fn = std::move(i->second.second);
    link.pending.erase(i);
    return fn;
  };
  self->request(writer, caf::infinite, storage::store_atom::value, std::move(rows))
    .then(
      [take, n](storage::stored_list& out) {
        auto done = take();
        if (!done) {
          return;
        }
        if (out.size() != n) {
          done(all_failed(n, caf::make_error(caf::sec::unexpected_response)));
          return;
        }
        outcomes result(n);
        for (std::size_t i = 0; i < n; ++i) {
          result[i].result = std::move(out[i]);
        }
        done(std::move(result));
      },
      [take, n](caf::error& err) {
        if (auto done = take()) {
          done(all_failed(n, err));
        }
      });
}

/// Fails the pending writes when the writer they went to stopped; returns whether `source` was it.
bool writer_down(writer_link& link, const caf::actor_addr& source) {
  if (!link.writer || source != link.writer) {
    return false;
  }
  link.writer = caf::actor_addr{};
  auto pending = std::move(link.pending);
  link.pending.clear();
  auto err = runtime::make_error(runtime::errc::unavailable,
                                 caf::make_message(std::string{"the writer stopped"}));
  for (auto& [id, entry] : pending) {
    entry.second(all_failed(entry.first, err));
  }
  return true;
}

// -- the wallet actor ---------------------------------------------------------------------------

struct wallet_state {
  std::string addr;
  std::shared_ptr<const wallet_config> cfg;
  caf::actor region;
  scoring::wallet_history history;
  bool loaded = false;
  std::vector<std::pair<std::vector<model::transaction>, group_done>> stash; ///< before the load
  uint64_t received = 0;     ///< requests received (the region counts what it forwarded)
  std::size_t in_flight = 0; ///< groups waiting for the writer
  std::chrono::steady_clock::time_point last_active;
  bool passivating = false;
  bool retiring = false; ///< no longer owned here: stops once idle
  writer_link writes;
  static inline const char* name = "klerno.wallet";
};

using wallet_actor = caf::stateful_actor<wallet_state>;

/// Scores a group in order (each transaction sees the ones before it), stores it with one
/// group commit, and reports one outcome per transaction.
void handle_group(wallet_actor* self, std::vector<model::transaction> txs, group_done done) {
  auto& st = self->state;
  const auto& cfg = *st.cfg;
  st.last_active = std::chrono::steady_clock::now();
  // Transactions new to this wallet's history, added at once so that the next ones (in this
  // group or the next request) see them even before they are committed; taken back if they turn
  // out to be repeats or fail.
  auto added = std::make_shared<std::vector<bool>>(txs.size(), false);
  for (std::size_t i = 0; i < txs.size(); ++i) {
    auto& tx = txs[i];
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
    if (!seen) {
      (*added)[i] = st.history.add(scoring::entry_of(tx));
    }
  }
  std::vector<std::string> ids;
  ids.reserve(txs.size());
  for (const auto& tx : txs) {
    ids.push_back(tx.tx_id);
  }
  ++st.in_flight;
  write(self, st.writes, std::move(txs), [self, done, added, ids = std::move(ids)](outcomes out) {
    auto& st = self->state;
    --st.in_flight;
    st.last_active = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto& o = out[i];
      if (o.error) {
        if ((*added)[i]) {
          st.history.remove(ids[i]);
        }
        continue;
      }
      if (!o.result.inserted && (*added)[i]) {
        // It was stored before this wallet's history reached back to it: keep the stored
        // version (its time and amount), not the repeat's.
        st.history.remove(ids[i]);
        st.history.add(scoring::entry_of(o.result.row));
      }
      account(self->system(), *st.cfg, o.result);
    }
    done(std::move(out));
    if (st.retiring && st.in_flight == 0 && st.stash.empty()) {
      self->quit();
    }
  });
}

/// Handles a group now, or once the history is loaded.
void accept_group(wallet_actor* self, std::vector<model::transaction> txs, group_done done) {
  auto& st = self->state;
  ++st.received;
  if (!st.loaded) {
    st.stash.emplace_back(std::move(txs), std::move(done));
    return;
  }
  handle_group(self, std::move(txs), std::move(done));
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
                                          storage::error_text(err));
    for (auto& [txs, done] : st.stash) {
      done(all_failed(txs.size(), err));
    }
    st.stash.clear();
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
        for (auto& [txs, done] : stash) {
          handle_group(self, std::move(txs), std::move(done));
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
  self->set_down_handler([self](caf::down_msg& msg) {
    if (!writer_down(self->state.writes, msg.source)) {
      self->quit(); // the region is gone
    }
  });
  load_history(self);
  self->delayed_send(self, cfg->idle_timeout, idle_check_atom::value);
  return {
    [self](store_atom, store_request& req) -> caf::result<store_reply> {
      auto rp = self->make_response_promise<store_reply>();
      std::vector<model::transaction> one;
      one.push_back(std::move(req.tx));
      accept_group(self, std::move(one), [rp](outcomes out) mutable {
        if (out.front().error) {
          rp.deliver(std::move(out.front().error));
        } else {
          rp.deliver(store_reply{std::move(out.front().result)});
        }
      });
      return rp;
    },
    // A batch's group: answered with a message to the region (not a response), so that the
    // region keeps no request timeout per group (CAF cancels those in O(pending) per actor).
    [self](group_atom, uint64_t batch, uint64_t group, group_request& req) {
      accept_group(self, std::move(req.txs), [self, batch, group](outcomes out) {
        self->send(self->state.region, group_done_atom::value, batch, group,
                   store_many_reply{std::move(out)});
      });
    },
    [self](retire_atom) {
      auto& st = self->state;
      st.retiring = true;
      if (st.in_flight == 0 && st.stash.empty()) {
        self->quit();
      }
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
  /// A batch being stored: its promise, the outcomes so far and the groups still out.
  struct batch {
    caf::typed_response_promise<store_many_reply> rp;
    outcomes items;
    std::vector<std::vector<std::size_t>> indexes; ///< batch positions of each group
    std::size_t pending = 0;
  };
  std::shared_ptr<const wallet_config> cfg;
  std::unordered_map<std::string, entry> wallets;
  std::unordered_map<caf::actor_addr, std::string> names; ///< actor -> wallet address
  std::unordered_map<uint64_t, batch> batches;
  writer_link writes; ///< stores of transactions without a wallet
  /// Groups handed to each wallet and not answered yet: (batch, group).
  std::unordered_map<caf::actor_addr, std::vector<std::pair<uint64_t, uint64_t>>> out;
  uint64_t next_batch = 0;
  static inline const char* name = "klerno.wallet_region";
};

using region_impl_actor = caf::stateful_actor<region_state>;

/// Returns the actor of wallet `addr`, activating it if needed, and counts one forwarded request.
caf::actor& wallet_for(region_impl_actor* self, const std::string& addr) {
  auto& st = self->state;
  auto i = st.wallets.find(addr);
  if (i == st.wallets.end()) {
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
  return i->second.actor;
}

/// Stores transactions that have no sending wallet: the rule table only, one group commit.
void store_unowned(region_impl_actor* self, std::vector<model::transaction> txs, group_done done) {
  const auto& cfg = *self->state.cfg;
  for (auto& tx : txs) {
    scoring::score_static(tx, cfg.rules);
    if (cfg.metrics) {
      cfg.metrics->scored.with({tx.risk_bucket}).inc();
    }
  }
  write(self, self->state.writes, std::move(txs), [self, done](outcomes out) {
    for (const auto& o : out) {
      if (!o.error) {
        account(self->system(), *self->state.cfg, o.result);
      }
    }
    done(std::move(out));
  });
}

/// Records the outcomes of one group; answers the batch once every group is in.
void group_finished(region_impl_actor* self, uint64_t batch_id, uint64_t group, outcomes out) {
  auto& st = self->state;
  auto i = st.batches.find(batch_id);
  if (i == st.batches.end()) {
    return;
  }
  auto& b = i->second;
  const auto& indexes = b.indexes[group];
  for (std::size_t k = 0; k < indexes.size() && k < out.size(); ++k) {
    b.items[indexes[k]] = std::move(out[k]);
  }
  if (--b.pending == 0) {
    b.rp.deliver(store_many_reply{std::move(b.items)});
    st.batches.erase(i);
  }
}

caf::result<store_many_reply> store_many(region_impl_actor* self, store_many_request& req) {
  auto& st = self->state;
  auto batch_id = st.next_batch++;
  auto& b = st.batches[batch_id];
  b.rp = self->make_response_promise<store_many_reply>();
  auto rp = b.rp;
  b.items.resize(req.txs.size());
  // Group by sending wallet, keeping the batch order within each group.
  std::unordered_map<std::string, std::size_t> group_of;
  std::vector<std::string> addrs;
  std::vector<std::vector<model::transaction>> groups;
  for (std::size_t i = 0; i < req.txs.size(); ++i) {
    auto& tx = req.txs[i];
    auto [it, fresh] = group_of.try_emplace(tx.from_addr, groups.size());
    if (fresh) {
      addrs.push_back(tx.from_addr);
      groups.emplace_back();
      b.indexes.emplace_back();
    }
    groups[it->second].push_back(std::move(tx));
    b.indexes[it->second].push_back(i);
  }
  b.pending = groups.size();
  if (b.pending == 0) {
    b.rp.deliver(store_many_reply{});
    st.batches.erase(batch_id);
    return rp;
  }
  for (uint64_t g = 0; g < groups.size(); ++g) {
    if (addrs[g].empty()) {
      store_unowned(self, std::move(groups[g]), [self, batch_id, g](outcomes out) {
        group_finished(self, batch_id, g, std::move(out));
      });
      continue;
    }
    auto& w = wallet_for(self, addrs[g]);
    st.out[w.address()].emplace_back(batch_id, g);
    self->send(w, group_atom::value, batch_id, g, group_request{std::move(groups[g])});
  }
  return rp;
}

caf::behavior region_impl(region_impl_actor* self, std::shared_ptr<const wallet_config> cfg) {
  self->state.cfg = cfg;
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (writer_down(st.writes, msg.source)) {
      return;
    }
    // Groups the wallet took and never answered (it was killed or crashed) fail now.
    if (auto o = st.out.find(msg.source); o != st.out.end()) {
      auto lost = std::move(o->second);
      st.out.erase(o);
      auto err = runtime::make_error(runtime::errc::unavailable,
                                     caf::make_message(std::string{"the wallet actor stopped"}));
      for (auto [batch_id, group] : lost) {
        auto b = st.batches.find(batch_id);
        if (b != st.batches.end()) {
          group_finished(self, batch_id, group, all_failed(b->second.indexes[group].size(), err));
        }
      }
    }
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
  runtime::answer_mailbox_probes(self);
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
      if (req.tx.from_addr.empty()) {
        auto rp = self->make_response_promise<store_reply>();
        std::vector<model::transaction> one;
        one.push_back(std::move(req.tx));
        store_unowned(self, std::move(one), [rp](outcomes out) mutable {
          if (out.front().error) {
            rp.deliver(std::move(out.front().error));
          } else {
            rp.deliver(store_reply{std::move(out.front().result)});
          }
        });
        return rp;
      }
      auto& w = wallet_for(self, req.tx.from_addr);
      return self->delegate(caf::actor_cast<region_actor>(w), store_atom::value, std::move(req));
    },
    [self](store_many_atom, store_many_request& req) { return store_many(self, req); },
    [self](retire_atom, const ownership_check& owned) {
      auto& st = self->state;
      std::vector<std::string> gone;
      for (const auto& [addr, e] : st.wallets) {
        if (!owned(addr)) {
          gone.push_back(addr);
        }
      }
      for (const auto& addr : gone) {
        auto i = st.wallets.find(addr);
        self->send(i->second.actor, retire_atom::value);
        st.names.erase(i->second.actor.address());
        st.wallets.erase(i);
        if (st.cfg->metrics) {
          st.cfg->metrics->active.dec();
          st.cfg->metrics->passivations.inc();
        }
      }
      if (!gone.empty()) {
        runtime::logging::get("actors")->info("handed {} wallet(s) over to their new owners",
                                              gone.size());
      }
    },
    [self](group_done_atom, uint64_t batch_id, uint64_t group, store_many_reply& reply) {
      auto& st = self->state;
      auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
      // Only groups still out count (a group already failed for a stopped wallet does not).
      auto o = st.out.find(sender);
      if (o == st.out.end()) {
        return;
      }
      auto& v = o->second;
      auto it = std::find(v.begin(), v.end(), std::make_pair(batch_id, group));
      if (it == v.end()) {
        return;
      }
      v.erase(it);
      if (v.empty()) {
        st.out.erase(o);
      }
      group_finished(self, batch_id, group, std::move(reply.items));
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
