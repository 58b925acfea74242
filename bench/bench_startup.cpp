// Training start-up benchmark: how long building a split's dataset (reading each subject's NIfTI
// volumes, its patch-centre tables and its fp16 crop) takes with 1, 2, ... CPU threads, and what
// that extrapolates to for a cohort of the paper's size on a node with more cores.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bench/bench_main.h"
#include "cli/args.h"
#include "engine/device.h"
#include "engine/parallel.h"
#include "io/patch_dataset.h"
#include "io/volume.h"

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_startup --manifest PATH [--split train] [--threads 1,2] [--mode balanced]
                     [--patch 32] [--candidate-stride 2] [--subjects N] [--cores 16] [--json FILE]

Times what a training run does before its first step: building the dataset of one split of a
prepared manifest (each subject's volumes and masks read from NIfTI, its admissible patch centres
and its fp16 crop), in host memory, once for each CPU thread count of --threads (the dataset
works on up to that many subjects at once, one a thread). Then each subject is read alone on one
thread, so that reading and the rest can be told apart. Wall clock, one run each (the first build
may read the files from disk, the later ones from the page cache).

The sampler settings are the paper's (--mode, --patch, --candidate-stride as in
configs/paper_balanced.json). The last line extrapolates to --subjects training subjects
(default 800, the paper's) on --cores cores (default 16): subjects x the one-thread seconds a
subject / (threads x the parallel efficiency measured at the largest thread count here, at most
1), at most 16 subjects at once. It is a model, not a measurement: memory bandwidth and the disk
can bound a larger node sooner.
)";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"manifest", "split", "threads", "mode", "patch", "candidate-stride", "subjects", "cores", "json"}, {},
                       "bench_startup");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!args.has("manifest")) throw std::runtime_error("--manifest: required (a prepared dataset's manifest.json)");
  const Manifest manifest = Manifest::load(args.get("manifest"));
  const std::string split = args.get("split", "train"), json_path = args.get("json");
  const std::vector<int> thread_counts = cli::parse_int_list(args.get("threads", "1,2"), "--threads");
  SamplerConfig config;
  config.mode = parse_sampling_mode(args.get("mode", "balanced"));
  config.patch = args.get_int("patch", 32);
  config.candidate_stride = args.get_int("candidate-stride", 2);
  const int cohort = args.get_int("subjects", 800), cores = args.get_int("cores", 16);
  const bool with_weights = config.mode == SamplingMode::Weighted;
  const int64_t subjects = int64_t(manifest.split(split).size());
  if (subjects == 0) throw std::runtime_error(args.get("manifest") + ": no subject in split '" + split + "'");
  std::printf("CPU : %s\nsplit '%s': %lld subjects; sampler %s, patch %d, candidate_stride %d\n\n", describe_device(DeviceKind::Cpu).c_str(),
              split.c_str(), static_cast<long long>(subjects), args.get("mode", "balanced").c_str(), config.patch, config.candidate_stride);

  nlohmann::json rows = nlohmann::json::array();
  double one_thread = 0, efficiency = 1;
  const int default_threads = cpu_threads();
  for (int threads : thread_counts) {
    if (threads < 1) throw std::runtime_error("--threads: " + std::to_string(threads) + "; each must be at least 1");
    set_cpu_threads(threads);
    const auto start = std::chrono::steady_clock::now();
    const PatchDataset dataset = load_split_dataset(manifest, split, config, MemoryKind::Host);
    const double seconds = seconds_since(start);
    const double per_subject = seconds / double(subjects);
    if (threads == 1) one_thread = per_subject;
    if (one_thread > 0) efficiency = std::min(1.0, one_thread / (threads * per_subject));
    std::printf("%-34s %9.1f s  %7.2f s a subject  %.2f subjects/s  (%.0f MiB)\n", ("dataset, " + std::to_string(threads) + " thread(s)").c_str(),
                seconds, per_subject, 1 / per_subject, double(dataset.resident_bytes()) / (1 << 20));
    rows.push_back({{"threads", threads}, {"seconds", seconds}, {"seconds_per_subject", per_subject}, {"resident_mib", double(dataset.resident_bytes()) / (1 << 20)}});
  }
  set_cpu_threads(default_threads);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t n = 0; n < subjects; ++n) load_split_subject(manifest, split, n, with_weights);
  const double read_seconds = seconds_since(start);
  std::printf("%-34s %9.1f s  %7.2f s a subject\n", "reading alone, 1 thread", read_seconds, read_seconds / double(subjects));

  nlohmann::json out{{"cpu", describe_device(DeviceKind::Cpu)}, {"manifest", args.get("manifest")}, {"split", split}, {"subjects", subjects},
                     {"read_seconds_per_subject", read_seconds / double(subjects)}, {"builds", rows}};
  if (one_thread > 0) {
    const int at_once = std::min(cores, kMaxSubjectsAtOnce);
    const double predicted = cohort * one_thread / (at_once * efficiency);
    std::printf("\nextrapolated: %d subjects on %d cores (%d at once, parallel efficiency %.2f as measured at %d threads): %.0f s (%.1f min)\n",
                cohort, cores, at_once, efficiency, thread_counts.back(), predicted, predicted / 60);
    out["extrapolated"] = {{"subjects", cohort}, {"cores", cores}, {"at_once", at_once}, {"efficiency", efficiency}, {"seconds", predicted}};
  }
  if (!json_path.empty()) write_text_atomically(json_path, out.dump(2) + "\n");
  return 0;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_startup", mdcsrn::bench::run, argc, argv); }
