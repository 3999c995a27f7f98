#include "http/router.hpp"

#include <algorithm>
#include <iterator>
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
  auto r = std::make_unique<route>();
  std::vector<std::string> shape;
  for (auto seg : split(pattern)) {
    if (!seg.empty() && seg.front() == '{') {
      if (seg.size() < 3 || seg.back() != '}') {
        throw std::invalid_argument("malformed placeholder in route pattern: " + pattern);
      }
      r->param_names.emplace_back(seg.substr(1, seg.size() - 2));
      shape.emplace_back("{}");
    } else {
      shape.emplace_back(seg);
    }
  }
  r->method = method;
  r->pattern = pattern;
  r->fn = std::move(fn);
  r->options = options;
  r->index = routes_.size();
  const route* raw = r.get();
  auto add_to = [&](std::vector<const route*>& rs) {
    for (auto* x : rs) {
      if (x->method == method) {
        throw std::invalid_argument("duplicate route: " + pattern + " (same as " + x->pattern
                                    + ")");
      }
    }
    rs.push_back(raw);
  };
  if (r->param_names.empty()) {
    add_to(exact_[pattern]);
  } else {
    auto i = std::find_if(patterns_.begin(), patterns_.end(),
                          [&](const pattern_entry& e) { return e.shape == shape; });
    if (i == patterns_.end()) {
      patterns_.push_back(pattern_entry{std::move(shape), {}});
      i = std::prev(patterns_.end());
    }
    add_to(i->routes);
  }
  routes_.push_back(std::move(r));
}

bool router::matches(const pattern_entry& e, const std::vector<std::string_view>& segs) {
  if (e.shape.size() != segs.size()) {
    return false;
  }
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (e.shape[i] == "{}") {
      if (segs[i].empty()) {
        return false;
      }
    } else if (e.shape[i] != segs[i]) {
      return false;
    }
  }
  return true;
}

route_params router::extract(const pattern_entry& e, const route& r,
                             const std::vector<std::string_view>& segs) {
  route_params params;
  std::size_t k = 0;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (e.shape[i] == "{}") {
      params.emplace_back(r.param_names[k++], std::string{segs[i]});
    }
  }
  return params;
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
      if (matches(e, segs)) {
        auto m = resolve(method, e.routes);
        if (m.result == route_match::kind::found) {
          m.params = extract(e, *m.target, segs);
        }
        return m;
      }
    }
  }
  return {};
}

} // namespace klerno::http
