#include "tests/support/env_file.hpp"

#include <fstream>

namespace klerno::test {

std::string env_file_value(const std::string& path, const std::string& key) {
  std::ifstream in{path};
  std::string line;
  std::string value;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) {
      value = line.substr(key.size() + 1);
    }
  }
  return value;
}

} // namespace klerno::test
