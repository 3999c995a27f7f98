#include "actors/storage/messages.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace klerno::actors::storage {

const char* to_string(circuit_state x) noexcept {
  switch (x) {
    case circuit_state::closed:
      return "closed";
    case circuit_state::half_open:
      return "half_open";
    case circuit_state::open:
      return "open";
  }
  return "closed";
}

std::string error_text(const caf::error& err) {
  const auto& ctx = err.context();
  if (!ctx.empty() && ctx.match_element<std::string>(0)) {
    return ctx.get_as<std::string>(0);
  }
  return caf::to_string(err);
}

std::optional<std::chrono::milliseconds> retry_after(const caf::error& err) {
  const auto& ctx = err.context();
  if (ctx.size() == 2 && ctx.match_element<std::string>(0) && ctx.match_element<int64_t>(1)) {
    return std::chrono::milliseconds{ctx.get_as<int64_t>(1)};
  }
  return std::nullopt;
}

} // namespace klerno::actors::storage
