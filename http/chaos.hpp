#pragma once

// Chaos endpoints (CHAOS_ENDPOINTS=true, never in production): let resilience tests and game days
// kill a named actor and watch supervision do its work.
//
//   POST /chaos/actors/{name}/kill   (X-API-Key)
//     202 {"killed":"health","actor_id":12}  the actor registered as {name} was sent an exit
//                                             with reason `kill`; its supervisor restarts it
//     404 envelope                           no actor is registered under {name}

#include "http/router.hpp"

namespace klerno::http {

/// Adds the chaos routes to `r`.
void add_chaos_routes(router& r);

} // namespace klerno::http
