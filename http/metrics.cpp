#include "http/metrics.hpp"

namespace klerno::http {

namespace {

runtime::metrics::counter_family& timeouts(runtime::metrics::registry& reg) {
  return reg.counter("klerno_http_timeouts_total",
                     "Connections closed because a read, idle or write timeout expired.", {"kind"});
}

} // namespace

http_metrics::http_metrics(runtime::metrics::registry& reg)
    : requests(reg.counter("klerno_http_requests_total", "HTTP requests answered.",
                           {"method", "route", "status"})),
      duration(reg.histogram("klerno_http_request_duration_seconds",
                             "Time from a request being read to its response being written.",
                             {"route"})),
      in_flight(reg.gauge("klerno_http_requests_in_flight", "HTTP requests read but not answered.")
                  .with({})),
      open_connections(
        reg.gauge("klerno_http_connections_open", "Open client connections.").with({})),
      accepted(reg.counter("klerno_http_connections_accepted_total", "Client connections accepted.")
                 .with({})),
      rejected_limit(reg
                       .counter("klerno_http_connections_rejected_total",
                                "Client connections refused with 503.", {"reason"})
                       .with({"limit"})),
      read_timeouts(timeouts(reg).with({"read"})),
      idle_timeouts(timeouts(reg).with({"idle"})),
      write_timeouts(timeouts(reg).with({"write"})) {}

} // namespace klerno::http
