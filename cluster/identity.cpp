#include "cluster/identity.hpp"

#include <array>
#include <chrono>
#include <stdexcept>

#include <openssl/rand.h>

namespace klerno::cluster {

identity make_identity(const std::string& node_name) {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("cannot draw a random instance id from the system CSPRNG");
  }
  static constexpr char hex[] = "0123456789abcdef";
  identity result;
  result.node_name = node_name;
  result.instance_id.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    result.instance_id += hex[b >> 4];
    result.instance_id += hex[b & 0xf];
  }
  auto now = std::chrono::system_clock::now().time_since_epoch();
  result.incarnation =
    static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  return result;
}

} // namespace klerno::cluster
