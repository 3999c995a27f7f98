#pragma once

// Reading request bodies of the API: JSON documents (bounded nesting), NDJSON batches, and the
// error answers for bodies that cannot be used.

#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/api/transaction_json.hpp"
#include "http/handler.hpp"

namespace klerno::http::api {

/// Deepest nesting of arrays and objects accepted in a request body.
constexpr std::size_t max_json_depth = 32;

/// Parses `body` as one JSON document. On failure answers `done` with 400 (bad JSON or nesting
/// deeper than max_json_depth) and returns nullopt.
std::optional<nlohmann::json> parse_json_body(std::string_view body, const responder& done);

/// Parses `body` as a batch: a JSON array, or NDJSON (one JSON value per non-empty line) when
/// `ndjson` is true. Each element is returned parsed, or as nullopt with its error in `errors`
/// (NDJSON only: one bad line does not sink the others). On a failure of the whole body answers
/// `done` (400, or 413 past `max_items`) and returns nullopt.
struct batch_body {
  std::vector<std::optional<nlohmann::json>> items;
  std::vector<std::string> errors; ///< per item, empty when the item parsed
};
std::optional<batch_body> parse_batch_body(std::string_view body, bool ndjson,
                                           std::size_t max_items, const responder& done);

/// Returns true when the request declares an NDJSON body (application/x-ndjson or
/// application/jsonlines).
bool is_ndjson(const request& req);

/// Answers 422 with the envelope naming the refused field.
void reply_field_error(const responder& done, const field_error& e);

/// Returns the envelope details object for a field error: {"field":...,"reason":...}.
std::string field_error_details(const field_error& e);

} // namespace klerno::http::api
