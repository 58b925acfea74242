// The command-line program end to end on synthetic data: HCP-style preparation, and one-line
// errors with a non-zero exit for bad input.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/parallel.h"
#include "io/age_cohort.h"
#include "io/evaluation.h"
#include "io/manifest.h"
#include "tests/io_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

namespace fs = std::filesystem;

// Runs mdcsrn with arguments (after `environment`, e.g. "NAME=value "); returns the exit status and
// the combined output.
std::pair<int, std::string> mdcsrn(const std::string& arguments, const TempDir& dir, const std::string& environment = "") {
  const std::string log = dir.path("cli.log");
  const int status = std::system((environment + MDCSRN_BINARY + " " + arguments + " > " + log + " 2>&1").c_str());
  std::ifstream in(log);
  return {WEXITSTATUS(status), std::string(std::istreambuf_iterator<char>(in), {})};
}

// Every file under a folder with its bytes, and every folder (as "/"); empty when the folder does
// not exist. The log of mdcsrn() above is left out.
std::map<std::string, std::string> snapshot(const std::string& folder) {
  std::map<std::string, std::string> files;
  if (!fs::exists(folder)) return files;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(folder)) {
    if (e.is_directory()) {
      files[e.path().string()] = "/";
    } else if (e.is_regular_file() && e.path().filename() != "cli.log") {
      std::ifstream in(e.path(), std::ios::binary);
      files[e.path().string()] = std::string(std::istreambuf_iterator<char>(in), {});
    }
  }
  return files;
}

// A refused invocation: exit 1, one line holding `message`, and nothing under the test's folder
// (the inputs, earlier runs, the outputs' parent) created, changed or removed.
void check_refused(const TempDir& dir, const std::string& arguments, const std::string& message) {
  const std::map<std::string, std::string> before = snapshot(dir.root().string());
  const auto [status, output] = mdcsrn(arguments, dir);
  CAPTURE(arguments);
  CAPTURE(output);
  CHECK(status == 1);
  CHECK(output.find(message) != std::string::npos);
  CHECK(std::count(output.begin(), output.end(), '\n') == 1);
  CHECK(snapshot(dir.root().string()) == before);
}

