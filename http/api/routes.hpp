#pragma once

// The AML API (all routes need X-API-Key):
//   POST /analyze/tx                 score one transaction, store nothing
//   POST /analyze/batch              score many (JSON array or NDJSON): {summary, items}
//   POST /integrations/xrpl/parse    rippled transaction JSON -> tagged and scored transaction
//   POST /transactions               score with the wallet's signals, store (201 after COMMIT;
//                                    a repeated tx_id returns the stored row with 200)
//   POST /transactions/batch         the same per item (JSON array or NDJSON)
//   GET  /transactions/{tx_id}       one stored transaction
//   GET  /transactions?wallet=&limit=&cursor=   keyset pages, newest first
//   GET  /alerts?limit=&min_score=   stored transactions at or above the threshold
//   GET  /analytics/summary?threshold=&days=    totals, categories and daily series (replica)
//   GET  /export/csv?wallet=&from=&to=          streamed CSV
//   GET  /analytics/realtime?minutes=           per-minute counters from Redis (cluster-wide)
//   POST /auth/session, DELETE /auth/session    session tokens (Redis)
//   GET  /openapi.json               the OpenAPI 3 description of every route
// Scoring without storage runs on the io thread (pure functions, microseconds); everything that
// touches state or the database goes to actors through the thread's bridge.

#include <memory>
#include <string>

#include "actors/scoring/rules.hpp"
#include "config/settings.hpp"
#include "http/api/edge_guard.hpp"
#include "http/api/gateway.hpp"
#include "http/api/transaction_json.hpp"
#include "http/router.hpp"
#include "runtime/metrics.hpp"

namespace klerno::http::api {

/// What the API handlers need; built once by the node.
struct api_context {
  config::api_settings settings;                     ///< limits, threshold, page sizes
  actors::scoring::rules_config rules;               ///< the rule table's word lists and categories
  input_limits limits;                               ///< bounds on client input
  bool storage_enabled = false;                      ///< DATABASE_URL is set
  std::chrono::milliseconds request_timeout{10'000}; ///< bound of every actor request
  runtime::metrics::counter_family* scored = nullptr; ///< klerno_transactions_scored_total{bucket}
  gateway_config gateway; ///< where wallets' owners are found (no board: everything is local)
  std::chrono::milliseconds realtime_retention{10'800'000}; ///< longest /analytics/realtime window
  /// Sessions, real-time counters and cache invalidation (null: none, e.g. in unit tests).
  std::shared_ptr<edge_guard> edge;
};

/// Adds the AML API routes to `r`.
void add_api_routes(router& r, std::shared_ptr<const api_context> ctx);

} // namespace klerno::http::api
