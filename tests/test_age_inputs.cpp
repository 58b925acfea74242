#include <fstream>

#include "engine/error.h"
#include "io/age_grid.h"
#include "io/csv.h"
#include "io/subject_table.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// A table in dir with an HR and an LR column, its images present.
std::string subject_table(const TempDir& dir, const std::string& rows, const std::string& header = "id,age,HR,LR") {
  for (const char* id : {"100307", "100408"})
    for (const char* set : {"hr", "lr"}) write_file(dir.path(std::string(id) + "_" + set + ".nii.gz"), "");
  write_file(dir.path("subjects.csv"), header + "\n" + rows);
  return dir.path("subjects.csv");
}

TEST_SUITE("age_inputs") {
  TEST_CASE("CSV: quoted fields, doubled quotes, CRLF and blank lines; ragged rows and open quotes are errors") {
    const CsvTable t = parse_csv("a, b ,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n2,,3\n", "t.csv");
    CHECK(t.header == std::vector<std::string>{"a", "b", "c"});
    REQUIRE(t.rows.size() == 2);
    CHECK(t.rows[0] == std::vector<std::string>{"1", "x, y", "say \"hi\""});
    CHECK(t.rows[1] == std::vector<std::string>{"2", "", "3"});
    CHECK(t.lines == std::vector<int>{2, 4});
    CHECK(t.column("c") == 2);
    CHECK(t.column("d") == -1);
    CHECK_THROWS_WITH_AS(parse_csv("a,b\n1,2\n3\n", "t.csv"), "t.csv: line 3: 1 fields, the header has 2", Error);
    CHECK_THROWS_WITH_AS(parse_csv("a,b\n1,\"2\n", "t.csv"), "t.csv: line 2: a quoted field is not closed", Error);
    CHECK_THROWS_WITH_AS(parse_csv("a,a\n", "t.csv"), "t.csv: line 1: two columns named 'a'", Error);
    CHECK_THROWS_WITH_AS(parse_csv("\n\n", "t.csv"), "t.csv: no header row (the file is empty)", Error);
    CHECK(csv_field("plain") == "plain");
    CHECK(csv_field("a,\"b\"") == "\"a,\"\"b\"\"\"");
  }

  TEST_CASE("the subject table: {id} paths relative to the table, chosen sets; one-line errors") {
    TempDir dir("age_table");
    const std::string path = subject_table(dir, "100307,26,{id}_hr.nii.gz,{id}_lr.nii.gz\n100408,31.5,100408_hr.nii.gz,{id}_lr.nii.gz\n");
    const SubjectTable all = read_subject_table(path, {});
    CHECK(all.sets == std::vector<std::string>{"HR", "LR"});
    REQUIRE(all.subjects.size() == 2);
    CHECK(all.subjects[1].age == 31.5);
    CHECK(all.subjects[0].images[1] == dir.path("100307_lr.nii.gz"));
    const SubjectTable lr = read_subject_table(path, {"LR"});
    CHECK(lr.sets == std::vector<std::string>{"LR"});
    CHECK(lr.subjects[0].images == std::vector<std::string>{dir.path("100307_lr.nii.gz")});
    CHECK_THROWS_WITH_AS(read_subject_table(path, {"SR"}), doctest::Contains("subjects.csv: no image-set column 'SR'"), Error);

    TempDir bad("age_table_bad");
    CHECK_THROWS_WITH_AS(read_subject_table(subject_table(bad, "100307,x,{id}_hr.nii.gz,{id}_lr.nii.gz\n"), {}),
                         doctest::Contains("subjects.csv: line 2: age 'x' of subject 100307 is not a positive number"), Error);
    CHECK_THROWS_WITH_AS(read_subject_table(subject_table(bad, "100307,22,{id}_hr.nii.gz,{id}_missing.nii.gz\n"), {}),
                         doctest::Contains(("subjects.csv: line 2: the LR image of subject 100307 (" + bad.path("100307_missing.nii.gz") +
                                            ") does not exist").c_str()),
                         Error);
    CHECK_THROWS_WITH_AS(read_subject_table(subject_table(bad, "100307,22,{id}_hr.nii.gz,{id}_lr.nii.gz\n100307,23,{id}_hr.nii.gz,{id}_lr.nii.gz\n"), {}),
                         doctest::Contains("line 3: subject '100307' appears twice"), Error);
    CHECK_THROWS_WITH_AS(read_subject_table(subject_table(bad, "100307,{id}_hr.nii.gz\n", "id,HR"), {}),
                         doctest::Contains("subjects.csv: no 'age' column"), Error);
    CHECK_THROWS_WITH_AS(read_subject_table(subject_table(bad, "x,22,{id}_hr.nii.gz\n", "subject,age,HR"), {}),
                         doctest::Contains("subjects.csv: no 'id' column"), Error);
    CHECK_THROWS_WITH_AS(read_subject_table(bad.path("none.csv"), {}), doctest::Contains("none.csv: cannot open the table"), Error);
  }

  TEST_CASE("ages from HCP's CSVs: restricted years, unrestricted bins at their midpoints; unknown subjects are errors") {
    TempDir dir("age_hcp");
    const std::string path = subject_table(dir, "100307,,{id}_hr.nii.gz,{id}_lr.nii.gz\n100408,,{id}_hr.nii.gz,{id}_lr.nii.gz\n");
    SubjectTable t = read_subject_table(path, {}, false);
    write_file(dir.path("unrestricted.csv"), "Subject,Release,Gender,Age\n100307,Q1,F,26-30\n100408,Q3,M,36+\n");
    read_hcp_ages(t, dir.path("unrestricted.csv"));
    CHECK(t.subjects[0].age == 28);
    CHECK(t.subjects[1].age == 36.5);
    CHECK(t.ages.find("bin's midpoint") != std::string::npos);
    write_file(dir.path("restricted.csv"), "Subject,Age_in_Yrs,Handedness\n100408,37,40\n100307,27,90\n");
    read_hcp_ages(t, dir.path("restricted.csv"));
    CHECK(t.subjects[0].age == 27);
    CHECK(t.subjects[1].age == 37);
    write_file(dir.path("partial.csv"), "Subject,Age\n100307,22-25\n");
    CHECK_THROWS_WITH_AS(read_hcp_ages(t, dir.path("partial.csv")), doctest::Contains("partial.csv: subject 100408 of"), Error);
    write_file(dir.path("odd.csv"), "Subject,Age\n100307,young\n100408,22-25\n");
    CHECK_THROWS_WITH_AS(read_hcp_ages(t, dir.path("odd.csv")), doctest::Contains("odd.csv: line 2: age 'young' of subject 100307 is not an age bin"),
                         Error);
    CHECK(exclude_subjects(t, {"100408", "999"}) == 1);
    CHECK(t.subjects.size() == 1);
  }

  TEST_CASE("resampling onto the age grid reproduces a linear image through an oblique, flipped affine") {
    // f is linear in world coordinates, so trilinear interpolation is exact wherever the eight
    // neighbours are inside the volume; the normalisation divides by one positive constant.
    // x flipped (as LAS files), y and z sheared a little: a grid that is not the world's.
    Affine a{};
    a[0] = {-1.5, 0, 0, 40};
    a[1] = {0, 1.0, 0.2, -10};
    a[2] = {0, 0.1, 2.0, -20};
    a[3] = {0, 0, 0, 1};
    Volume oblique = new_volume({30, 26, 22}, a);
    oblique.source = "oblique.nii.gz";
    auto f = [](const std::array<double, 3>& w) { return 100 + 0.7 * w[0] - 0.4 * w[1] + 0.9 * w[2]; };
    auto world = [](const Affine& m, double i, double j, double k) {
      return std::array<double, 3>{m[0][0] * i + m[0][1] * j + m[0][2] * k + m[0][3], m[1][0] * i + m[1][1] * j + m[1][2] * k + m[1][3],
                                   m[2][0] * i + m[2][1] * j + m[2][2] * k + m[2][3]};
    };
    for (int64_t k = 0; k < oblique.dims[2]; ++k)
      for (int64_t j = 0; j < oblique.dims[1]; ++j)
        for (int64_t i = 0; i < oblique.dims[0]; ++i) oblique.at(i, j, k) = float(f(world(a, double(i), double(j), double(k))));
    const AgeGrid grid{3.0, {20, 12, 18}};
    const std::vector<float> out = resample_for_age(oblique, grid);
    const Volume placed = age_grid_volume(oblique, grid, out);
    const Affine g = placed.voxel_to_world();
    // The box is centred on the field of view's centre.
    const std::array<double, 3> centre = world(a, 14.5, 12.5, 10.5), box_centre = world(g, 9.5, 5.5, 8.5);
    for (size_t c = 0; c < 3; ++c) CHECK(box_centre[c] == doctest::Approx(centre[c]));
    CHECK(g[0][0] == 3.0);
    CHECK(g[0][1] == 0.0);
    double scale = 0, worst = 0;
    int inside = 0, outside_zero = 0, outside = 0;
    for (int64_t z = 0; z < grid.size[2]; ++z)
      for (int64_t y = 0; y < grid.size[1]; ++y)
        for (int64_t x = 0; x < grid.size[0]; ++x) {
          const std::array<double, 3> w = world(g, double(x), double(y), double(z));
          // Invert a by hand: x gives i; y and z are a 2x2 system in j and k.
          const double i = (w[0] - 40) / -1.5, ry = w[1] + 10, rz = w[2] + 20, det = 1.0 * 2.0 - 0.2 * 0.1;
          const double j = (2.0 * ry - 0.2 * rz) / det, k = (1.0 * rz - 0.1 * ry) / det;
          const float value = out[size_t((z * grid.size[1] + y) * grid.size[0] + x)];
          if (i < 0 || j < 0 || k < 0 || i > 29 || j > 25 || k > 21) {
            ++outside;
            outside_zero += value == 0.f;
            continue;
          }
          if (scale == 0) scale = f(w) / value;
          worst = std::max(worst, std::fabs(value * scale - f(w)) / f(w));
          ++inside;
        }
    CHECK(inside > 1000);
    CHECK(outside > 0);
    CHECK(outside_zero == outside);
    CHECK(worst < 1e-5);
    Volume empty = new_volume({4, 4, 4}, {1, 1, 1}, {0, 0, 0});
    empty.source = "empty.nii.gz";
    CHECK_THROWS_WITH_AS(resample_for_age(empty, grid), doctest::Contains("empty.nii.gz: no positive voxel inside the age grid's box"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
