#include "io/staged_outputs.h"

#include "engine/error.h"
#include "io/volume.h"

namespace mdcsrn {

namespace fs = std::filesystem;

std::string StagedOutputs::stage(const std::string& path) {
  const fs::path folder = fs::path(path).parent_path();
  if (!folder.empty() && !fs::exists(folder)) {
    fs::path outermost = folder;
    while (outermost.has_parent_path() && !outermost.parent_path().empty() && !fs::exists(outermost.parent_path()))
      outermost = outermost.parent_path();
    fs::create_directories(folder);
    created_folders_.push_back(outermost);
  }
  files_.emplace_back(temporary_name(path), path);
  return files_.back().first;
}

void StagedOutputs::commit() {
  for (const auto& [temporary, destination] : files_) {
    std::error_code ec;
    fs::rename(temporary, destination, ec);
    if (ec) fail(destination + ": cannot move the finished file into place (" + ec.message() + ")");
  }
  committed_ = true;
}

StagedOutputs::~StagedOutputs() {
  if (committed_) return;
  std::error_code ec;
  for (const auto& file : files_) fs::remove(file.first, ec);
  for (const fs::path& folder : created_folders_) fs::remove_all(folder, ec);
}

}  // namespace mdcsrn
