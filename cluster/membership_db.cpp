#include "cluster/membership_db.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace klerno::cluster {

namespace {

constexpr std::array<const char*, 5> status_names = {"joining", "up", "leaving", "exiting", "dead"};
constexpr std::array<const char*, 3> role_names = {"edge", "worker", "both"};

} // namespace

const char* to_string(member_status s) noexcept {
  auto i = static_cast<std::size_t>(s);
  return i < status_names.size() ? status_names[i] : "unknown";
}

std::optional<member_status> parse_member_status(std::string_view s) noexcept {
  for (std::size_t i = 0; i < status_names.size(); ++i) {
    if (s == status_names[i]) {
      return static_cast<member_status>(i);
    }
  }
  return std::nullopt;
}

const char* to_string(member_role r) noexcept {
  auto i = static_cast<std::size_t>(r);
  return i < role_names.size() ? role_names[i] : "unknown";
}

std::optional<member_role> parse_member_role(std::string_view s) noexcept {
  for (std::size_t i = 0; i < role_names.size(); ++i) {
    if (s == role_names[i]) {
      return static_cast<member_role>(i);
    }
  }
  return std::nullopt;
}

const char* to_string(outcome x) noexcept {
  switch (x) {
    case outcome::applied:
      return "applied";
    case outcome::conflict:
      return "conflict";
    case outcome::not_found:
      return "not_found";
    case outcome::rejected:
      return "rejected";
  }
  return "unknown";
}

const member_row* table_view::find(const member_ref& m) const noexcept {
  auto it = std::find_if(members.begin(), members.end(), [&](const member_row& r) {
    return r.incarnation == m.incarnation && r.name == m.name;
  });
  return it == members.end() ? nullptr : &*it;
}

ring ring_of(const table_view& view) {
  std::vector<member_ref> owners;
  for (const auto& m : view.members) {
    if (m.status == member_status::up && owns_partitions(m.role)) {
      owners.push_back(m.ref());
    }
  }
  return ring{std::move(owners)};
}

} // namespace klerno::cluster
