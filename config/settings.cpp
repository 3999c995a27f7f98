#include "config/settings.hpp"

namespace klerno::config {

const char* to_string(app_env x) noexcept {
  switch (x) {
    case app_env::development:
      return "development";
    case app_env::test:
      return "test";
    case app_env::staging:
      return "staging";
    case app_env::production:
      return "production";
  }
  return "unknown";
}

const char* to_string(log_format x) noexcept {
  switch (x) {
    case log_format::text:
      return "text";
    case log_format::json:
      return "json";
  }
  return "unknown";
}

const char* to_string(log_level x) noexcept {
  switch (x) {
    case log_level::trace:
      return "trace";
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
    case log_level::critical:
      return "critical";
    case log_level::off:
      return "off";
  }
  return "unknown";
}

const char* to_string(node_role x) noexcept {
  switch (x) {
    case node_role::both:
      return "both";
    case node_role::edge:
      return "edge";
    case node_role::worker:
      return "worker";
  }
  return "both";
}

} // namespace klerno::config
