#pragma once

// The HTTP edge's metrics, declared in one place.

#include "runtime/metrics.hpp"

namespace klerno::http {

/// References into the node's registry; updating them is a relaxed atomic operation.
struct http_metrics {
  /// Registers (or finds) the HTTP metric families in `reg`.
  explicit http_metrics(runtime::metrics::registry& reg);

  /// klerno_http_requests_total{method,route,status}
  runtime::metrics::counter_family& requests;
  /// klerno_http_request_duration_seconds{route}: from the end of reading to the end of writing
  runtime::metrics::histogram_family& duration;
  /// klerno_http_requests_in_flight: read but not yet answered
  runtime::metrics::gauge& in_flight;
  /// klerno_http_connections_open
  runtime::metrics::gauge& open_connections;
  /// klerno_http_connections_accepted_total
  runtime::metrics::counter& accepted;
  /// klerno_http_connections_rejected_total{reason="limit"}: over HTTP_MAX_CONNECTIONS
  runtime::metrics::counter& rejected_limit;
  /// klerno_http_timeouts_total{kind="read|idle|write"}
  runtime::metrics::counter& read_timeouts;
  runtime::metrics::counter& idle_timeouts;
  runtime::metrics::counter& write_timeouts;
};

} // namespace klerno::http
