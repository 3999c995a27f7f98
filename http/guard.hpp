#pragma once

// The request guard: what the edge decides about an authenticated API request before its route
// handler runs — who the caller is when it presents a session token, whether its rate limit
// allows it, whether a cached response answers it — and what happens to the handler's response
// on its way out (cache fill, ETag / 304, rate-limit headers).
//
// The session calls `admit` for every request to a route that needs credentials (probes and
// /metrics never reach the guard). The guard answers through the responder (401, 429, 503,
// a cached 200 or a 304), or runs the handler through `run`, possibly with a responder of its own
// that sees the response first. Both may happen later, always on the request's io thread; the
// request stays valid until the guard releases `run`.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>

#include "http/handler.hpp"

namespace klerno::http {

struct route;

/// How a request proved who it is.
enum class credential {
  api_key, ///< a valid X-API-Key (checked by the session)
  bearer,  ///< `Authorization: Bearer <token>`: a session token, checked by the guard
};

/// One request handed to the guard.
struct guarded_request {
  const request* req = nullptr; ///< valid until `run` is released
  const route* target = nullptr;
  std::string_view path;
  std::string_view query;
  const route_params* params = nullptr; ///< values of the route's {placeholders}
  std::string_view request_id;
  boost::asio::ip::tcp::endpoint peer; ///< the connection's remote address
  std::size_t worker = 0;              ///< index of the io thread
  credential cred = credential::api_key;
  std::string_view bearer_token; ///< cred == bearer: the token (never log it)
};

/// Returns the token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or
/// an empty view.
std::string_view bearer_token(const request& req);

/// Options of running the handler (set by the guard).
struct run_options {
  std::string scope;        ///< who the caller is (API key scope), for handlers that need it
  bool fresh_reads = false; ///< read from the primary: the answer fills a cache entry
};

/// Runs the route's handler for the request with `done` (the guard's responder or the original).
using run_handler = std::function<void(responder done, run_options options)>;

/// Decides about requests before their handlers run (see the file comment).
class request_guard {
public:
  virtual ~request_guard() = default;

  /// Answers `r` through `done` or calls `run` once, now or later on `r.worker`'s io thread.
  virtual void admit(const guarded_request& r, responder done, run_handler run) = 0;

  /// Returns whether `Authorization: Bearer` tokens are accepted (sessions are configured).
  virtual bool accepts_bearer() const noexcept = 0;

  /// Called by the server when it stops: release what runs on io thread `worker`'s io_context
  /// (connections, timers), or the thread cannot finish. `ran`: called on that io thread, which
  /// still runs its loop (work may be posted to finish the release); false: the thread never
  /// ran (the server failed before starting) and everything must be released in this call.
  virtual void close_worker(std::size_t worker, bool ran) = 0;
};

} // namespace klerno::http
