#pragma once

// The gateway: stores transactions on the node that owns their sending wallet.
//
// With a cluster, the owner of a wallet is a pure function of the membership view (the ring of up
// members, cluster/ring.hpp). The gateway groups a request's transactions by owner: its own go to
// the local wallet region, the others to the owners' endpoints as one StoreRequest each, with the
// request's deadline. When an owner does not answer (it crashed, froze or was cut off) or answers
// `not_owner` (views differ for a moment), the gateway waits for the next view and sends the
// affected transactions to their owner in that view, until the deadline. Writes are idempotent on
// tx_id, so a retry never stores twice, and every transaction answered as stored is committed.
// Without a cluster everything is local.

#include <chrono>
#include <functional>
#include <vector>

#include "actors/model/transaction.hpp"
#include "actors/wallet/region.hpp"
#include "cluster/metrics.hpp"
#include "cluster/view.hpp"
#include "http/handler.hpp"

namespace klerno::http::api {

/// One outcome per transaction, in request order.
using store_outcomes = std::vector<actors::wallet::item_outcome>;

/// Where the gateway looks for owners.
struct gateway_config {
  const cluster::view_board* board = nullptr;  ///< null: no cluster, everything is local
  cluster::cluster_metrics* metrics = nullptr; ///< remote request counters (may be null)
  std::chrono::milliseconds retry_wait{500};   ///< longest wait for a new view before a retry
};

/// Stores `txs` on their owners and calls `done` once (on this io thread) with every outcome,
/// at the latest shortly after `timeout`. `owner_name` (optional) receives the owner of the first
/// transaction, for the X-Klerno-Owner header.
void store_on_owners(actor_bridge& bridge, const gateway_config& cfg,
                     std::vector<actors::model::transaction> txs, std::chrono::milliseconds timeout,
                     std::function<void(store_outcomes, std::string owner_name)> done);

} // namespace klerno::http::api
