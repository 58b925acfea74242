#include <nlohmann/json.hpp>

#include <fstream>

#include "io/prepare.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("prepare") {
  TEST_CASE("a subject's outputs overlay its input and describe the synthesis") {
    TempDir dir("prepare");
    const Phantom p = make_phantom(48, 40, 36, 1);
    write_volume(p.hr, dir.path("hr_in.nii.gz"));
    write_volume(p.labels, dir.path("labels.nii.gz"));
    PrepareOptions o;
    o.id = "phantom";
    o.hr = dir.path("hr_in.nii.gz");
    o.labels = dir.path("labels.nii.gz");
    o.cerebellum_labels = "aseg";
    o.out_dir = dir.path("out/phantom");
    const PreparedSubject s = prepare_subject(o, dir.path("out"), nullptr);

    int64_t brain = 0, cerebellum = 0;
    for (size_t v = 0; v < p.hr.data.size(); ++v) brain += p.hr.data[v] != 0, cerebellum += p.labels.data[v] == 8;
    CHECK(s.brain_voxels == brain);
    CHECK(s.cerebellum_voxels == cerebellum);
    CHECK(s.entry.hr == "phantom/hr.nii.gz");

    const Volume hr = read_volume(dir.path("out/phantom/hr.nii.gz"));
    for (const char* name : {"lr.nii.gz", "brain_mask.nii.gz", "cerebellum_mask.nii.gz", "hf_weight.nii.gz"})
      CHECK_NOTHROW(require_same_grid(p.hr, read_volume(dir.path(std::string("out/phantom/") + name)), name));
    CHECK(*std::max_element(hr.data.begin(), hr.data.end()) == 1.f);

    std::ifstream sidecar_file(dir.path("out/phantom/lr.json"));
    const auto sidecar = nlohmann::json::parse(sidecar_file);
    CHECK(sidecar["kspace"]["scale"] == 4);
    CHECK(sidecar["kspace"]["truncated_axes"] == std::vector<int>{1, 2});
    CHECK(sidecar["kspace"]["kept_frequencies"] == std::vector<int>{10, 9});
    CHECK(sidecar["kspace"]["window"] == "none");

    // World x = 0 falls between voxels 23 and 24: left hemisphere (x < 0) = indices [0, 24), of
    // which the lateral quarter of the brain's extent (it starts at index 4) validates.
    const auto split = hemisphere_split(s);
    CHECK(split.at("train").axis == 0);
    CHECK(split.at("val").begin == 0);
    CHECK(split.at("val").end == 9);
    CHECK(split.at("train").begin == 9);
    CHECK(split.at("train").end == 24);
    CHECK(split.at("test").begin == 24);
    CHECK(split.at("test").end == 48);

    Manifest m;
    m.dataset = "phantom";
    m.subjects.push_back(s.entry);
    m.subjects[0].splits = split;
    m.save(dir.path("out/manifest.json"));
    const Manifest loaded = Manifest::load(dir.path("out/manifest.json"));
    CHECK(loaded.subjects[0].splits.at("test").begin == 24);
    CHECK(loaded.resolve(loaded.subjects[0].hr) == dir.path("out/phantom/hr.nii.gz"));
    CHECK(loaded.split("train").size() == 1);
    CHECK(loaded.split("val").size() == 1);
    CHECK(loaded.split("extra").empty());
    CHECK(split_report(loaded, {s}).find("train") != std::string::npos);
  }

  TEST_CASE("bad inputs: empty masks, mismatched grids") {
    TempDir dir("prepare-bad");
    const Phantom p = make_phantom(24, 20, 18, 2);
    write_volume(p.hr, dir.path("hr.nii.gz"));
    write_volume(p.hr.like(std::vector<float>(p.hr.data.size(), 0.f)), dir.path("empty.nii.gz"));
    write_volume(new_volume({24, 20, 19}, {1, 1, 1}, {0, 0, 0}), dir.path("other_grid.nii.gz"));
    PrepareOptions o;
    o.hr = dir.path("hr.nii.gz");
    o.out_dir = dir.path("out");
    o.cerebellum_mask = dir.path("empty.nii.gz");
    CHECK_THROWS_WITH_AS(prepare_subject(o, dir.path("out"), nullptr), doctest::Contains("empty.nii.gz: the cerebellum mask is empty"), Error);
    o.cerebellum_mask = dir.path("other_grid.nii.gz");
    CHECK_THROWS_WITH_AS(prepare_subject(o, dir.path("out"), nullptr), doctest::Contains("other_grid.nii.gz: grid 24x20x19 does not match"), Error);
    o.cerebellum_mask.clear();
    o.brain_mask = dir.path("empty.nii.gz");
    o.labels = dir.path("empty.nii.gz");
    CHECK_THROWS_WITH_AS(prepare_subject(o, dir.path("out"), nullptr), doctest::Contains("the brain mask is empty"), Error);
  }

  TEST_CASE("subject splits are seeded and sized as asked") {
    const auto a = assign_subject_splits(10, "6/2/rest", 5), b = assign_subject_splits(10, "6/2/rest", 5),
               c = assign_subject_splits(10, "6/2/rest", 6);
    CHECK(a == b);
    CHECK(a != c);
    CHECK(std::count(a.begin(), a.end(), "train") == 6);
    CHECK(std::count(a.begin(), a.end(), "val") == 2);
    CHECK(std::count(a.begin(), a.end(), "test") == 2);
    const auto f = assign_subject_splits(10, "0.5/0.2/rest", 1);
    CHECK(std::count(f.begin(), f.end(), "train") == 5);
    CHECK_THROWS_WITH_AS(assign_subject_splits(10, "12/0/rest", 1), doctest::Contains("asks for 12 subjects; there are 10"), Error);
    CHECK_THROWS_AS(assign_subject_splits(10, "6/2", 1), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
