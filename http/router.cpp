#include "http/router.hpp"

#include <stdexcept>

namespace klerno::http {

std::pair<std::string_view, std::string_view> split_target(std::string_view target) noexcept {
  auto q = target.find('?');
  if (q == std::string_view::npos) {
    return {target, {}};
  }
  return {target.substr(0, q), target.substr(q + 1)};
}

std::vector<std::string_view> router::split(std::string_view path) {
  std::vector<std::string_view> result;
  // "/a/b" -> {"a", "b"}; "/" -> {""}; a trailing slash yields a trailing empty segment, so
  // "/a/" does not match "/a".
  std::size_t pos = path.empty() || path.front() != '/' ? 0 : 1;
  while (true) {
    auto next = path.find('/', pos);
    if (next == std::string_view::npos) {
      result.push_back(path.substr(pos));
      break;
    }
    result.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return result;
}

void router::add(verb method, std::string pattern, handler fn, route_options options) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  auto segs = split(pattern);
  bool has_placeholder = false;
  for (auto s : segs) {
    if (!s.empty() && s.front() == '{') {
      if (s.size() < 3 || s.back() != '}') {
        throw std::invalid_argument("malformed placeholder in route pattern: " + pattern);
      }
      has_placeholder = true;
    }
  }
  auto r = std::make_unique<route>();
  r->method = method;
  r->pattern = pattern;
  r->fn = std::move(fn);
  r->options = options;
  r->index = routes_.size();
  const route* raw = r.get();
  auto check_dup = [&](const std::vector<const route*>& rs) {
    for (auto* x : rs) {
      if (x->method == method) {
        throw std::invalid_argument("duplicate route: " + pattern);
      }
    }
  };
  if (!has_placeholder) {
    auto& rs = exact_[pattern];
    check_dup(rs);
    rs.push_back(raw);
  } else {
    pattern_entry* entry = nullptr;
    for (auto& e : patterns_) {
      if (e.segments.size() == segs.size()
          && std::equal(e.segments.begin(), e.segments.end(), segs.begin())) {
        entry = &e;
        break;
      }
    }
    if (entry == nullptr) {
      patterns_.push_back(pattern_entry{{segs.begin(), segs.end()}, {}});
      entry = &patterns_.back();
    }
    check_dup(entry->routes);
    entry->routes.push_back(raw);
  }
  routes_.push_back(std::move(r));
}

bool router::matches(const pattern_entry& e, const std::vector<std::string_view>& segs,
                     route_params* params) {
  if (e.segments.size() != segs.size()) {
    return false;
  }
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const auto& p = e.segments[i];
    bool placeholder = !p.empty() && p.front() == '{';
    if (placeholder) {
      if (segs[i].empty()) {
        return false;
      }
    } else if (p != segs[i]) {
      return false;
    }
  }
  if (params != nullptr) {
    for (std::size_t i = 0; i < segs.size(); ++i) {
      const auto& p = e.segments[i];
      if (!p.empty() && p.front() == '{') {
        params->emplace_back(p.substr(1, p.size() - 2), std::string{segs[i]});
      }
    }
  }
  return true;
}

route_match router::resolve(verb method, const std::vector<const route*>& candidates) const {
  route_match m;
  auto wanted = method == verb::head ? verb::get : method;
  for (auto* r : candidates) {
    if (r->method == wanted) {
      m.result = route_match::kind::found;
      m.target = r;
      return m;
    }
  }
  m.result = route_match::kind::method_not_allowed;
  for (auto* r : candidates) {
    if (!m.allowed.empty()) {
      m.allowed += ", ";
    }
    auto name = boost::beast::http::to_string(r->method);
    m.allowed.append(name.data(), name.size());
    if (r->method == verb::get) {
      m.allowed += ", HEAD";
    }
  }
  return m;
}

route_match router::find(verb method, std::string_view path) const {
  if (auto i = exact_.find(std::string{path}); i != exact_.end()) {
    return resolve(method, i->second);
  }
  if (!patterns_.empty()) {
    auto segs = split(path);
    for (const auto& e : patterns_) {
      if (matches(e, segs, nullptr)) {
        auto m = resolve(method, e.routes);
        if (m.result == route_match::kind::found) {
          matches(e, segs, &m.params);
        }
        return m;
      }
    }
  }
  return {};
}

} // namespace klerno::http
