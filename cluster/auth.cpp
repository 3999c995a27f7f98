#include "cluster/auth.hpp"

#include <array>
#include <limits>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace klerno::cluster::auth {

namespace {

void put_u32(std::string& out, uint32_t x) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out += static_cast<char>((x >> shift) & 0xff);
  }
}

void put_u64(std::string& out, uint64_t x) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out += static_cast<char>((x >> shift) & 0xff);
  }
}

void put_bytes(std::string& out, std::string_view s) {
  if (s.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument("handshake field longer than 4 GiB");
  }
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s.data(), s.size());
}

bool nonces_ok(const transcript& t) noexcept {
  return t.joiner_nonce.size() == nonce_size && t.responder_nonce.size() == nonce_size;
}

} // namespace

std::string make_nonce() {
  std::array<unsigned char, nonce_size> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("cannot draw a handshake nonce from the system CSPRNG");
  }
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string encode(std::string_view label, const transcript& t) {
  std::string out;
  out.reserve(64 + label.size() + t.joiner_name.size() + t.responder_name.size() + 2 * nonce_size);
  put_bytes(out, label);
  put_u32(out, t.protocol_major);
  put_bytes(out, t.joiner_name);
  put_u64(out, t.joiner_incarnation);
  put_u32(out, t.joiner_version);
  put_bytes(out, t.joiner_nonce);
  put_bytes(out, t.responder_name);
  put_u64(out, t.responder_incarnation);
  put_u32(out, t.responder_version);
  put_bytes(out, t.responder_nonce);
  return out;
}

std::string proof(std::string_view secret, std::string_view label, const transcript& t) {
  if (secret.empty()) {
    throw std::invalid_argument("the cluster secret is empty");
  }
  if (!nonces_ok(t)) {
    throw std::invalid_argument("a handshake nonce is not " + std::to_string(nonce_size)
                                + " bytes");
  }
  if (secret.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw std::invalid_argument("the cluster secret is too long");
  }
  auto data = encode(label, t);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), md.data(), &len)
        == nullptr
      || len != proof_size) {
    throw std::runtime_error("HMAC-SHA256 failed (OpenSSL)");
  }
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

bool verify(std::string_view secret, std::string_view label, const transcript& t,
            std::string_view received) noexcept {
  if (secret.empty() || !nonces_ok(t) || received.size() != proof_size) {
    return false;
  }
  try {
    auto expected = proof(secret, label, t);
    return CRYPTO_memcmp(expected.data(), received.data(), proof_size) == 0;
  } catch (...) {
    return false;
  }
}

} // namespace klerno::cluster::auth
