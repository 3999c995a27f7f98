// The README is the operator's reference: every configuration key the loader knows must be
// documented there, and every key documented there must exist.

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "config/loader.hpp"

namespace {

std::string read_readme() {
  std::ifstream in{std::string{KLERNO_SOURCE_DIR} + "/README.md"};
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST_CASE("every configuration key is documented in the README's reference table") {
  auto readme = read_readme();
  for (const auto& key : klerno::config::known_keys()) {
    INFO("key: " << key);
    CHECK(readme.find("| `" + key + "` |") != std::string::npos);
  }
}

TEST_CASE("the README's reference table documents no key that the loader does not know") {
  auto readme = read_readme();
  std::set<std::string> known{klerno::config::known_keys().begin(),
                              klerno::config::known_keys().end()};
  std::regex row{R"(^\| `([A-Z][A-Z0-9_]*)` \|)", std::regex::multiline};
  std::size_t rows = 0;
  for (auto i = std::sregex_iterator(readme.begin(), readme.end(), row);
       i != std::sregex_iterator(); ++i) {
    auto key = (*i)[1].str();
    INFO("documented key: " << key);
    CHECK(known.count(key) == 1);
    ++rows;
  }
  CHECK(rows == known.size());
}
