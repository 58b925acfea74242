// What the fast path's kernels do, counted without a GPU, and the time each count implies on an
// H100 and an H200: the rows of bench_fused_kernels (bench/fused_kernel_rows.h) run under the SIMT
// emulator with its counters on (kernels/simt/counters.h) at the paper's step, each launch's count
// taken from an even sample of its blocks. The device's roofline.md (bench_fused_kernels
// --predicted) puts its measured time beside these predictions, row by row.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "bench/bench_main.h"
#include "bench/json_file.h"
#include "bench/fused_kernel_rows.h"
#include "bench/kernel_names.h"
#include "kernels/simt/occupancy.h"
#include "cli/args.h"
#include "io/volume.h"
#include "kernels/simt/launch.h"

namespace mdcsrn::bench {
namespace {

constexpr const char* kHelp = R"(usage: bench_kernel_counts [--batch 64] [--patch 32] [--sample-blocks 8] [--resources FILE]
                           [--json FILE] [--markdown FILE]

Runs each kernel of the fast path's training step (b4u4, growth 16, ELU; the rows of
bench_fused_kernels) at batch x patch^3 (the paper's step by default) under the SIMT emulator
with its counters on. Each launch runs --sample-blocks of its blocks, spread evenly over its grid
(0: all), and its counts are scaled by the grid's blocks over those run: exact for kernels whose
blocks do alike work, an estimate where edge blocks differ. One row per kernel: its launches, the
shared-memory wavefronts of its loads, stores, ldmatrix and cp.async destinations against the
ideal (bank conflicts), the 32-byte global sectors of its 16-byte and cp.async accesses against
the fewest that could hold their bytes, and its mma.sync and barriers per warp.

A second table gives, for one instance of each kernel, the time each bound implies on an H100 SXM
and an H200 (both 132 SMs at 1.98 GHz): mma.sync bf16 at an assumed 2/3 of the dense 989 TFLOP/s;
one shared-memory wavefront a clock an SM; the global sectors that reach L2 (a block's loads of
sectors it has not loaded before, every store and cp.async sector: L1 as holding what its block
read, shared with no other block) at an assumed 7 TB/s (chipsandcheese's H100 PCIe figure scaled
to the SXM's SMs and clock); the bytes the kernel must move at least, from HBM at 3.35 and 4.8 TB/s. Each launch takes the
largest of its mma, shared and L2 bounds times its SMs' imbalance (the busiest SM's blocks,
ceil(blocks / 132), over the average), and at least 2 us (an assumed launch floor); a kernel takes
the sum over its launches or its HBM bound, whichever is larger. Waves (blocks over resident
blocks a SM x 132) are shown, not used: how occupancy hides latency is for a device to measure.
Resident blocks come from the launch's threads and shared memory and, given --resources
(scripts/kernel_report.py --json FILE), the sm_90 build's registers.

Plain (non-vector) global loads and stores, and issue slots, are not seen by the emulator.
Predictions, not times: a device measures them (bench_fused_kernels --predicted FILE reads
--json's file and prints measured beside predicted).
)";

// The bounds' rates (see kHelp).
constexpr double kSms = 132, kClockHz = 1.98e9, kMmaFlop = 2.0 * 16 * 8 * 16, kMmaRate = 989e12 * 2 / 3, kL2Rate = 7e12;
constexpr double kHbmH100 = 3.35e12, kHbmH200 = 4.8e12, kLaunchFloorUs = 2;

const char* kSharedNames[] = {"ld", "st", "ldmatrix", "cp.async"};

// A launch's count over the blocks run, scaled to its whole grid.
double whole_grid(const simt::LaunchCounts& c, int64_t count) { return double(count) * double(c.grid_blocks) / double(std::max<uint64_t>(1, c.blocks)); }

std::string ratio(const simt::Wavefronts& w) {
  if (w.ideal == 0) return "-";
  char text[48];
  std::snprintf(text, sizeof text, "%.2f", double(w.actual) / double(w.ideal));
  return text;
}

// Kernel name -> registers of the sm_90 build, from scripts/kernel_report.py --json.
std::map<std::string, int> read_registers(const std::string& path) {
  const nlohmann::json doc = read_json_file(path, "resource report");
  if (!doc.contains("kernels") || !doc.at("kernels").is_object()) fail(path + ": no \"kernels\" object (scripts/kernel_report.py --json)");
  std::map<std::string, int> registers;
  for (const auto& [name, k] : doc.at("kernels").items()) registers[name] = k.at("registers").get<int>();
  return registers;
}

struct Counted {
  std::vector<FusedKernelRow> rows;
  std::vector<std::vector<simt::LaunchCounts>> launches;  // per row, in launch order
};

Counted count_rows(const GeneratorLayout& L, const VolumeShape& shape, int sample_blocks) {
  simt::Emulator emu;
  FusedKernelOperands<simt::Emulator> operands(L, shape);
  Counted c{fused_kernel_rows(emu, L, shape, operands), {}};
  emu.count_launches(true);
  emu.sample_blocks(sample_blocks);
  for (const FusedKernelRow& row : c.rows) {
    emu.clear_launch_counts();
    row.run();
    c.launches.push_back(emu.launch_counts());
  }
  return c;
}

}  // namespace

int run(int argc, char** argv) {
  const cli::Args args(argc, argv, 1, {"batch", "patch", "sample-blocks", "resources", "json", "markdown"}, {}, "bench_kernel_counts");
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const int batch = args.get_int("batch", 64), patch = args.get_int("patch", 32), sample_blocks = args.get_int("sample-blocks", 8);
  if (batch < 1 || patch < 8 || sample_blocks < 0) fail("--batch must be >= 1, --patch >= 8 and --sample-blocks >= 0");
  const std::map<std::string, int> registers = args.has("resources") ? read_registers(args.get("resources")) : std::map<std::string, int>{};
  const GeneratorLayout layout(GeneratorConfig::paper());
  const Counted counted = count_rows(layout, VolumeShape{batch, patch, patch, patch}, sample_blocks);

  std::vector<const void*> kernels;
  for (const auto& row : counted.launches)
    for (const simt::LaunchCounts& c : row) kernels.push_back(c.kernel);
  const std::map<const void*, std::string> names = kernel_names(kernels);

  std::string counts_table = "| kernel | launches | shared wavefronts / ideal: ld | st | ldmatrix | cp.async | conflicts | global sectors / ideal | mma / warp | barriers / warp |\n"
                             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  std::string bounds_table = "| kernel | per step | blocks (waves) | mma.sync | shared | L2 | HBM least: H100 | H200 | predicted: H100 | H200 | binds (H100) |\n"
                             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  nlohmann::json rows = nlohmann::json::array();
  double step_us[2] = {};
  for (size_t r = 0; r < counted.rows.size(); ++r) {
    const FusedKernelRow& row = counted.rows[r];
    const std::vector<simt::LaunchCounts>& launches = counted.launches[r];
    // The ratios and per-warp figures over the blocks run; conflicts over the whole grids.
    simt::LaunchCounts sum;
    double conflicts = 0;
    for (const simt::LaunchCounts& c : launches) {
      sum.merge(c);
      for (const simt::SharedCounts& k : c.shared) conflicts += whole_grid(c, k.wavefronts.conflicts());
    }
    sum.block_threads = launches.empty() ? 0 : launches.front().block_threads;
    int64_t warps = 0, sectors = 0, ideal_sectors = 0;
    for (const simt::LaunchCounts& c : launches) warps += int64_t(c.blocks) * int64_t((c.block_threads + 31) / 32);
    for (const simt::GlobalCounts& g : sum.global) sectors += g.sectors.actual, ideal_sectors += g.sectors.ideal;
    char global_text[48] = "-", line[512];
    if (ideal_sectors > 0) std::snprintf(global_text, sizeof global_text, "%.2f", double(sectors) / double(ideal_sectors));
    std::snprintf(line, sizeof line, "| %s | %zu | %s | %s | %s | %s | %.0f | %s | %.1f | %.1f |\n", row.kernel.c_str(), launches.size(),
                  ratio(sum.shared[0].wavefronts).c_str(), ratio(sum.shared[1].wavefronts).c_str(), ratio(sum.shared[2].wavefronts).c_str(),
                  ratio(sum.shared[3].wavefronts).c_str(), conflicts, global_text, double(sum.mma) / double(std::max<int64_t>(1, warps)),
                  double(sum.barriers) / double(std::max<int64_t>(1, warps)));
    counts_table += line;

    nlohmann::json launch_rows = nlohmann::json::array();
    double launch_us = 0, bounds_us[3] = {}, blocks_total = 0, worst_waves = 0;
    for (const simt::LaunchCounts& c : launches) {
      int64_t wavefronts = 0, seen = 0, to_l2 = 0;
      for (const simt::SharedCounts& k : c.shared) wavefronts += k.wavefronts.actual;
      for (const simt::GlobalCounts& g : c.global) seen += g.sectors.actual, to_l2 += g.sectors.l2;
      const std::string& name = names.count(c.kernel) ? names.at(c.kernel) : c.site;
      const auto regs = registers.find(name);
      const simt::Occupancy occupancy = simt::sm90_occupancy(regs == registers.end() ? 0 : regs->second, c.shared_bytes, int(c.block_threads));
      const double waves = double(c.grid_blocks) / (std::max(1, occupancy.blocks_per_sm) * kSms);
      // The busiest SM's blocks over the average SM's (throughput-bound blocks share their SM).
      const double imbalance = std::ceil(double(c.grid_blocks) / kSms) * kSms / double(std::max<uint64_t>(1, c.grid_blocks));
      const double mma_us = whole_grid(c, c.mma) * kMmaFlop / kMmaRate * 1e6, shared_us = whole_grid(c, wavefronts) / (kSms * kClockHz) * 1e6,
                   l2_us = whole_grid(c, to_l2) * 32 / kL2Rate * 1e6;
      launch_us += std::max(kLaunchFloorUs, imbalance * std::max({mma_us, shared_us, l2_us}));
      bounds_us[0] += mma_us, bounds_us[1] += shared_us, bounds_us[2] += l2_us;
      blocks_total += double(c.grid_blocks);
      worst_waves = std::max(worst_waves, waves);
      launch_rows.push_back({{"kernel", name}, {"site", c.site}, {"blocks", c.grid_blocks}, {"blocks_run", c.blocks}, {"block_threads", c.block_threads},
                             {"shared_bytes", c.shared_bytes}, {"registers", regs == registers.end() ? nlohmann::json() : nlohmann::json(regs->second)},
                             {"resident_blocks_per_sm", occupancy.blocks_per_sm}, {"occupancy_limited_by", occupancy.limited_by}, {"waves", waves}, {"sm_imbalance", imbalance},
                             {"mma", whole_grid(c, c.mma)}, {"shared_wavefronts", whole_grid(c, wavefronts)}, {"global_sectors", whole_grid(c, seen)}, {"l2_sectors", whole_grid(c, to_l2)},
                             {"bounds_us", {{"mma", mma_us}, {"shared", shared_us}, {"l2", l2_us}}}});
    }
    const double hbm_us[2] = {row.bytes / kHbmH100 * 1e6, row.bytes / kHbmH200 * 1e6};
    double predicted_us[2];
    for (int d = 0; d < 2; ++d) {
      predicted_us[d] = std::max(launch_us, hbm_us[d]);
      step_us[d] += row.per_step * predicted_us[d];
    }
    const char* binds = hbm_us[0] >= launch_us ? "HBM"
                        : launch_us <= kLaunchFloorUs * double(launches.size()) + 1e-9 ? "launch floor"
                        : bounds_us[0] >= bounds_us[1] && bounds_us[0] >= bounds_us[2] ? "tensor"
                        : bounds_us[1] >= bounds_us[2] ? "shared"
                                                       : "L2";
    std::snprintf(line, sizeof line, "| %s | %d | %.0f (%.2f) | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s |\n", row.kernel.c_str(),
                  row.per_step, blocks_total, worst_waves, bounds_us[0], bounds_us[1], bounds_us[2], hbm_us[0], hbm_us[1], predicted_us[0],
                  predicted_us[1], binds);
    bounds_table += line;
    nlohmann::json shared;
    for (int k = 0; k < 4; ++k)
      shared[kSharedNames[k]] = {{"requests", sum.shared[k].requests}, {"wavefronts", sum.shared[k].wavefronts.actual},
                                 {"ideal", sum.shared[k].wavefronts.ideal}};
    rows.push_back({{"kernel", row.kernel}, {"per_step", row.per_step},
                    {"counted_in_blocks_run", {{"shared", shared}, {"global_sectors", sectors}, {"global_sectors_ideal", ideal_sectors},
                                               {"mma", sum.mma}, {"barriers", sum.barriers}, {"warps", warps}}},
                    {"bank_conflicts", conflicts}, {"launches", launch_rows}, {"least_bytes", row.bytes},
                    {"bounds_us", {{"mma", bounds_us[0]}, {"shared", bounds_us[1]}, {"l2", bounds_us[2]}, {"hbm_h100", hbm_us[0]}, {"hbm_h200", hbm_us[1]}}},
                    {"predicted_us", {{"h100", predicted_us[0]}, {"h200", predicted_us[1]}}}, {"binds_h100", binds}});
  }
  char line[512];
  std::snprintf(line, sizeof line, "| **one step's kernels** | | | | | | | | %.0f | %.0f | |\n", step_us[0], step_us[1]);
  bounds_table += line;
  std::snprintf(line, sizeof line, "Counted under the SIMT emulator at batch %d of %d^3 (b4u4 fast path; %s)%s:\n\n", batch, patch,
                sample_blocks > 0 ? ("each launch's counts from " + std::to_string(sample_blocks) + " of its blocks, scaled to its grid").c_str() : "every block",
                registers.empty() ? "" : "; registers from the sm_90 resource report");
  std::string report = line + counts_table;
  std::snprintf(line, sizeof line, "\nPredicted for one instance, microseconds (figures that a device has not measured)%s:\n\n",
                registers.empty() ? "; resident blocks from threads and shared memory only" : "");
  report += line + bounds_table;
  std::fputs(report.c_str(), stdout);
  if (args.has("markdown")) write_text_atomically(args.get("markdown"), report);
  if (args.has("json")) {
    const nlohmann::json doc{{"batch", batch}, {"patch", patch}, {"sample_blocks", sample_blocks}, {"model", layout.config().describe()},
                             {"registers_known", !registers.empty()},
                             {"assumed", {{"sms", kSms}, {"clock_hz", kClockHz}, {"mma_flops", kMmaRate}, {"l2_bytes_per_s", kL2Rate},
                                          {"hbm_bytes_per_s", {{"h100", kHbmH100}, {"h200", kHbmH200}}}, {"launch_floor_us", kLaunchFloorUs}}},
                             {"kernels", rows}, {"step_predicted_ms", {{"h100", step_us[0] / 1e3}, {"h200", step_us[1] / 1e3}}}};
    write_text_atomically(args.get("json"), doc.dump(2) + "\n");
  }
  return 0;
}

}  // namespace mdcsrn::bench

int main(int argc, char** argv) { return mdcsrn::bench::guarded_main("bench_kernel_counts", mdcsrn::bench::run, argc, argv); }
