#pragma once

// The route table of the HTTP edge: method + path pattern -> handler and options. Patterns are
// literal segments and `{name}` placeholders ("/transactions/{tx_id}"). A path that matches a
// pattern under another method yields 405 with the allowed methods; no match yields 404. HEAD is
// answered by the GET handler (the session drops the body).

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "http/handler.hpp"

namespace klerno::http {

using verb = boost::beast::http::verb;

class ws_endpoint; // http/ws_session.hpp

/// Who may call a route.
enum class access {
  open,    ///< anyone (probes, /metrics)
  api_key, ///< requires a valid `X-API-Key` (401 envelope otherwise)
};

/// Per-route settings.
struct route_options {
  access auth = access::open;
  /// Overrides HTTP_MAX_BODY_BYTES for this route when set (may only be lower or higher than the
  /// global limit on purpose, e.g. batch uploads).
  std::optional<std::size_t> max_body_bytes;
  /// Rate-limit class of an API route ("read", "write", "analyze", "auth"); empty: not limited.
  std::string rate_class;
};

/// One registered route.
struct route {
  verb method;
  std::string pattern; ///< also the `route` label of the HTTP metrics
  handler fn;
  route_options options;
  std::size_t index = 0;                  ///< position in registration order
  std::vector<std::string> param_names;   ///< names of the {placeholders}, in path order
  std::shared_ptr<ws_endpoint> websocket; ///< set: a WebSocket route (see `add_websocket`)
};

/// Outcome of a lookup.
struct route_match {
  enum class kind { found, not_found, method_not_allowed };
  kind result = kind::not_found;
  const route* target = nullptr; ///< set when found
  route_params params;           ///< set when found
  std::string allowed;           ///< "GET, HEAD" etc. when method_not_allowed
};

/// Maps requests to handlers. Built once at startup, then only read (thread-safe for readers).
class router {
public:
  /// Adds a route. Throws std::invalid_argument for a malformed pattern or a duplicate.
  void add(verb method, std::string pattern, handler fn, route_options options = {});

  /// Adds a WebSocket route: a valid WebSocket handshake on GET `pattern` (with the API key when
  /// `options` ask for one; WebSocket routes also take it as the `api_key` query parameter, which
  /// browsers can set) hands the connection to `endpoint`; any other request to it is answered by
  /// `fn` (e.g. 426 Upgrade Required).
  void add_websocket(std::string pattern, handler fn, route_options options,
                     std::shared_ptr<ws_endpoint> endpoint) {
    add(verb::get, std::move(pattern), std::move(fn), options);
    routes_.back()->websocket = std::move(endpoint);
  }

  /// Finds the route for `method` and `path` (the target without its query string).
  route_match find(verb method, std::string_view path) const;

  /// Returns every route in registration order.
  const std::vector<std::unique_ptr<route>>& routes() const noexcept {
    return routes_;
  }

private:
  struct pattern_entry {
    std::vector<std::string> shape;   ///< segments; "{}" marks a placeholder
    std::vector<const route*> routes; ///< one per method (each names its placeholders)
  };

  static std::vector<std::string_view> split(std::string_view path);
  static bool matches(const pattern_entry& e, const std::vector<std::string_view>& segs);
  static route_params extract(const pattern_entry& e, const route& r,
                              const std::vector<std::string_view>& segs);
  route_match resolve(verb method, const std::vector<const route*>& candidates) const;

  std::vector<std::unique_ptr<route>> routes_;
  std::unordered_map<std::string, std::vector<const route*>> exact_; ///< patterns w/o {x}
  std::vector<pattern_entry> patterns_;                              ///< patterns with {x}
};

/// Splits `target` into path and query (without '?').
std::pair<std::string_view, std::string_view> split_target(std::string_view target) noexcept;

} // namespace klerno::http
