// TempDir: a fresh directory under $TMPDIR (or /tmp) per test, removed on destruction
// unless TITAND_KEEP_TEST_DIRS is set.
#pragma once

#include <filesystem>
#include <string>

namespace titand::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace titand::testing
