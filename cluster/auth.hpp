#pragma once

// The cryptography of the join handshake: proof of the shared cluster secret (CLUSTER_SECRET)
// by HMAC challenge-response, in both directions. The messages are those of proto/cluster.proto.
//
//   1. joiner -> responder   Hello     {name_j, incarnation_j, version_j, nonce_j}
//   2. responder -> joiner   Challenge {name_r, incarnation_r, version_r, nonce_r,
//                                       proof_r = proof(secret, challenge_label, t)}
//   3. the joiner verifies proof_r: a responder that does not know the secret (a fake seed, a
//      misconfigured node) is detected and the joiner drops the connection;
//      joiner -> responder   Proof     {proof_j = proof(secret, proof_label, t)}
//   4. the responder verifies proof_j -> Welcome, else Refused (and logs the refusal).
//
// where t is the transcript of steps 1-2 (both names, incarnations, versions and nonces). Why it
// holds:
// - the secret never crosses the wire; an HMAC-SHA256 reveals nothing usable about it;
// - replay: each side's proof covers the OTHER side's fresh 32-byte nonce, so a recorded proof
//   is worthless in a new handshake;
// - reflection: the two directions use different labels, so a joiner cannot answer a Challenge
//   by sending back proof_r (or by opening a second handshake to the responder and relaying);
// - the transcript is encoded canonically (every field length-prefixed, in a fixed order), so no
//   two different transcripts encode to the same bytes;
// - comparisons run in constant time (CRYPTO_memcmp).
// Callers must also refuse a Hello that carries the responder's own name and incarnation, and
// nonces that are not `nonce_size` bytes (verify() returns false for those).
//
// Nothing here logs, stores or returns the secret.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace klerno::cluster::auth {

/// Bytes of a handshake nonce.
constexpr std::size_t nonce_size = 32;

/// Bytes of a proof (HMAC-SHA256).
constexpr std::size_t proof_size = 32;

/// Label of the responder's proof (in Challenge).
constexpr std::string_view challenge_label = "klerno-cluster-challenge";

/// Label of the joiner's proof (in Proof).
constexpr std::string_view proof_label = "klerno-cluster-proof";

/// Everything a proof covers: the Hello and the Challenge, as sent.
struct transcript {
  uint32_t protocol_major = 1;        ///< the wire's major version (package v1)
  std::string joiner_name;            ///< Hello.node_name
  uint64_t joiner_incarnation = 0;    ///< Hello.incarnation
  uint32_t joiner_version = 0;        ///< Hello.version (the joiner's minor version)
  std::string joiner_nonce;           ///< Hello.nonce (nonce_size bytes)
  std::string responder_name;         ///< Challenge.node_name
  uint64_t responder_incarnation = 0; ///< Challenge.incarnation
  uint32_t responder_version = 0;     ///< Challenge.version (the responder's minor version)
  std::string responder_nonce;        ///< Challenge.nonce (nonce_size bytes)
};

/// Returns `nonce_size` bytes from the system CSPRNG (OpenSSL RAND_bytes). Throws
/// `std::runtime_error` if the CSPRNG fails.
std::string make_nonce();

/// Returns the canonical encoding of `label` and `t` that proofs are computed over:
///   enc(label) | u32(protocol_major) | enc(joiner_name) | u64(joiner_incarnation)
///   | u32(joiner_version) | enc(joiner_nonce) | enc(responder_name)
///   | u64(responder_incarnation) | u32(responder_version) | enc(responder_nonce)
/// with u32/u64 big-endian and enc(s) = u32(size of s) | s. Exposed for tests and documentation.
std::string encode(std::string_view label, const transcript& t);

/// Returns HMAC-SHA256(secret, encode(label, t)), `proof_size` raw bytes. Throws
/// `std::invalid_argument` when `secret` is empty or a nonce is not `nonce_size` bytes (a caller
/// bug: the nonces it sends come from make_nonce(), the ones it received are checked by verify
/// first), `std::runtime_error` if OpenSSL fails. Exception texts never contain the secret.
std::string proof(std::string_view secret, std::string_view label, const transcript& t);

/// Returns `true` if `received` is the proof of `label` and `t` under `secret`, comparing in
/// constant time. Returns `false` (never throws for bad input) when `secret` is empty, a nonce
/// is not `nonce_size` bytes, or `received` is not `proof_size` bytes.
bool verify(std::string_view secret, std::string_view label, const transcript& t,
            std::string_view received) noexcept;

} // namespace klerno::cluster::auth
