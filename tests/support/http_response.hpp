#pragma once

// A parsed HTTP/1.1 response as the tests look at it.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace klerno::test {

/// Status line, header fields (in wire order) and body of one response.
struct http_response {
  unsigned status = 0;                                      ///< e.g. 200
  std::string reason;                                       ///< e.g. "OK"
  std::vector<std::pair<std::string, std::string>> headers; ///< fields as received
  std::string body;                                         ///< empty for HEAD
  bool keep_alive = false;                                  ///< the connection stays open

  /// Returns the value of the first field named `name` (case-insensitive), or "" if absent.
  std::string header(std::string_view name) const;

  /// Returns how many fields are named `name` (case-insensitive).
  std::size_t count(std::string_view name) const;
};

} // namespace klerno::test
