#include "actors/storage/url.hpp"
#include "runtime/text.hpp"

#include <cctype>
#include <vector>

namespace klerno::actors::storage {

namespace {

bool is_uri(std::string_view url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

/// The parts of a URI: [0, query_begin) is everything before '?', query the text after it.
struct uri_parts {
  std::size_t host_begin = 0; // after "scheme://" and "userinfo@"
  std::size_t query_begin = std::string_view::npos;
};

uri_parts split_uri(std::string_view url) {
  uri_parts result;
  auto begin = url.find("://") + 3;
  // As libpq does: the userinfo ends at the first '@' seen before any '/'.
  auto p = url.find_first_of("@/", begin);
  result.host_begin = (p != std::string_view::npos && url[p] == '@') ? p + 1 : begin;
  result.query_begin = url.find('?', result.host_begin);
  return result;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto hi = runtime::hex_digit_value(s[i + 1]);
      auto lo = runtime::hex_digit_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

/// One `key=value` of a URI query string: [begin, end) in the URL.
struct query_item {
  std::string key;
  std::string value;
  std::size_t begin;
  std::size_t end;
};

std::vector<query_item> query_items(std::string_view url, std::size_t query_begin) {
  std::vector<query_item> items;
  if (query_begin == std::string_view::npos) {
    return items;
  }
  auto pos = query_begin + 1;
  while (pos <= url.size()) {
    auto amp = url.find('&', pos);
    auto end = amp == std::string_view::npos ? url.size() : amp;
    auto item = url.substr(pos, end - pos);
    if (!item.empty()) {
      auto eq = item.find('=');
      query_item qi;
      qi.key = percent_decode(item.substr(0, eq));
      qi.value = eq == std::string_view::npos ? std::string{} : percent_decode(item.substr(eq + 1));
      qi.begin = pos;
      qi.end = end;
      items.push_back(std::move(qi));
    }
    if (amp == std::string_view::npos) {
      break;
    }
    pos = amp + 1;
  }
  return items;
}

/// One `key = value` of a keyword/value string: [begin, end) in the string.
struct kv_item {
  std::string key;
  std::string value;
  std::size_t begin;
  std::size_t end;
};

/// Tokenizes a libpq keyword/value string (values may be single-quoted with backslash escapes).
/// Malformed input yields the items parsed so far; libpq reports the error itself later.
std::vector<kv_item> kv_items(std::string_view s) {
  std::vector<kv_item> items;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    }
  };
  while (true) {
    skip_space();
    if (i >= s.size()) {
      break;
    }
    kv_item item;
    item.begin = i;
    while (i < s.size() && s[i] != '=' && !std::isspace(static_cast<unsigned char>(s[i]))) {
      item.key += s[i++];
    }
    skip_space();
    if (i >= s.size() || s[i] != '=') {
      break;
    }
    ++i;
    skip_space();
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (i < s.size() && s[i] != '\'') {
        if (s[i] == '\\' && i + 1 < s.size()) {
          ++i;
        }
        item.value += s[i++];
      }
      if (i < s.size()) {
        ++i; // closing quote
      }
    } else {
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          ++i;
        }
        item.value += s[i++];
      }
    }
    item.end = i;
    items.push_back(std::move(item));
  }
  return items;
}

std::size_t parse_count(const std::string& key, const std::string& value) {
  if (value.empty() || value.size() > 5) {
    throw std::invalid_argument(key + ": \"" + value + "\" is not an integer in 0..10000");
  }
  std::size_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') {
      throw std::invalid_argument(key + ": \"" + value + "\" is not an integer in 0..10000");
    }
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n > 10000) {
    throw std::invalid_argument(key + ": \"" + value + "\" is not an integer in 0..10000");
  }
  return n;
}

bool is_pool_key(const std::string& key) {
  return key == "min_connections" || key == "max_connections";
}

void take_pool_param(pool_params& out, const std::string& key, const std::string& value) {
  if (key == "min_connections") {
    out.min_connections = parse_count(key, value);
  } else {
    out.max_connections = parse_count(key, value);
  }
}

} // namespace

pool_params parse_pool_url(std::string_view url) {
  pool_params result;
  if (is_uri(url)) {
    auto parts = split_uri(url);
    auto items = query_items(url, parts.query_begin);
    std::string query;
    for (auto& item : items) {
      if (is_pool_key(item.key)) {
        take_pool_param(result, item.key, item.value);
        continue;
      }
      query += query.empty() ? '?' : '&';
      query.append(url.substr(item.begin, item.end - item.begin));
    }
    result.clean_url = std::string{url.substr(0, parts.query_begin)} + query;
    return result;
  }
  std::string clean;
  for (auto& item : kv_items(url)) {
    if (is_pool_key(item.key)) {
      take_pool_param(result, item.key, item.value);
      continue;
    }
    if (!clean.empty()) {
      clean += ' ';
    }
    clean.append(url.substr(item.begin, item.end - item.begin));
  }
  result.clean_url = std::move(clean);
  return result;
}

bool has_url_param(std::string_view url, std::string_view key) {
  if (is_uri(url)) {
    for (auto& item : query_items(url, split_uri(url).query_begin)) {
      if (item.key == key) {
        return true;
      }
    }
    return false;
  }
  for (auto& item : kv_items(url)) {
    if (item.key == key) {
      return true;
    }
  }
  return false;
}

std::string with_url_param(std::string_view url, std::string_view key, std::string_view value) {
  std::string result{url};
  if (has_url_param(url, key)) {
    return result;
  }
  if (is_uri(url)) {
    result += split_uri(url).query_begin == std::string_view::npos ? '?' : '&';
  } else if (!result.empty()) {
    result += ' ';
  }
  result.append(key);
  result += '=';
  result.append(value);
  return result;
}

bool has_several_hosts(std::string_view url) {
  if (is_uri(url)) {
    auto parts = split_uri(url);
    auto host_end = url.find_first_of("/?", parts.host_begin);
    auto hosts = url.substr(parts.host_begin, host_end == std::string_view::npos
                                                ? std::string_view::npos
                                                : host_end - parts.host_begin);
    if (hosts.find(',') != std::string_view::npos) {
      return true;
    }
    for (auto& item : query_items(url, parts.query_begin)) {
      if ((item.key == "host" || item.key == "hostaddr")
          && item.value.find(',') != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  for (auto& item : kv_items(url)) {
    if ((item.key == "host" || item.key == "hostaddr")
        && item.value.find(',') != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string url_password(std::string_view url) {
  if (is_uri(url)) {
    auto parts = split_uri(url);
    for (auto& item : query_items(url, parts.query_begin)) {
      if (item.key == "password") {
        return item.value;
      }
    }
    auto begin = url.find("://") + 3;
    if (parts.host_begin > begin) {
      auto userinfo = url.substr(begin, parts.host_begin - 1 - begin);
      auto colon = userinfo.find(':');
      if (colon != std::string_view::npos) {
        return percent_decode(userinfo.substr(colon + 1));
      }
    }
    return {};
  }
  for (auto& item : kv_items(url)) {
    if (item.key == "password") {
      return item.value;
    }
  }
  return {};
}

std::string scrub(std::string text, std::string_view password) {
  if (password.size() < 4) {
    return text;
  }
  for (auto pos = text.find(password); pos != std::string::npos;
       pos = text.find(password, pos + 3)) {
    text.replace(pos, password.size(), "***");
  }
  return text;
}

} // namespace klerno::actors::storage
