#include "cluster/ring.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

namespace klerno::cluster {

namespace {

constexpr uint64_t fnv_offset = 0xcbf29ce484222325ULL;
constexpr uint64_t fnv_prime = 0x100000001b3ULL;

uint64_t fnv_u64le(uint64_t h, uint64_t x) noexcept {
  for (int i = 0; i < 8; ++i) {
    h = (h ^ (x & 0xff)) * fnv_prime;
    x >>= 8;
  }
  return h;
}

/// The FNV-1a state after u64le(n) | name | u64le(incarnation): shared by all partitions.
uint64_t member_prefix(const member_ref& m) noexcept {
  auto h = fnv_u64le(fnv_offset, m.name.size());
  h = fnv1a64_continue(h, m.name);
  return fnv_u64le(h, m.incarnation);
}

} // namespace

uint64_t fnv1a64_continue(uint64_t h, std::string_view bytes) noexcept {
  for (unsigned char c : bytes) {
    h = (h ^ c) * fnv_prime;
  }
  return h;
}

uint64_t fnv1a64(std::string_view bytes) noexcept {
  return fnv1a64_continue(fnv_offset, bytes);
}

uint64_t stable_hash(std::string_view bytes) noexcept {
  return fmix64(fnv1a64(bytes));
}

std::size_t partition_of(std::string_view wallet) noexcept {
  return static_cast<std::size_t>(stable_hash(wallet) % partition_count);
}

std::string to_string(const member_ref& m) {
  return m.name + "#" + std::to_string(m.incarnation);
}

uint64_t weight(const member_ref& m, std::size_t partition) noexcept {
  return fmix64(fnv_u64le(member_prefix(m), partition));
}

ring::ring() = default;

ring::ring(std::vector<member_ref> members) : members_(std::move(members)) {
  std::sort(members_.begin(), members_.end());
  members_.erase(std::unique(members_.begin(), members_.end()), members_.end());
  if (members_.size() > std::numeric_limits<uint16_t>::max()) {
    throw std::length_error("a ring holds at most 65535 members");
  }
  counts_.assign(members_.size(), 0);
  if (members_.empty()) {
    return;
  }
  std::vector<uint64_t> prefixes;
  prefixes.reserve(members_.size());
  for (const auto& m : members_) {
    prefixes.push_back(member_prefix(m));
  }
  for (std::size_t p = 0; p < partition_count; ++p) {
    // Ties (equal 64-bit weights) go to the smallest member: members_ is sorted and only a
    // strictly higher weight replaces the best so far.
    std::size_t best = 0;
    uint64_t best_weight = fmix64(fnv_u64le(prefixes[0], p));
    for (std::size_t i = 1; i < members_.size(); ++i) {
      auto w = fmix64(fnv_u64le(prefixes[i], p));
      if (w > best_weight) {
        best = i;
        best_weight = w;
      }
    }
    owners_[p] = static_cast<uint16_t>(best);
    ++counts_[best];
  }
}

std::optional<member_ref> ring::owner(std::size_t partition) const {
  if (partition >= partition_count) {
    throw std::out_of_range("partition " + std::to_string(partition) + " is not below "
                            + std::to_string(partition_count));
  }
  if (members_.empty()) {
    return std::nullopt;
  }
  return members_[owners_[partition]];
}

std::optional<member_ref> ring::owner_of(std::string_view wallet) const {
  return owner(partition_of(wallet));
}

std::size_t ring::partitions_of(const member_ref& m) const noexcept {
  auto it = std::lower_bound(members_.begin(), members_.end(), m);
  if (it == members_.end() || *it != m) {
    return 0;
  }
  return counts_[static_cast<std::size_t>(it - members_.begin())];
}

} // namespace klerno::cluster
