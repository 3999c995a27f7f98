#pragma once

// The runtime's error codes. Errors are values: actors answer `caf::result<T>` / `caf::expected<T>`
// carrying these, and they cross node boundaries (exceptions cannot).

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

namespace klerno::runtime {

/// Error codes of the `klerno` error category.
enum class errc : uint8_t {
  none = 0,
  /// A supervisor exceeded its restart intensity (R restarts in P seconds) and gave up.
  restart_intensity_exceeded,
  /// A supervisor could not start one of its children.
  child_start_failed,
  /// A dependency (database, cache, peer) is unavailable.
  unavailable,
  /// A request did not complete before its deadline.
  deadline_exceeded,
  /// The node is shutting down and takes no new work.
  shutting_down,
  /// The request was malformed or violated a limit.
  invalid_argument,
};

/// The CAF error category of `errc`.
constexpr caf::atom_value errc_category = caf::atom("klerno");

/// Returns the snake_case name of `x`.
std::string to_string(errc x);

/// Wraps `x` in a `caf::error` of the `klerno` category, with optional context.
caf::error make_error(errc x, caf::message context = {});

/// Returns `true` if `err` belongs to the `klerno` category and carries `x`.
bool is(const caf::error& err, errc x) noexcept;

} // namespace klerno::runtime
