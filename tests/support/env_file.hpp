#pragma once

// The KEY=VALUE files that scripts/pg and scripts/redis write for the tests (DIR/env).

#include <string>

namespace klerno::test {

/// Returns the value of `key` in the KEY=VALUE file `path` (the last one when repeated; "" when
/// the key or the file is absent).
std::string env_file_value(const std::string& path, const std::string& key);

} // namespace klerno::test