// Broken copies of a good volume: cut to half its length (uncompressed), and text in its place.
std::string truncated_volume(const TempDir& dir, const Volume& good) {
  const std::string path = dir.path("truncated.nii");
  write_volume(good, path);
  fs::resize_file(path, fs::file_size(path) / 2);
  return path;
}
std::string corrupt_volume(const TempDir& dir) {
  std::ofstream(dir.path("corrupt.nii.gz")) << "not a NIfTI file";
  return dir.path("corrupt.nii.gz");
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
    // Prepared several at once, listed and reported in order, each from its own input.
    CHECK(output.find("[1/3] 100000:") < output.find("[2/3] 100001:"));
    CHECK(output.find("[2/3] 100001:") < output.find("[3/3] 100002:"));
    for (int s = 0; s < 3; ++s) {
      CHECK(m.subjects[size_t(s)].id == "10000" + std::to_string(s));
      Volume input = make_phantom(24, 22, 20, uint64_t(s)).hr;
      const float peak = *std::max_element(input.data.begin(), input.data.end());
      for (float& v : input.data) v /= peak;
      CHECK(read_volume(m.resolve(m.subjects[size_t(s)].hr)).data == input.data);
    }
  }

  TEST_CASE("prepare --hcp: a subject whose voxels cannot be read stops the run, named in its last line, and leaves nothing") {
    TempDir dir("hcp_bad");
    for (int s = 0; s < 4; ++s) {
      const fs::path t1w = dir.root() / "hcp" / ("10000" + std::to_string(s)) / "T1w";
      fs::create_directories(t1w);
      Phantom p = make_phantom(24, 22, 20, uint64_t(s));
      if (s == 2) p.hr.data[100] = std::nanf("");
      for (float& v : p.labels.data) v = v == 8.f ? 47.f : (v == 3.f ? 2.f : 0.f);
      write_volume(p.hr, (t1w / "T1w_acpc_dc_restore_brain.nii.gz").string());
      write_volume(p.labels, (t1w / "aparc+aseg.nii.gz").string());
    }
    const std::map<std::string, std::string> inputs = snapshot(dir.path("hcp"));
    const auto [status, output] = mdcsrn("prepare --hcp " + dir.path("hcp") + " --out " + dir.path("out") + " --split 2/1/rest", dir);
    CAPTURE(output);
    CHECK(status == 1);
    const std::string last = output.substr(output.rfind('\n', output.size() - 2) + 1);
    CHECK(last.find("100002/T1w/T1w_acpc_dc_restore_brain.nii.gz: voxel (4, 4, 0) is NaN or infinite") != std::string::npos);
    CHECK(!fs::exists(dir.path("out")));
    CHECK(snapshot(dir.path("hcp")) == inputs);
  }

  TEST_CASE("eval over several subjects at once gives the rows one at a time gives, in the split's order") {
    TempDir dir("eval_cohort");
    const Manifest m = Manifest::load(make_phantom_cohort(dir, 4));
    const std::vector<Method> methods{{"HR", dir.path("cohort/{id}/hr.nii.gz")}};
    const int threads = cpu_threads();
    set_cpu_threads(1);
    const std::vector<EvaluationRow> one = evaluate_split(m, "test", methods, SsimWindow::Gaussian);
    set_cpu_threads(3);
    const std::vector<EvaluationRow> three = evaluate_split(m, "test", methods, SsimWindow::Gaussian);
    set_cpu_threads(threads);
    REQUIRE(one.size() == 16);  // 4 subjects x (LR, HR) x (brain, cerebellum)
    REQUIRE(three.size() == one.size());
    for (size_t r = 0; r < one.size(); ++r) {
      CAPTURE(r);
      CHECK(one[r].subject == "sub" + std::to_string(r / 4 + 1));
      CHECK(three[r].subject == one[r].subject);
      CHECK(three[r].method == one[r].method);
      CHECK(three[r].region == one[r].region);
      CHECK(three[r].metrics.psnr == one[r].metrics.psnr);
      CHECK(three[r].metrics.ssim == one[r].metrics.ssim);
      CHECK(three[r].metrics.voxels == one[r].metrics.voxels);
    }
    CHECK(one[0].metrics.psnr != one[4].metrics.psnr);  // the subjects differ
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
    CHECK(lines[0] == "subject,method,region,psnr,ssim,nrmse,hf_energy,voxels");
    // The LR input and its copy score the same; the HR itself is perfect.
    CHECK(lines[1].substr(lines[1].find(",brain,")) == lines[3].substr(lines[3].find(",brain,")));
    CHECK(lines[5].find("phantom,perfect,brain,inf,1.000000,0.000000") == 0);
    CHECK(output.find("| perfect | inf ± ") != std::string::npos);
    CHECK(fs::exists(dir.path("eval/summary.md")));
  }

  TEST_CASE("age: Table III of a synthetic cohort, one regressor per set on the same folds; resume keeps finished folds") {
    TempDir dir("age");
    const Phantom p = make_phantom(24, 20, 18, 2, PhantomTexture::Spheres);
    std::vector<float> inside(p.labels.data.size());
    for (size_t i = 0; i < inside.size(); ++i) inside[i] = p.labels.data[i] != 0 ? 1.f : 0.f;
    AgeCohortOptions o;
    o.subjects = 8;
    std::string table = "id,age,HR,LR\n";
    for (const CohortSubject& s : make_age_cohort(p.hr, p.hr.like(inside), o)) {
      write_volume(s.hr, dir.path(s.id + "_hr.nii.gz"));
      // A stand-in for LR: the 3-voxel box blur along i.
      std::vector<float> blurred(s.hr.data.size());
      for (int64_t v = 0; v < s.hr.voxels(); ++v) {
        const int64_t i = v % s.hr.dims[0];
        blurred[size_t(v)] = (s.hr.data[size_t(v - (i > 0))] + s.hr.data[size_t(v)] + s.hr.data[size_t(v + (i + 1 < s.hr.dims[0]))]) / 3;
      }
      write_volume(s.hr.like(blurred), dir.path(s.id + "_lr.nii.gz"));
      table += s.id + "," + std::to_string(s.age) + ",{id}_hr.nii.gz,{id}_lr.nii.gz\n";
    }
    std::ofstream(dir.path("subjects.csv")) << table;
    const std::string settings = " --set grid.size=[24,20,18] --set model.features=4 --set model.growth=2 --set model.bottleneck=2"
                                 " --set model.blocks=[1,1] --set train.folds=2 --set train.epochs=2 --set train.batch=2 --set train.device=cpu --quiet";
    const std::string study = "age --subjects " + dir.path("subjects.csv") + " --out " + dir.path("study") + settings;
    const auto [status, output] = mdcsrn(study, dir);
    CAPTURE(output);
    REQUIRE(status == 0);
    auto read = [&](const std::string& file) {
      std::ifstream in(dir.path("study/" + file));
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    const std::string table3 = read("table3.md"), predictions = read("predictions.csv");
    CHECK(table3.find("| HR | ") != std::string::npos);
    CHECK(table3.find("| LR | ") != std::string::npos);
    CHECK(table3.find("Paired t-tests") != std::string::npos);
    CHECK(predictions.starts_with("id,age,fold,HR,LR\n"));
    CHECK(std::count(predictions.begin(), predictions.end(), '\n') == 9);
    CHECK(fs::file_size(dir.path("study/scatter.png")) > 1000);
    CHECK(fs::exists(dir.path("study/models/LR_fold2.safetensors")));

    // A study stopped part-way: the missing fold is trained again, the finished ones are kept,
    // and the whole result repeats the first run's bit for bit.
    fs::remove(dir.path("study/folds/LR_fold2.csv"));
    const auto [resumed, resumed_output] = mdcsrn(study + " --resume", dir);
    CAPTURE(resumed_output);
    REQUIRE(resumed == 0);
    CHECK(resumed_output.find("HR_fold1 finished before, kept") != std::string::npos);
    CHECK(resumed_output.find("LR_fold2 finished before") == std::string::npos);
    CHECK(read("predictions.csv") == predictions);

    const std::map<std::string, std::string> finished = snapshot(dir.path("study"));
    auto [again, again_output] = mdcsrn(study, dir);
    CHECK(again != 0);
    CHECK(again_output.find("holds a previous study; --resume continues it, --overwrite starts over") != std::string::npos);
    CHECK(snapshot(dir.path("study")) == finished);
    auto [both, both_output] = mdcsrn(study + " --resume --overwrite", dir);
    CHECK(both != 0);
    CHECK(snapshot(dir.path("study")) == finished);
    // --overwrite starts over: a stale file of the old study goes, the same settings give the same table.
    std::ofstream(dir.path("study/folds/HR_fold9.csv")) << "id,age,predicted_age\n";
    auto [over, over_output] = mdcsrn(study + " --overwrite", dir);
    CAPTURE(over_output);
    CHECK(over == 0);
    CHECK(!fs::exists(dir.path("study/folds/HR_fold9.csv")));
    CHECK(read("predictions.csv") == predictions);
    // Refused before anything is written: a missing image, too few subjects for the folds.
    auto refused = [&](const std::string& table, const std::string& message) {
      std::ofstream(dir.path("refused.csv")) << table;
      const auto [status, output] = mdcsrn("age --subjects " + dir.path("refused.csv") + " --out " + dir.path("refused") + settings, dir);
      CAPTURE(output);
      CHECK(status == 1);
      CHECK(output.find(message) != std::string::npos);
      CHECK(std::count(output.begin(), output.end(), '\n') == 1);
      CHECK(!fs::exists(dir.path("refused")));
    };
    refused("id,age,HR\nsub-01,30,{id}_hr.nii.gz\nsub-99,40,{id}_hr.nii.gz\nsub-02,50,{id}_hr.nii.gz\n",
            "refused.csv: line 3: the HR image of subject sub-99 (" + dir.path("sub-99_hr.nii.gz") + ") does not exist");
    refused("id,age,HR\nsub-01,30,{id}_hr.nii.gz\nsub-02,40,{id}_hr.nii.gz\nsub-03,50,{id}_hr.nii.gz\n",
            "refused.csv: 3 subjects in 2 folds leave 1 to train on beside a held-out fold; at least 2 are needed");
    auto [other, other_output] = mdcsrn(study + " --resume --set train.epochs=3", dir);
    CHECK(other != 0);
    CHECK(other_output.find("config.json: the finished folds were made with other settings") != std::string::npos);
    std::ofstream(dir.path("bad.csv")) << "id,HR\nsub-01,sub-01_hr.nii.gz\n";
    auto [bad, bad_output] = mdcsrn("age --subjects " + dir.path("bad.csv") + " --out " + dir.path("bad") + settings, dir);
    CHECK(bad == 1);
    CHECK(bad_output.find("bad.csv: no 'age' column") != std::string::npos);
    CHECK(std::count(bad_output.begin(), bad_output.end(), '\n') == 1);
  }

  TEST_CASE("train: a folder holding a run is refused unless --resume or --overwrite; refused runs change nothing") {
    TempDir dir("train-folder");
    const std::string manifest = make_phantom_dataset(dir);
    const std::string settings = " --manifest " + manifest + " --quiet --set model.blocks=2 --set model.units=2 --set model.growth=4"
                                 " --set sampler.patch=8 --set sampler.patches_per_epoch=16 --set train.batch=4 --set train.epochs=1"
                                 " --set train.val_patches=4 --set train.device=cpu";
    const std::string run = dir.path("run");
    const auto [first, first_output] = mdcsrn("train --out " + run + settings, dir);
    CAPTURE(first_output);
    REQUIRE(first == 0);
    const std::map<std::string, std::string> trained = snapshot(run);
    REQUIRE(trained.size() == 3);  // checkpoint.safetensors, config.json, log.jsonl

    auto refused = [&](const std::string& arguments, const std::string& message) {
      CAPTURE(arguments);
      const auto [status, output] = mdcsrn(arguments, dir);
      CAPTURE(output);
      CHECK(status == 1);
      CHECK(output.find(message) != std::string::npos);
      CHECK(std::count(output.begin(), output.end(), '\n') == 1);
      CHECK(snapshot(run) == trained);  // the trained run, byte for byte
    };
    refused("train --out " + run + settings, run + ": holds an earlier run (checkpoint.safetensors); --resume " + run +
                                                 "/checkpoint.safetensors continues it, --overwrite starts over");
    refused("train --out " + run + settings + " --set sampler.patch=7",
            "sampler.patch: 7 is odd; the patch size must be even and at least 2, e.g. 32");
    refused("train --out " + run + settings + " --overwrite --resume " + run + "/checkpoint.safetensors",
            "--overwrite: it would remove " + run + "/checkpoint.safetensors, which --resume continues");
    refused("train --out " + run + settings + " --resume " + dir.path("nothing.safetensors"), "nothing.safetensors: cannot open checkpoint");
    refused("train --out " + run + settings + " --set model.growth=6 --resume " + run + "/checkpoint.safetensors", "checkpoint.safetensors");
    // Into a new folder: nothing is created.
    std::ofstream(dir.path("broken.json")) << "{\"dataset\": ";
    refused("train --out " + dir.path("new") + settings + " --manifest " + dir.path("broken.json"), "broken.json");
    refused("train --out " + dir.path("new") + settings + " --set train.batch=0", "train.batch: 0; must be a positive integer, e.g. 64");
    CHECK(!fs::exists(dir.path("new")));

    // --resume of the folder's own checkpoint continues it (one log, config.json rewritten with it).
    const auto [resumed, resumed_output] = mdcsrn("train --out " + run + settings + " --set train.epochs=2 --resume " + run + "/checkpoint.safetensors", dir);
    CAPTURE(resumed_output);
    CHECK(resumed == 0);
    const std::map<std::string, std::string> continued = snapshot(run);
    CHECK(continued.at(run + "/log.jsonl").starts_with(trained.at(run + "/log.jsonl")));
    CHECK(continued.at(run + "/config.json").find("\"epochs\": 2") != std::string::npos);
    // --overwrite starts over: the new log holds the new run alone.
    const auto [over, over_output] = mdcsrn("train --out " + run + settings + " --overwrite --steps 1", dir);
    CAPTURE(over_output);
    CHECK(over == 0);
    const std::string log = snapshot(run).at(run + "/log.jsonl");
    CHECK(log.starts_with("{\"epoch\":1,\"loss\":"));
    CHECK(std::count(log.begin(), log.end(), '\n') == 2);  // step 1's record and the epoch's

    // infer --output over an existing file: a refused run leaves it as it was, a finished one replaces it.
    const std::string sr = dir.path("sr.nii.gz"), lr = dir.path("data/phantom/lr.nii.gz");
    std::ofstream(sr) << "an earlier result";
    const std::map<std::string, std::string> before = snapshot(dir.path("data"));
    for (const auto& [arguments, message] : std::vector<std::pair<std::string, std::string>>{
             {"--checkpoint " + dir.path("nothing.safetensors") + " --input " + lr, "nothing.safetensors: cannot open checkpoint"},
             {"--checkpoint " + run + "/checkpoint.safetensors --input " + dir.path("nothing.nii.gz"), "nothing.nii.gz"},
             {"--checkpoint " + run + "/checkpoint.safetensors --input " + lr + " --margin 16", "margin"}}) {
      const auto [status, output] = mdcsrn("infer " + arguments + " --output " + sr + " --device cpu", dir);
      CAPTURE(output);
      CHECK(status == 1);
      CHECK(output.find(message) != std::string::npos);
      std::ifstream in(sr);
      CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "an earlier result");
    }
    const auto [inferred, inferred_output] = mdcsrn("infer --checkpoint " + run + "/checkpoint.safetensors --input " + lr + " --output " + sr +
                                                    " --device cpu", dir);
    CAPTURE(inferred_output);
    CHECK(inferred == 0);
    CHECK(read_volume(sr).dims == read_volume(lr).dims);
    CHECK(snapshot(dir.path("data")) == before);
    for (const fs::directory_entry& e : fs::directory_iterator(dir.root()))
      CHECK_MESSAGE(!e.path().filename().string().starts_with(".sr.tmp"), e.path());  // no temporary left behind
  }

  // The refusal matrices: for each command, missing, truncated or corrupt inputs, settings out of
  // range and occupied outputs, each refused in one line before anything is written.
  TEST_CASE("refused: prepare") {
    TempDir dir("refused-prepare");
    const std::string manifest = make_phantom_dataset(dir);  // dir/data: an earlier dataset
    const std::string hr = dir.path("phantom_hr.nii.gz"), labels = dir.path("phantom_labels.nii.gz"), out = " --out " + dir.path("new");
    const Volume other_grid = make_phantom(20, 18, 16, 1).labels;
    write_volume(other_grid, dir.path("other_grid.nii.gz"));
    check_refused(dir, "prepare --hr " + dir.path("missing.nii.gz") + " --labels " + labels + out, "missing.nii.gz: no such file");
    check_refused(dir, "prepare --hr " + truncated_volume(dir, read_volume(hr)) + " --labels " + labels + out, "truncated.nii: truncated");
    check_refused(dir, "prepare --hr " + corrupt_volume(dir) + " --labels " + labels + out, "corrupt.nii.gz: not a readable NIfTI file");
    check_refused(dir, "prepare --hr " + hr + " --labels " + dir.path("other_grid.nii.gz") + out, "other_grid.nii.gz");
    check_refused(dir, "prepare --hr " + hr + " --labels " + labels + " --scale 0" + out, "option --scale: must be at least 1");
    check_refused(dir, "prepare --hr " + hr + " --labels " + labels + " --axes 1,5" + out, "option --axes: axes are 0, 1 or 2");
    check_refused(dir, "prepare --hr " + hr + " --labels " + labels + " --window blackman" + out, "blackman");
    check_refused(dir, "prepare --hr " + hr + " --labels " + labels + " --device tpu" + out, "option --device: expected auto, cpu or cuda");
    check_refused(dir, "prepare --hr " + hr + " --labels " + labels + " --out " + dir.path("data"),
                  dir.path("data") + ": holds a prepared dataset (manifest.json); --overwrite prepares it again");
    check_refused(dir, "prepare --hcp " + dir.path("data") + out, "no subject folder with T1w/T1w_acpc_dc_restore_brain.nii.gz");
    // --overwrite prepares the same dataset again, file for file.
    const std::map<std::string, std::string> before = snapshot(dir.path("data"));
    const auto [status, output] = mdcsrn("prepare --hr " + hr + " --labels " + labels + " --id phantom --out " + dir.path("data") + " --overwrite", dir);
    CAPTURE(output);
    CHECK(status == 0);
    CHECK(Manifest::load(manifest).subjects.size() == 1);
    CHECK(snapshot(dir.path("data")).size() >= before.size());
  }

  TEST_CASE("refused: train") {
    TempDir dir("refused-train");
    const std::string manifest = make_phantom_dataset(dir);
    const std::string settings = " --quiet --set model.blocks=2 --set model.units=2 --set model.growth=4 --set sampler.patch=8"
                                 " --set train.batch=4 --set train.epochs=1 --set train.device=cpu --out " + dir.path("run");
    const std::string train = "train --manifest " + manifest + settings;
    std::ofstream(dir.path("truncated.json")) << "{\"version\": 1, \"dataset\": \"phantom\", \"subj";
    check_refused(dir, "train --manifest " + dir.path("missing.json") + settings, "missing.json: cannot open manifest");
    check_refused(dir, "train --manifest " + dir.path("truncated.json") + settings, "truncated.json: malformed manifest");
    // A manifest whose volume is gone.
    fs::create_directories(dir.path("moved"));
    std::ifstream in(manifest);
    std::ofstream(dir.path("moved/manifest.json")) << std::string(std::istreambuf_iterator<char>(in), {});
    check_refused(dir, "train --manifest " + dir.path("moved/manifest.json") + settings, "no such file");
    {
      // Several training subjects, read several at once: the one with a NaN voxel is named.
      Manifest cohort = Manifest::load(make_phantom_cohort(dir, 4, 24, 20, 18));
      for (SubjectEntry& e : cohort.subjects) e.splits = {{"train", Region{}}};
      cohort.save(dir.path("cohort/train_manifest.json"));
      Volume hr = read_volume(dir.path("cohort/sub3/hr.nii.gz"));
      hr.data[30] = std::nanf("");
      write_volume(hr, dir.path("cohort/sub3/hr.nii.gz"));
      check_refused(dir, "train --manifest " + dir.path("cohort/train_manifest.json") + settings,
                    "sub3/hr.nii.gz: voxel (6, 1, 0) is NaN or infinite");
    }
    check_refused(dir, train + " --set sampler.cerebellum_fraction=1.5", "sampler.cerebellum_fraction: 1.5; must be a fraction in [0, 1]");
    check_refused(dir, train + " --set model.growth=0", "model.growth: 0; must be a positive integer, e.g. 16");
    check_refused(dir, train + " --set train.lr=0", "train.lr: 0.0; must be positive, e.g. 0.001");
    check_refused(dir, train + " --set train.val_patches=-1", "train.val_patches: -1; must not be negative (0: no validation)");
    check_refused(dir, train + " --set wgan.enabled=true --set sampler.patch=24",
                  "sampler.patch: 24; the WGAN critic's four stride-2 convolutions need a multiple of 16, e.g. 32");
    check_refused(dir, train + " --set train.optimiser=sgd", "unknown setting 'train.optimiser'");
    check_refused(dir, train + " --config " + dir.path("missing.json"), "missing.json");
  }

  TEST_CASE("refused: infer") {
    TempDir dir("refused-infer");
    const std::string manifest = make_phantom_dataset(dir);
    const auto [trained, trained_output] = mdcsrn("train --manifest " + manifest + " --quiet --set model.blocks=1 --set model.units=1 --set model.growth=4"
                                                  " --set sampler.patch=8 --set sampler.patches_per_epoch=8 --set train.batch=4 --set train.epochs=1"
                                                  " --set train.val_patches=0 --set train.device=cpu --out " + dir.path("run"), dir);
    CAPTURE(trained_output);
    REQUIRE(trained == 0);
    const std::string checkpoint = dir.path("run/checkpoint.safetensors"), lr = dir.path("data/phantom/lr.nii.gz");
    // Earlier results: one volume, and one split's volumes.
    std::ofstream(dir.path("sr.nii.gz")) << "an earlier result";
    fs::create_directories(dir.path("split"));
    std::ofstream(dir.path("split/phantom_sr.nii.gz")) << "an earlier result";
    std::ifstream in(checkpoint, std::ios::binary);
    std::string bytes(std::istreambuf_iterator<char>(in), {});
    std::ofstream(dir.path("truncated.safetensors"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    const std::string single = " --output " + dir.path("sr.nii.gz") + " --device cpu", split = " --out " + dir.path("split") + " --device cpu";
    check_refused(dir, "infer --checkpoint " + dir.path("missing.safetensors") + " --input " + lr + single, "missing.safetensors: cannot open checkpoint");
    check_refused(dir, "infer --checkpoint " + dir.path("truncated.safetensors") + " --input " + lr + single, "truncated.safetensors");
    check_refused(dir, "infer --checkpoint " + checkpoint + " --input " + dir.path("missing.nii.gz") + single, "missing.nii.gz: no such file");
    check_refused(dir, "infer --checkpoint " + checkpoint + " --input " + truncated_volume(dir, read_volume(lr)) + single, "truncated.nii");
    check_refused(dir, "infer --checkpoint " + checkpoint + " --input " + corrupt_volume(dir) + single, "corrupt.nii.gz: not a readable NIfTI file");
    check_refused(dir, "infer --checkpoint " + checkpoint + " --input " + lr + single + " --margin 16",
                  "--margin 16: a tile keeps patch - 2 margin voxels of 32; the margin must be in [0, 15], e.g. 3");
    check_refused(dir, "infer --checkpoint " + checkpoint + " --input " + lr + single + " --stitching gaussian --stride 0",
                  "--stride 0: Gaussian tiles must overlap or touch; the stride must be in [1, 32], e.g. 16");
    check_refused(dir, "infer --checkpoint " + checkpoint + " --input " + lr + single + " --batch 0", "--batch 0: must be a positive integer");
    check_refused(dir, "infer --checkpoint " + checkpoint + " --input " + lr + single + " --precision fp8", "--precision 'fp8': expected auto, bf16, tf32 or fp32");
    check_refused(dir, "infer --checkpoint " + checkpoint + " --input " + lr + single + " --stitching blend", "--stitching 'blend': expected crop or gaussian");
    check_refused(dir, "infer --checkpoint " + checkpoint + " --manifest " + manifest + " --input " + lr + split, "two forms; give one");
    check_refused(dir, "infer --checkpoint " + checkpoint + " --manifest " + manifest + " --split nowhere" + split, "split 'nowhere'");
    // A manifest whose LR volume is truncated: refused before a volume is written.
    fs::copy_file(truncated_volume(dir, read_volume(lr)), dir.path("data/phantom/lr_cut.nii"));
    std::ifstream m(manifest);
    std::string text(std::istreambuf_iterator<char>(m), {});
    text.replace(text.find("lr.nii.gz"), 9, "lr_cut.nii");
    std::ofstream(dir.path("data/cut.json")) << text;
    check_refused(dir, "infer --checkpoint " + checkpoint + " --manifest " + dir.path("data/cut.json") + split, "lr_cut.nii: truncated");
  }

  TEST_CASE("refused: eval") {
    TempDir dir("refused-eval");
    const std::string manifest = make_phantom_dataset(dir);
    const std::string hr = dir.path("data/phantom/hr.nii.gz"), lr = dir.path("data/phantom/lr.nii.gz");
    write_volume(make_phantom(20, 18, 16, 1).hr, dir.path("other_grid.nii.gz"));
    write_volume(read_volume(hr).like(std::vector<float>(size_t(read_volume(hr).voxels()), 0.f)), dir.path("empty_mask.nii.gz"));
    fs::create_directories(dir.path("eval"));
    std::ofstream(dir.path("eval/summary.md")) << "an earlier summary";
    check_refused(dir, "eval --reference " + dir.path("missing.nii.gz") + " --test " + lr, "missing.nii.gz: no such file");
    check_refused(dir, "eval --reference " + hr + " --test " + truncated_volume(dir, read_volume(lr)), "truncated.nii");
    check_refused(dir, "eval --reference " + hr + " --test " + corrupt_volume(dir), "corrupt.nii.gz: not a readable NIfTI file");
    check_refused(dir, "eval --reference " + hr + " --test " + dir.path("other_grid.nii.gz"), "other_grid.nii.gz");
    check_refused(dir, "eval --reference " + hr + " --test " + lr + " --mask " + dir.path("empty_mask.nii.gz"), "empty_mask.nii.gz: the mask is empty");
    check_refused(dir, "eval --reference " + hr + " --test " + lr + " --window box", "option --window: expected uniform or gaussian");
    check_refused(dir, "eval --reference " + hr + " --test " + lr + " --data-range wide", "option --data-range: not a number");
    check_refused(dir, "eval --manifest " + manifest + " --method SR=" + dir.path("{id}_missing.nii.gz") + " --out " + dir.path("eval"),
                  "phantom_missing.nii.gz: no such file");
    check_refused(dir, "eval --manifest " + manifest + " --method " + lr + " --out " + dir.path("eval"), "option --method: expected NAME=PATH");
    check_refused(dir, "eval --manifest " + manifest + " --split nowhere --method LR=" + lr + " --out " + dir.path("eval"), "nowhere");
  }

  TEST_CASE("refused: age") {
    TempDir dir("refused-age");
    std::string table = "id,age,HR\n";
    for (int s = 0; s < 4; ++s) {
      write_volume(make_phantom(24, 20, 18, uint64_t(s)).hr, dir.path("sub" + std::to_string(s) + "_hr.nii.gz"));
      table += "sub" + std::to_string(s) + "," + std::to_string(30 + 10 * s) + ",{id}_hr.nii.gz\n";
    }
    std::ofstream(dir.path("subjects.csv")) << table;
    const std::string settings = " --set grid.size=[24,20,18] --set model.features=4 --set model.growth=2 --set model.bottleneck=2"
                                 " --set model.blocks=[1,1] --set train.folds=2 --set train.epochs=1 --set train.batch=2 --set train.device=cpu --quiet"
                                 " --out " + dir.path("study");
    const std::string age = "age --subjects " + dir.path("subjects.csv") + settings;
    // A subject whose image is corrupt, or truncated: refused by its header before the study starts.
    corrupt_volume(dir);
    std::ofstream(dir.path("corrupt.csv")) << table + "sub9,70," + dir.path("corrupt.nii.gz") + "\n";
    check_refused(dir, "age --subjects " + dir.path("corrupt.csv") + settings, "corrupt.nii.gz: not a readable NIfTI file");
    std::ofstream(dir.path("truncated.csv")) << table + "sub9,70," + truncated_volume(dir, read_volume(dir.path("sub0_hr.nii.gz"))) + "\n";
    check_refused(dir, "age --subjects " + dir.path("truncated.csv") + settings, "truncated.nii: truncated");
    std::ofstream(dir.path("no_age.csv")) << "id,HR\nsub0,{id}_hr.nii.gz\n";
    check_refused(dir, "age --subjects " + dir.path("no_age.csv") + settings, "no_age.csv: no 'age' column");
    check_refused(dir, "age --subjects " + dir.path("missing.csv") + settings, "missing.csv");
    check_refused(dir, age + " --set train.folds=1", "train.folds: 1; cross-validation needs at least 2 folds, e.g. 5");
    check_refused(dir, age + " --set grid.size=[4,4,4]", "grid.size: 4x4x4 voxels are too few for 2 dense blocks");
    check_refused(dir, age + " --set model.blocks=[]", "model.blocks: []; needs at least one dense block");
    check_refused(dir, age + " --set grid.spacing=0", "grid.spacing: 0.0; must be positive (mm), e.g. 2");
    check_refused(dir, age + " --set train.loss=huber", "train.loss: expected l1 or mse, got 'huber'");
    check_refused(dir, age + " --sets HR,SR", "SR");
    check_refused(dir, age + " --resume", "nothing to resume");
  }

  TEST_CASE("refused: demo") {
    TempDir dir("refused-demo");
    const std::string configs = " --configs " MDCSRN_SOURCE_DIR "/configs --out " + dir.path("demo");
    fs::create_directories(dir.path("demo"));
    std::ofstream(dir.path("demo/report.md")) << "an earlier demo's report";
    check_refused(dir, "demo" + configs, dir.path("demo") + ": holds an earlier demo (report.md); --overwrite replaces its results (data/ is kept)");
    check_refused(dir, "demo --device tpu" + configs, "option --device: expected auto, cpu or cuda, got 'tpu'");
    check_refused(dir, "demo --overwrite --set train.batch=0" + configs, "train.batch: 0; must be a positive integer, e.g. 64");
    check_refused(dir, "demo --overwrite --set train.epohcs=2" + configs, "unknown setting 'train.epohcs'");
    check_refused(dir, "demo --overwrite --configs " + dir.path("nowhere") + " --out " + dir.path("demo"), "no such configuration");
  }

  TEST_CASE("bad input: one line naming the problem, non-zero exit") {
    TempDir dir("cli-bad");
    auto [s1, o1] = mdcsrn("prepare --hr " + dir.path("missing.nii.gz") + " --labels x --out " + dir.path("o"), dir);
    CHECK(s1 != 0);
    CHECK(o1.find("missing.nii.gz: no such file") != std::string::npos);
    CHECK(!fs::exists(dir.path("o")));  // a refused input leaves nothing behind
    auto [s2, o2] = mdcsrn("train --manifest m.json --set train.epohcs=3", dir);
    CHECK(s2 != 0);
    CHECK(o2.find("unknown setting 'train.epohcs'") != std::string::npos);
    auto [s2b, o2b] = mdcsrn("train --manifest m.json --set train.epochs=x", dir);
    CHECK(s2b != 0);
    CHECK(o2b.find("train.epochs: expected an integer, got \"x\"") != std::string::npos);
    CHECK(std::count(o2b.begin(), o2b.end(), '\n') == 1);
    auto [s3, o3] = mdcsrn("prepare --preset colin27 --scale", dir);
    CHECK(s3 != 0);
    CHECK(o3.find("option --scale needs a value") != std::string::npos);
    auto [s4, o4] = mdcsrn("frobnicate", dir);
    CHECK(s4 == 2);
    CHECK(o4.find("unknown command 'frobnicate'") != std::string::npos);
    // The instruction-set cap: a level is honoured, an unknown name refused before anything starts.
    const auto [capped, capped_output] = mdcsrn("info", dir);
    CHECK(capped == 0);
    CHECK(capped_output.find("instructions: ") != std::string::npos);
    const auto [baseline, baseline_output] = mdcsrn("info", dir, "MDCSRN_MAX_CPU_ISA=baseline ");
    CHECK(baseline == 0);
    CHECK(baseline_output.find("instructions: baseline (the CPU allows") != std::string::npos);
    const auto [unknown, unknown_output] = mdcsrn("info", dir, "MDCSRN_MAX_CPU_ISA=avx9 ");
    CHECK(unknown == 1);
    CHECK(unknown_output == "mdcsrn info: MDCSRN_MAX_CPU_ISA: 'avx9' is not an instruction set; expected baseline, avx2, avx512_bf16 or amx_bf16\n");
    auto [s5, o5] = mdcsrn("infer --help", dir);
    CHECK(s5 == 0);
    CHECK(o5.find("--stitching") != std::string::npos);
  }
}

}  // namespace
}  // namespace mdcsrn::test
