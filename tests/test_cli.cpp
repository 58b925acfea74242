// The command-line program end to end on synthetic data: HCP-style preparation, and one-line
// errors with a non-zero exit for bad input.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/manifest.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

namespace fs = std::filesystem;

// Runs mdcsrn with arguments; returns the exit status and the combined output.
std::pair<int, std::string> mdcsrn(const std::string& arguments, const TempDir& dir) {
  const std::string log = dir.path("cli.log");
  const int status = std::system((std::string(MDCSRN_BINARY) + " " + arguments + " > " + log + " 2>&1").c_str());
  std::ifstream in(log);
  return {WEXITSTATUS(status), std::string(std::istreambuf_iterator<char>(in), {})};
}

TEST_SUITE("cli") {
  TEST_CASE("prepare --hcp: every subject is prepared and split by subject from the seed") {
    TempDir dir("hcp");
    for (int s = 0; s < 3; ++s) {
      const fs::path t1w = dir.root() / ("10000" + std::to_string(s)) / "T1w";
      fs::create_directories(t1w);
      Phantom p = make_phantom(24, 22, 20, uint64_t(s));
      for (float& v : p.labels.data) v = v == 8.f ? 47.f : (v == 3.f ? 2.f : 0.f);  // aseg: right cerebellum cortex, WM
      write_volume(p.hr, (t1w / "T1w_acpc_dc_restore_brain.nii.gz").string());
      write_volume(p.labels, (t1w / "aparc+aseg.nii.gz").string());
    }
    const auto [status, output] = mdcsrn("prepare --hcp " + dir.root().string() + " --out " + dir.path("out") + " --split 1/1/rest --seed 4", dir);
    CAPTURE(output);
    REQUIRE(status == 0);
    const Manifest m = Manifest::load(dir.path("out/manifest.json"));
    CHECK(m.subjects.size() == 3);
    CHECK(m.split("train").size() == 1);
    CHECK(m.split("val").size() == 1);
    CHECK(m.split("test").size() == 1);
    CHECK(m.split("train")[0].second.whole());
    CHECK(fs::exists(m.resolve(m.subjects[2].cerebellum_mask)));
    CHECK(output.find("split     subjects   brain voxels  cerebellum voxels") != std::string::npos);
  }

  TEST_CASE("eval --manifest: per-subject CSV and summary over brain and cerebellum of the test region") {
    TempDir dir("eval");
    const std::string manifest = make_phantom_dataset(dir);
    const std::string data = dir.path("data/phantom/");
    const auto [status, output] = mdcsrn("eval --manifest " + manifest + " --method copy=" + data + "lr.nii.gz --method perfect=" + data +
                                             "hr.nii.gz --out " + dir.path("eval"), dir);
    CAPTURE(output);
    REQUIRE(status == 0);
    std::ifstream csv(dir.path("eval/metrics.csv"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(csv, line);) lines.push_back(line);
    REQUIRE(lines.size() == 7);  // header + 3 methods x 2 regions
    CHECK(lines[0] == "subject,method,region,psnr,ssim,nrmse,voxels");
    // The LR input and its copy score the same; the HR itself is perfect.
    CHECK(lines[1].substr(lines[1].find(",brain,")) == lines[3].substr(lines[3].find(",brain,")));
    CHECK(lines[5].find("phantom,perfect,brain,inf,1.000000,0.000000") == 0);
    CHECK(output.find("| perfect | inf ± ") != std::string::npos);
    CHECK(fs::exists(dir.path("eval/summary.md")));
  }

  TEST_CASE("bad input: one line naming the problem, non-zero exit") {
    TempDir dir("cli-bad");
    auto [s1, o1] = mdcsrn("prepare --hr " + dir.path("missing.nii.gz") + " --labels x --out " + dir.path("o"), dir);
    CHECK(s1 != 0);
    CHECK(o1.find("missing.nii.gz: no such file") != std::string::npos);
    auto [s2, o2] = mdcsrn("train --manifest m.json --set train.epohcs=3", dir);
    CHECK(s2 != 0);
    CHECK(o2.find("unknown setting 'train.epohcs'") != std::string::npos);
    auto [s3, o3] = mdcsrn("prepare --preset colin27 --scale", dir);
    CHECK(s3 != 0);
    CHECK(o3.find("option --scale needs a value") != std::string::npos);
    auto [s4, o4] = mdcsrn("frobnicate", dir);
    CHECK(s4 == 2);
    CHECK(o4.find("unknown command 'frobnicate'") != std::string::npos);
    auto [s5, o5] = mdcsrn("infer --help", dir);
    CHECK(s5 == 0);
    CHECK(o5.find("--stitching") != std::string::npos);
  }
}

}  // namespace
}  // namespace mdcsrn::test
