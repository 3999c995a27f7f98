#pragma once

// Every route a node serves, registered in one place: the node and the OpenAPI test build the
// same table.

#include <memory>

#include "http/api/routes.hpp"
#include "http/probes.hpp"
#include "http/router.hpp"

namespace klerno::http {

/// Optional route groups.
struct route_groups {
  bool metrics = true; ///< GET /metrics (PROMETHEUS_ENABLED)
  bool api = true;     ///< the AML API, /openapi.json and WS /ws/alerts (not on a worker)
  bool chaos = false;  ///< POST /chaos/actors/{name}/kill (CHAOS_ENDPOINTS)
};

/// Adds the probes and the groups chosen in `groups` to `r`.
void add_all_routes(router& r, std::shared_ptr<const probe_context> probes,
                    std::shared_ptr<const api::api_context> api, route_groups groups);

/// Returns the OpenAPI 3 document describing every route (GET /openapi.json serves it).
const std::string& openapi_document();

} // namespace klerno::http
