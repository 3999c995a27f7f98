#include "runtime/errc.hpp"

namespace klerno::runtime {

std::string to_string(errc x) {
  switch (x) {
    case errc::none:
      return "none";
    case errc::restart_intensity_exceeded:
      return "restart_intensity_exceeded";
    case errc::child_start_failed:
      return "child_start_failed";
    case errc::unavailable:
      return "unavailable";
    case errc::deadline_exceeded:
      return "deadline_exceeded";
    case errc::shutting_down:
      return "shutting_down";
    case errc::invalid_argument:
      return "invalid_argument";
  }
  return "errc(" + std::to_string(static_cast<int>(x)) + ")";
}

caf::error make_error(errc x, caf::message context) {
  return caf::error{static_cast<uint8_t>(x), errc_category, std::move(context)};
}

bool is(const caf::error& err, errc x) noexcept {
  return err.category() == errc_category && err.code() == static_cast<uint8_t>(x);
}

} // namespace klerno::runtime
