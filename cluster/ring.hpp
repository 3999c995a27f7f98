#pragma once

// Consistent placement of wallets on nodes: the ring.
//
// A wallet address maps to one of `partition_count` partitions (a pure function of the address),
// and each partition to one owner among the members that own partitions (Up members with role
// worker or both), by rendezvous (highest random weight) hashing: the owner of partition p is the
// member m with the highest weight(m, p). Consequences:
// - the owner is a pure function of (member set, wallet): every node that has the same view
//   computes the same owner, whatever the order it learned the members in;
// - adding a member moves to it the partitions where it has the highest weight (about 1/N of
//   them) and nothing else; removing a member moves only its own partitions;
// - every member owns about 1/N of the partitions (binomially distributed around 1024/N).
//
// The hash functions below are PART OF THE PROTOCOL: every node of every build and version must
// compute the same values, or two nodes would disagree on owners. They are specified here
// byte for byte, pinned by test vectors (tests/unit/cluster/ring_test.cpp), and must never change
// within a major protocol version.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace klerno::cluster {

/// Number of partitions of the wallet space. Part of the protocol (changing it moves wallets).
constexpr std::size_t partition_count = 1024;

/// Returns the 64-bit FNV-1a hash of `bytes`: h = 0xcbf29ce484222325; for each byte b:
/// h = (h XOR b) * 0x100000001b3 (mod 2^64).
uint64_t fnv1a64(std::string_view bytes) noexcept;

/// Returns the FNV-1a 64 state `h` continued with `bytes` (fnv1a64(a + b) ==
/// fnv1a64_continue(fnv1a64(a), b)).
uint64_t fnv1a64_continue(uint64_t h, std::string_view bytes) noexcept;

/// Returns MurmurHash3's 64-bit finalizer of `x` (fmix64): x ^= x >> 33;
/// x *= 0xff51afd7ed558ccd; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53; x ^= x >> 33. A bijection that
/// spreads every input bit over every output bit (FNV-1a alone has weak low bits).
constexpr uint64_t fmix64(uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

/// Returns the cluster's stable 64-bit hash of `bytes`: fmix64(fnv1a64(bytes)).
uint64_t stable_hash(std::string_view bytes) noexcept;

/// Returns the partition of `wallet` (the address exactly as given, case-sensitive bytes):
/// stable_hash(wallet) mod partition_count.
std::size_t partition_of(std::string_view wallet) noexcept;

/// A member of the cluster: a node name and one incarnation (one process life) of it.
struct member_ref {
  std::string name;         ///< NODE_NAME
  uint64_t incarnation = 0; ///< start time of the process, ms since the Unix epoch

  friend bool operator==(const member_ref& a, const member_ref& b) noexcept {
    return a.incarnation == b.incarnation && a.name == b.name;
  }
  friend bool operator!=(const member_ref& a, const member_ref& b) noexcept {
    return !(a == b);
  }
  /// Orders by name, then incarnation.
  friend bool operator<(const member_ref& a, const member_ref& b) noexcept {
    return std::tie(a.name, a.incarnation) < std::tie(b.name, b.incarnation);
  }
};

/// Returns "name#incarnation" (for logs).
std::string to_string(const member_ref& m);

/// Returns the rendezvous weight of member `m` for `partition`: stable_hash of the 24 + n bytes
///   u64le(n) | name (n bytes) | u64le(incarnation) | u64le(partition)
/// where u64le is the 8-byte little-endian encoding. Length-prefixing the name keeps distinct
/// (name, incarnation) pairs distinct encodings.
uint64_t weight(const member_ref& m, std::size_t partition) noexcept;

/// The placement of the partitions on a set of members. Immutable; cheap to query (the owners of
/// all partitions are computed once, on construction: O(partition_count x members)).
class ring {
public:
  /// Creates an empty ring (no owner for anything).
  ring();

  /// Creates the ring of `members`: the members that own partitions, i.e. the Up members whose
  /// role is worker or both (the caller selects them). Order does not matter; duplicates count
  /// once. Two incarnations of one name are two members (a caller normally passes one).
  explicit ring(std::vector<member_ref> members);

  /// Returns the owner of `partition`, or nullopt when the ring is empty. Throws
  /// `std::out_of_range` when `partition >= partition_count`.
  std::optional<member_ref> owner(std::size_t partition) const;

  /// Returns the owner of `wallet`'s partition, or nullopt when the ring is empty.
  std::optional<member_ref> owner_of(std::string_view wallet) const;

  /// Returns how many partitions `m` owns (0 when it is not a member).
  std::size_t partitions_of(const member_ref& m) const noexcept;

  /// Returns the members, sorted (by name, then incarnation), without duplicates.
  const std::vector<member_ref>& members() const noexcept {
    return members_;
  }

  /// Returns `true` when the ring has no members.
  bool empty() const noexcept {
    return members_.empty();
  }

  /// Rings are equal when they have the same members (hence the same owners).
  friend bool operator==(const ring& a, const ring& b) noexcept {
    return a.members_ == b.members_;
  }
  friend bool operator!=(const ring& a, const ring& b) noexcept {
    return !(a == b);
  }

private:
  std::vector<member_ref> members_;                // sorted, unique
  std::array<uint16_t, partition_count> owners_{}; // index into members_
  std::vector<std::size_t> counts_;                // partitions per member (members_ order)
};

} // namespace klerno::cluster
