// What the fast path's kernels do, counted without a GPU: one training step of the b4u4 generator
// (fast forward, L1 loss, fast backward, Adam) run under the SIMT emulator with its counters on
// (kernels/simt/counters.h), each launch site's counts summed over its launches: shared-memory
// wavefronts against the ideal (bank conflicts) by access kind, global sectors against the ideal
// for the accesses the emulator sees, and mma.sync and barriers per warp.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "bench/bench_main.h"
#include "cli/args.h"
#include "io/volume.h"
#include "kernels/simt/launch.h"
#include "models/generator_fast.h"

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_kernel_counts [--batch 1] [--patch 16] [--predict-batch 64] [--predict-patch 32] [--json FILE]

Runs one training step of the fast path (b4u4, growth 16, ELU) at batch x patch^3 under the SIMT
emulator with its counters on, and prints one row per kernel launch site: launches, blocks, the
shared-memory wavefronts of its loads, stores, ldmatrix and cp.async destinations against the
ideal (bank conflicts), the 32-byte global sectors of its 16-byte and cp.async accesses against
the fewest that could hold their bytes, and its mma.sync instructions and barriers per warp.
Counts are exact for these shapes; they grow with the voxels, and the ratios are the code's.
Plain (non-vector) global loads and stores are not seen by the emulator.

A second table predicts each site at --predict-batch x --predict-patch^3 (the paper's step by
default), its counts scaled by the voxels: the time each bound implies on an H100 SXM and an H200
(132 SMs at 1.98 GHz; one shared-memory wavefront a clock an SM; the global sectors seen, as if
every one came from HBM at 3.35 and 4.8 TB/s: an upper bound, since halos and repeated reads hit
L1 and L2; mma.sync bf16 taken at 2/3 of the dense 989 TFLOP/s, an assumption until a device
measures it) and which binds. Partial tiles at a small patch inflate the counts against 32^3;
kernels over weights (Adam, the partial sums) do not grow with the voxels and are overstated.
Predictions, not times: the device's roofline.md measures them.
)";

// The bounds' rates (see kHelp).
constexpr double kSms = 132, kClockHz = 1.98e9, kMmaFlop = 2.0 * 16 * 8 * 16, kMmaRate = 989e12 * 2 / 3;
constexpr double kHbmH100 = 3.35e12, kHbmH200 = 4.8e12;

const char* kSharedNames[] = {"ld", "st", "ldmatrix", "cp.async"};

std::string short_site(const std::string& site) {
  const size_t kernels = site.rfind("kernels/");
  return kernels == std::string::npos ? site : site.substr(kernels + 8);
}

