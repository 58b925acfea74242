// Files published together: nothing of a failed command's outputs is left, and an earlier run's
// files of the same names stay as they were until every new one is finished.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "io/staged_outputs.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every entry of a folder tree, relative names only.
std::vector<std::string> tree(const fs::path& root) {
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) names.push_back(fs::relative(e.path(), root).string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST_SUITE("staged_outputs") {
  TEST_CASE("a command that fails before commit leaves the earlier files and no trace of its own") {
    TempDir dir("staged-failed");
    std::ofstream(dir.path("result.csv")) << "earlier";
    const std::vector<std::string> before = tree(dir.root());
    {
      StagedOutputs outputs;
      std::ofstream(outputs.stage(dir.path("result.csv"))) << "new";
      std::ofstream(outputs.stage(dir.path("new/deeper/volume.nii"))) << "new";
      CHECK(read_text(dir.path("result.csv")) == "earlier");  // nothing replaced while the command runs
      CHECK(fs::exists(dir.path("new/deeper")));
    }  // destroyed without commit(): the command failed
    CHECK(read_text(dir.path("result.csv")) == "earlier");
    CHECK(tree(dir.root()) == before);  // no temporary, no folder it created
  }

  TEST_CASE("commit replaces the earlier files with every new one") {
    TempDir dir("staged-committed");
    std::ofstream(dir.path("result.csv")) << "earlier";
    {
      StagedOutputs outputs;
      std::ofstream(outputs.stage(dir.path("result.csv"))) << "new";
      std::ofstream(outputs.stage(dir.path("new/volume.nii"))) << "new volume";
      outputs.commit();
    }
    CHECK(read_text(dir.path("result.csv")) == "new");
    CHECK(read_text(dir.path("new/volume.nii")) == "new volume");
    CHECK(tree(dir.root()) == std::vector<std::string>{"new", "new/volume.nii", "result.csv"});
  }
}

}  // namespace
}  // namespace mdcsrn::test
