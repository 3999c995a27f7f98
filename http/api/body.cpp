#include "http/api/body.hpp"

#include <fmt/format.h>

#include "runtime/text.hpp"

namespace klerno::http::api {

namespace {

/// Returns the deepest nesting of `[`/`{` outside strings (a cheap pre-check: the parser would
/// accept any depth, and deep documents are a denial-of-service vector).
std::size_t nesting_depth(std::string_view s) noexcept {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        deepest = std::max(deepest, ++depth);
        break;
      case ']':
      case '}':
        depth = depth > 0 ? depth - 1 : 0;
        break;
      default:
        break;
    }
  }
  return deepest;
}

std::string reason_details(std::string_view reason) {
  std::string d = "{\"reason\":";
  runtime::append_json_string(d, reason);
  d += '}';
  return d;
}

/// Parses one document; returns the error text on failure.
std::optional<nlohmann::json> parse_one(std::string_view text, std::string& error) {
  if (nesting_depth(text) > max_json_depth) {
    error = fmt::format("JSON nested deeper than {} levels", max_json_depth);
    return std::nullopt;
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    error = e.what();
    return std::nullopt;
  }
}

} // namespace

std::optional<nlohmann::json> parse_json_body(std::string_view body, const responder& done) {
  std::string error;
  auto doc = parse_one(body, error);
  if (!doc) {
    done.error(status::bad_request, "the request body is not valid JSON", reason_details(error));
  }
  return doc;
}

std::optional<batch_body> parse_batch_body(std::string_view body, bool ndjson,
                                           std::size_t max_items, const responder& done) {
  batch_body result;
  auto too_many = [&] {
    done.error(status::payload_too_large,
               fmt::format("a batch holds at most {} items (BATCH_MAX_ITEMS)", max_items),
               fmt::format("{{\"max_items\":{}}}", max_items));
  };
  if (!ndjson) {
    auto doc = parse_json_body(body, done);
    if (!doc) {
      return std::nullopt;
    }
    if (!doc->is_array()) {
      done.error(status::bad_request, "a batch must be a JSON array (or NDJSON lines)",
                 "{\"field\":\"\",\"reason\":\"expected an array\"}");
      return std::nullopt;
    }
    if (doc->size() > max_items) {
      too_many();
      return std::nullopt;
    }
    result.items.reserve(doc->size());
    for (auto& item : *doc) {
      result.items.emplace_back(std::move(item));
      result.errors.emplace_back();
    }
    return result;
  }
  std::size_t start = 0;
  while (start < body.size()) {
    auto nl = body.find('\n', start);
    auto line = body.substr(start, nl == std::string_view::npos ? body.npos : nl - start);
    start = nl == std::string_view::npos ? body.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      continue;
    }
    if (result.items.size() == max_items) {
      too_many();
      return std::nullopt;
    }
    std::string error;
    result.items.push_back(parse_one(line, error));
    result.errors.push_back(result.items.back() ? std::string{} : "invalid JSON: " + error);
  }
  return result;
}

bool is_ndjson(const request& req) {
  auto type = req[bhttp::field::content_type];
  auto semi = type.find(';');
  auto mime = type.substr(0, semi);
  while (!mime.empty() && mime.back() == ' ') {
    mime.remove_suffix(1);
  }
  return mime == "application/x-ndjson" || mime == "application/jsonlines"
         || mime == "application/jsonl";
}

std::string field_error_details(const field_error& e) {
  std::string d = "{\"field\":";
  runtime::append_json_string(d, e.field);
  d += ",\"reason\":";
  runtime::append_json_string(d, e.message);
  d += '}';
  return d;
}

void reply_field_error(const responder& done, const field_error& e) {
  done.error(status::unprocessable_entity, e.message, field_error_details(e));
}

} // namespace klerno::http::api
