#pragma once
// The files of one command, published together: each is written under a temporary name beside
// its destination, and commit() renames them all into place once the command has finished. A
// command that fails first removes its temporaries, and the folders it created for them, so an
// earlier run's files (same names, same folder) stay exactly as they were.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace mdcsrn {

class StagedOutputs {
 public:
  StagedOutputs() = default;
  StagedOutputs(const StagedOutputs&) = delete;
  StagedOutputs& operator=(const StagedOutputs&) = delete;
  ~StagedOutputs();

  // Where to write `path` now (its folder is created if missing); it becomes `path` at commit().
  std::string stage(const std::string& path);
  // Renames every staged file to its destination, replacing what was there.
  void commit();

 private:
  std::vector<std::pair<std::string, std::string>> files_;  // (temporary, destination)
  std::vector<std::filesystem::path> created_folders_;       // outermost first
  bool committed_ = false;
};

}  // namespace mdcsrn
