// The GPU backend's data-parallel step under the SIMT emulator, over the ranks that mpirun starts:
// BatchNorm's GPU kernels gathering every rank's partials (kernels/batchnorm.cu) and the gradient
// all-reduce, through the same collectives interface NCCL serves on a device (here MPI's, the
// emulator's memory being the host's), against one process doing the whole batch.
#include <algorithm>

#include "io/manifest.h"
#include "io/patch_dataset.h"
#include "models/generator_step.h"
#include "tests/io_support.h"
#include "tests/mpi/data_parallel_support.h"

namespace mdcsrn::test {
namespace {

// Steps of the emulated GPU backend's generator step (on the fast path: fast); with comm, as one
// rank of it.
GeneratorState run_steps(const PatchDataset& data, const GeneratorLayout& layout, int batch, int steps, const Communicator* comm, bool fast) {
  simt::Emulator emu;
  GeneratorStep<EmulatedGpuBackend> step(layout, EmulatedGpuBackend{&emu}, nullptr, batch, data.config().patch, LossKind::L1);
  if (fast) step.enable_fast_path(emu);
  const std::vector<float> initial = initial_generator_parameters(layout, 3);
  Arena& a = step.arena();
  std::copy(initial.begin(), initial.end(), a.params());
  std::fill_n(a.adam_m(), a.size(), 0.f);
  std::fill_n(a.adam_v(), a.size(), 0.f);
  if (comm) step.spread_over(*comm, *comm);
  for (int s = 0; s < steps; ++s) step.run(data, s, AdamConfig{});
  GeneratorState out;
  out.params.assign(a.params(), a.params() + a.size());
  out.adam_m.assign(a.adam_m(), a.adam_m() + a.size());
  out.adam_v.assign(a.adam_v(), a.adam_v() + a.size());
  const float* running = step.generator().running_stats();
  out.running.assign(running, running + 2 * layout.bn_channels());
  out.step = steps;
  return out;
}

TEST_SUITE("mpi_emu_data_parallel") {
  TEST_CASE("the emulated GPU step: 2 ranks x batch 4 train the model 1 process x batch 8 trains") {
    // Each rank builds the same small dataset itself (its own folder: the same volumes, bit for bit).
    const Communicator& world = Communicator::world();
    REQUIRE(8 % world.size() == 0);
    TempDir dir("emu_dp");
    SamplerConfig sampler;
    sampler.patch = 8;
    const PatchDataset data(load_split(Manifest::load(make_phantom_dataset(dir)), "train", false), sampler, MemoryKind::Host);
    const GeneratorLayout layout(GeneratorConfig{2, 2, 4, {Activation::Elu, 0.f}});
    const GeneratorState spread = run_steps(data, layout, 8 / world.size(), 3, &world, false);
    const GeneratorState single = run_steps(data, layout, 8, 3, nullptr, false);
    // As on the CPU ranks (test_data_parallel.cpp): the ranks add their halves' weight gradients,
    // another order of float additions; measured after 3 steps: see the message. Bound 1e-6.
    check_same_state(spread, single, 1e-6);
    CHECK(relative_gap(spread.params, initial_generator_parameters(layout, 3)) > 1e-4);
  }

  TEST_CASE("the emulated fast path: a step of 2 ranks x 1 sample is the step of 1 process x 2") {
    // The fused kernels' tile partials gathered from every rank (statistics of conv0, the
    // compressors and the units; the units' backward sums), on the fast path's bf16 features.
    // One step of two 16^3 samples: ~40 s of emulated tensor-core kernels on two busy cores.
    const Communicator& world = Communicator::world();
    REQUIRE(2 % world.size() == 0);
    TempDir dir("emu_dp_fast");
    SamplerConfig sampler;
    sampler.patch = 16;
    const PatchDataset data(load_split(Manifest::load(make_phantom_dataset(dir, 64, 56, 48)), "train", false), sampler, MemoryKind::Host);
    const GeneratorLayout layout(GeneratorConfig{2, 2, 16, {Activation::Elu, 0.f}});
    const GeneratorState spread = run_steps(data, layout, 2 / world.size(), 1, &world, true);
    const GeneratorState single = run_steps(data, layout, 2, 1, nullptr, true);
    // Measured: see the message. Bound 1e-5: a statistic an ulp apart could round a bf16 feature
    // the other way.
    check_same_state(spread, single, 1e-5);
    CHECK(relative_gap(spread.params, initial_generator_parameters(layout, 3)) > 1e-4);
  }
}

}  // namespace
}  // namespace mdcsrn::test
