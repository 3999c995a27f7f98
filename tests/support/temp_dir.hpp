#pragma once

// A private temporary directory per test, removed with everything in it at the end of its scope.

#include <filesystem>
#include <string>

namespace klerno::test {

/// Owns a fresh directory under the system's temporary directory.
class temp_dir {
public:
  /// Creates `<tmp>/<prefix>-XXXXXX` (mkdtemp); throws std::system_error on failure.
  explicit temp_dir(const std::string& prefix = "klerno-test");

  /// Removes the directory and its contents (errors are ignored).
  ~temp_dir();

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// Returns the directory's path.
  const std::filesystem::path& path() const noexcept {
    return path_;
  }

  /// Returns the path of `name` inside the directory.
  std::filesystem::path operator/(const std::string& name) const {
    return path_ / name;
  }

private:
  std::filesystem::path path_;
};

} // namespace klerno::test