std::string ratio(const simt::Wavefronts& w) {
  if (w.ideal == 0) return "-";
  char text[48];
  std::snprintf(text, sizeof text, "%.2f", double(w.actual) / double(w.ideal));
  return text;
}

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"batch", "patch", "predict-batch", "predict-patch", "json"}, {}, "bench_kernel_counts");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const int batch = args.get_int("batch", 1), patch = args.get_int("patch", 16);
  const int predict_batch = args.get_int("predict-batch", 64), predict_patch = args.get_int("predict-patch", 32);
  const double scale = double(predict_batch) * predict_patch * predict_patch * predict_patch / (double(batch) * patch * patch * patch);
  const GeneratorLayout layout(GeneratorConfig::paper());
  const Shape5 shape{batch, 1, patch, patch, patch};
  simt::Emulator emu;
  using Backend = GpuBackendOn<simt::Emulator>;
  const Backend be{&emu};
  std::vector<float> params = initial_generator_parameters(layout, 0);
  const int64_t count = int64_t(params.size());
  std::vector<float> grads(params.size()), m(params.size(), 0.f), v(params.size(), 0.f), loss(1);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  std::vector<float> x(size_t(shape.numel())), target(x.size()), out(x.size()), dout(x.size());
  for (float& value : x) value = uniform(rng);
  for (float& value : target) value = uniform(rng);
  Generator<Backend> reference(layout, be, shape);
  FastGenerator<simt::Emulator> fast(layout, emu, shape);
  emu.count_launches(true);
  fast.forward(params.data(), Tensor<const float>(x.data(), shape), Tensor<float>(out.data(), shape), NormMode::Train, reference);
  be.loss_forward_backward(LossKind::L1, Tensor<const float>(out.data(), shape), Tensor<const float>(target.data(), shape), 1.f, loss.data(),
                           Tensor<float>(dout.data(), shape), GradMode::Overwrite);
  fast.backward(params.data(), grads.data(), Tensor<const float>(x.data(), shape), Tensor<const float>(dout.data(), shape));
  fast.update(adam_step(AdamConfig{}, 1), params.data(), grads.data(), m.data(), v.data(), count);

  std::map<std::string, std::pair<int, simt::LaunchCounts>> sites;  // by launch site, in first-launch order below
  std::vector<std::string> order;
  for (const simt::LaunchCounts& c : emu.launch_counts()) {
    auto [it, fresh] = sites.try_emplace(c.site, 0, c);
    if (fresh) {
      order.push_back(c.site);
      it->second.first = 1;
      continue;
    }
    ++it->second.first;
    it->second.second.merge(c);
  }
  std::printf("fast b4u4 step, batch %d of %d^3, under the SIMT emulator: %zu launches at %zu sites\n\n", batch, patch,
              emu.launch_counts().size(), order.size());
  std::printf("| launch site | launches | blocks | threads | shared wavefronts / ideal: ld | st | ldmatrix | cp.async | conflicts | global sectors / ideal | mma / warp | barriers / warp |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  nlohmann::json rows = nlohmann::json::array();
  for (const std::string& site : order) {
    const auto& [launches, c] = sites.at(site);
    const int64_t warps = int64_t(c.blocks) * int64_t((c.block_threads + 31) / 32);
    int64_t conflicts = 0;
    nlohmann::json shared;
    for (int k = 0; k < 4; ++k) {
      conflicts += c.shared[k].wavefronts.conflicts();
      shared[kSharedNames[k]] = {{"requests", c.shared[k].requests}, {"wavefronts", c.shared[k].wavefronts.actual},
                                 {"ideal", c.shared[k].wavefronts.ideal}};
    }
    int64_t sectors = 0, ideal_sectors = 0;
    for (const simt::GlobalCounts& g : c.global) sectors += g.sectors.actual, ideal_sectors += g.sectors.ideal;
    char global_text[48] = "-";
    if (ideal_sectors > 0) std::snprintf(global_text, sizeof global_text, "%.2f", double(sectors) / double(ideal_sectors));
    std::printf("| %s | %d | %llu | %llu | %s | %s | %s | %s | %lld | %s | %.1f | %.1f |\n", short_site(site).c_str(), launches,
                (unsigned long long)c.blocks, (unsigned long long)c.block_threads, ratio(c.shared[0].wavefronts).c_str(),
                ratio(c.shared[1].wavefronts).c_str(), ratio(c.shared[2].wavefronts).c_str(), ratio(c.shared[3].wavefronts).c_str(),
                (long long)conflicts, global_text, double(c.mma) / double(warps), double(c.barriers) / double(warps));
    rows.push_back({{"site", site}, {"launches", launches}, {"blocks", c.blocks}, {"block_threads", c.block_threads},
                    {"shared_bytes", c.shared_bytes}, {"shared", shared}, {"bank_conflicts", conflicts},
                    {"global_sectors", sectors}, {"global_sectors_ideal", ideal_sectors}, {"mma", c.mma}, {"barriers", c.barriers},
                    {"warps", warps}});
  }
  std::printf("\nPredicted at batch %d of %d^3 (counts x %.0f), microseconds each bound implies, H100 SXM / H200:\n\n", predict_batch,
              predict_patch, scale);
  std::printf("| launch site | mma.sync | shared wavefronts | sectors seen, all from HBM: H100 | H200 | binds (H100) |\n| --- | --- | --- | --- | --- | --- |\n");
  double totals[4] = {};
  for (size_t i = 0; i < order.size(); ++i) {
    const simt::LaunchCounts& c = sites.at(order[i]).second;
    int64_t wavefronts = 0, sectors = 0;
    for (const simt::SharedCounts& k : c.shared) wavefronts += k.wavefronts.actual;
    for (const simt::GlobalCounts& g : c.global) sectors += g.sectors.actual;
    const double bounds[4] = {double(c.mma) * kMmaFlop * scale / kMmaRate * 1e6, double(wavefronts) * scale / (kSms * kClockHz) * 1e6,
                              double(sectors) * 32 * scale / kHbmH100 * 1e6, double(sectors) * 32 * scale / kHbmH200 * 1e6};
    for (int b = 0; b < 4; ++b) totals[b] += bounds[b];
    const char* binds = bounds[0] >= bounds[1] && bounds[0] >= bounds[2] ? "tensor" : bounds[1] >= bounds[2] ? "shared" : "HBM";
    if (bounds[0] + bounds[1] + bounds[2] == 0) binds = "-";
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %s |\n", short_site(order[i]).c_str(), bounds[0], bounds[1], bounds[2], bounds[3], binds);
    rows[i]["predicted_us"] = {{"mma", bounds[0]}, {"shared", bounds[1]}, {"hbm_h100", bounds[2]}, {"hbm_h200", bounds[3]}, {"binds_h100", binds}};
  }
  std::printf("| every site, one step | %.1f | %.1f | %.1f | %.1f | |\n", totals[0], totals[1], totals[2], totals[3]);
  if (args.has("json")) {
    const std::string path = args.get("json");
    const nlohmann::json doc{{"batch", batch},           {"patch", patch}, {"predict_batch", predict_batch}, {"predict_patch", predict_patch},
                             {"model", layout.config().describe()}, {"sites", rows}};
    write_text_atomically(path, doc.dump(2) + "\n");
  }
  return 0;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_kernel_counts", mdcsrn::bench::run, argc, argv); }
