#include "config/secret.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace klerno::config {

std::string secret::redacted() const {
  return value_.empty() ? std::string{} : std::string{"<redacted>"};
}

std::string redact_url(std::string_view url) {
  std::size_t begin = 0;
  if (auto scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    begin = scheme_end + 3;
  }
  auto end = url.find_first_of("/?#", begin);
  if (end == std::string_view::npos) {
    end = url.size();
  }
  auto authority = url.substr(begin, end - begin);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string{url};
  }
  auto colon = authority.substr(0, at).find(':');
  if (colon == std::string_view::npos || colon + 1 == at) {
    return std::string{url};
  }
  std::string result;
  result.reserve(url.size());
  result.append(url.substr(0, begin + colon + 1));
  result.append("***");
  result.append(url.substr(begin + at));
  return result;
}

namespace {

bool sha256(std::string_view in, unsigned char (&out)[EVP_MAX_MD_SIZE]) noexcept {
  // EVP_Digest may be handed a null pointer for an empty input; give it a valid one anyway.
  static const char empty = 0;
  const void* data = in.empty() ? &empty : in.data();
  unsigned int len = 0;
  return EVP_Digest(data, in.size(), out, &len, EVP_sha256(), nullptr) == 1 && len == 32;
}

} // namespace

bool constant_time_equals(std::string_view a, std::string_view b) noexcept {
  unsigned char da[EVP_MAX_MD_SIZE] = {};
  unsigned char db[EVP_MAX_MD_SIZE] = {};
  // Hash both inputs unconditionally so that a failure on one side does not shortcut the other.
  bool ok_a = sha256(a, da);
  bool ok_b = sha256(b, db);
  return ok_a && ok_b && CRYPTO_memcmp(da, db, 32) == 0;
}

} // namespace klerno::config
