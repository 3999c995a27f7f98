#include "http/routes.hpp"

#include "http/chaos.hpp"
#include "http/ws_session.hpp"

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
  if (groups.api) {
    r.add(verb::get, "/openapi.json", [](request_context&, responder done) {
      done(make_json(status::ok, openapi_document()));
    });
    std::shared_ptr<ws_metrics> ws;
    if (probes && probes->metrics != nullptr) {
      ws = std::make_shared<ws_metrics>(*probes->metrics);
    }
    ws_settings cfg;
    if (api) {
      const auto& a = api->settings;
      cfg.max_watch = a.ws_max_watch;
      cfg.max_message_bytes = a.ws_max_message_bytes;
      cfg.max_queue = a.ws_max_queue;
      cfg.message_rate = a.ws_message_rate;
      cfg.message_burst = a.ws_message_burst;
      cfg.ping_interval = a.ws_ping_interval;
      cfg.pong_timeout = a.ws_pong_timeout;
    }
    add_alerts_ws_route(r, cfg, std::move(ws));
    api::add_api_routes(r, std::move(api));
  }
  if (groups.chaos) {
    add_chaos_routes(r);
  }
}

} // namespace klerno::http
