#include "http/routes.hpp"

#include "http/chaos.hpp"

namespace klerno::http {

namespace detail {
extern const char* const openapi_text; // generated from http/openapi.json
} // namespace detail

const std::string& openapi_document() {
  static const std::string doc{detail::openapi_text};
  return doc;
}

void add_all_routes(router& r, std::shared_ptr<const probe_context> probes,
                    std::shared_ptr<const api::api_context> api, route_groups groups) {
  add_probe_routes(r, probes);
  if (groups.metrics) {
    add_metrics_route(r, probes);
  }
  r.add(verb::get, "/openapi.json",
        [](request_context&, responder done) { done(make_json(status::ok, openapi_document())); });
  api::add_api_routes(r, std::move(api));
  if (groups.chaos) {
    add_chaos_routes(r);
  }
}

} // namespace klerno::http
