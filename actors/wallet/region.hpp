#pragma once

// Per-wallet actors ("virtual actors", as in Orleans) and the region that hosts them.
//
// A transaction to store goes to the region, which forwards it to the actor of its sending wallet
// (`from_addr`), activating one on first use. On activation a wallet actor rebuilds its recent
// history from PostgreSQL (the primary, so it reads its own writes); requests that arrive
// meanwhile wait in order. The wallet scores the transaction with the rule table plus its
// stateful signals (velocity, structuring, amount anomaly), hands it to the writer (group
// commit) and answers once it is committed. A wallet idle for WALLET_IDLE_TIMEOUT is passivated:
// it asks the region, which agrees only when no request for it is still on its way, so nothing
// is lost and no two actors ever serve one wallet.
//
// A transaction without `from_addr` has no wallet: the region scores it with the rule table and
// stores it directly.
//
// The region is the unit that the cluster issue spreads across nodes (one region per node, each
// owning the wallets the ring assigns to it).

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/typed_actor.hpp>

#include "actors/model/transaction.hpp"
#include "actors/scoring/rules.hpp"
#include "actors/scoring/signals.hpp"
#include "actors/storage/types.hpp"
#include "runtime/metrics.hpp"

namespace klerno::actors::wallet {

using store_atom = caf::atom_constant<caf::atom("w_store")>;

/// A transaction to score and store (scores in it are ignored and recomputed).
struct store_request {
  model::transaction tx;
};

/// The outcome: inserted (201) or the row that was stored before (200), with its score.
struct store_reply {
  storage::stored result;
};

using store_many_atom = caf::atom_constant<caf::atom("w_storemny")>;

/// Many transactions to score and store (a batch): each is handled by its own wallet, in order.
struct store_many_request {
  std::vector<model::transaction> txs;
};

/// The outcome of one transaction of a batch: stored (or found stored), or why not.
struct item_outcome {
  caf::error error;       ///< none: `result` holds the outcome
  storage::stored result; ///< inserted or the existing row
};

/// The outcomes of a batch, in the order of the request.
struct store_many_reply {
  std::vector<item_outcome> items;
};

using retire_atom = caf::atom_constant<caf::atom("w_retire")>;

/// Says whether this node (still) owns a wallet, in the current cluster view.
using ownership_check = std::function<bool(const std::string& wallet)>;

/// The region's interface. A batch costs one message per wallet it touches and one group commit
/// request per wallet, whatever its size. `(w_retire, check)` passivates the wallets this node
/// no longer owns (after a view change): they finish what they have started and stop, so a
/// wallet that comes back later starts from PostgreSQL, not from a stale history.
using region_actor =
  caf::typed_actor<caf::replies_to<store_atom, store_request>::with<store_reply>,
                   caf::replies_to<store_many_atom, store_many_request>::with<store_many_reply>,
                   caf::reacts_to<retire_atom, ownership_check>>;

/// Registry name of the node's region.
constexpr caf::atom_value region_name = caf::atom("wallets");

/// The metrics of the wallets, declared in one place.
struct wallet_metrics {
  /// Registers (or finds) the wallet metrics in `reg`.
  explicit wallet_metrics(runtime::metrics::registry& reg);

  runtime::metrics::gauge& active;          ///< klerno_wallets_active
  runtime::metrics::counter& activations;   ///< klerno_wallet_activations_total
  runtime::metrics::counter& passivations;  ///< klerno_wallet_passivations_total
  runtime::metrics::counter& load_failures; ///< klerno_wallet_load_failures_total
  runtime::metrics::counter_family& scored; ///< klerno_transactions_scored_total{bucket}
  runtime::metrics::counter& stored;        ///< klerno_transactions_stored_total
  runtime::metrics::counter& duplicates;    ///< klerno_transactions_duplicate_total
  runtime::metrics::counter& alerts;        ///< klerno_alerts_raised_total
};

/// How wallets score and when they passivate.
struct wallet_config {
  scoring::rules_config rules;                       ///< the rule table's word lists
  scoring::signal_config signals;                    ///< the stateful signals
  model::score_centi alert_threshold = 75;           ///< RISK_THRESHOLD
  std::chrono::milliseconds idle_timeout{600'000};   ///< WALLET_IDLE_TIMEOUT
  std::chrono::milliseconds storage_timeout{10'000}; ///< bound of each storage request
  std::shared_ptr<wallet_metrics> metrics;           ///< may be null (tests)
};

/// Spawns a region (its wallets find the writer and the primary pool in the registry under
/// storage::writer_name and storage::primary_name).
caf::actor spawn_region(caf::actor_system& sys, wallet_config cfg);

} // namespace klerno::actors::wallet

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::wallet::store_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::wallet::store_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::wallet::store_many_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::wallet::store_many_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(klerno::actors::wallet::ownership_check)
