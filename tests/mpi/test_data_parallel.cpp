// Data-parallel training and inference over the ranks that mpirun starts (tests/CMakeLists.txt:
// -np 2), against one process doing the same work alone: every rank also runs the single-process
// reference itself (a Communicator of its own), so nothing waits in a collective meanwhile.
#include <cstring>

#include "io/manifest.h"
#include "io/patch_dataset.h"
#include "io/volume.h"
#include "kernels/cpu_fused/context.h"
#include "models/checkpoint.h"
#include "models/critic.h"
#include "models/generator.h"
#include "models/split_inference.h"
#include "models/trainer.h"
#include "tests/io_support.h"
#include "tests/mpi/data_parallel_support.h"

namespace mdcsrn::test {
namespace {

// Rank 0's value of a path, on every rank (the ranks share a file system here).
std::string rank0s(const Communicator& comm, const std::string& mine) {
  constexpr size_t kLength = 1024;
  REQUIRE(mine.size() < kLength);
  std::vector<char> local(kLength, 0), all(kLength * size_t(comm.size()));
  std::memcpy(local.data(), mine.data(), mine.size());
  comm.allgather(local.data(), kLength, all.data());
  return std::string(all.data());
}

nlohmann::json run_config(const std::string& manifest, const std::string& out, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> settings{"data.manifest=\"" + manifest + "\"", "output.dir=\"" + out + "\"", "model.blocks=2", "model.units=2",
                                    "model.growth=4", "sampler.patch=8", "sampler.mode=balanced", "sampler.patches_per_epoch=32",
                                    "train.batch=8", "train.epochs=2", "train.val_patches=16", "train.log_every=1", "train.device=cpu",
                                    "train.lr_halve_every=1"};
  settings.insert(settings.end(), extra.begin(), extra.end());
  return merge_train_config("", settings);
}

TrainSummary train(const nlohmann::json& config, const Communicator& comm, int64_t stop = -1, const std::string& resume = "") {
  TrainOptions o;
  o.progress = false;
  o.stop_after_steps = stop;
  o.resume = resume;
  return train_generator(parse_train_config(config), config, o, comm);
}

// Two runs agree (check_same_state). The ranks sum their weight gradients in another order than
// one process does (float additions of two halves of the batch), a few ulps per step, which
// Adam's normalisation carries into the weights; measured after 8 steps: at most 7.5e-8 (Adam's
// first moment), 3e-8 on the weights, 1e-7 on the running statistics. Bound: 1e-6.
void check_same_run(const GeneratorState& a, const GeneratorState& b) { check_same_state(a, b, 1e-6); }

// A phantom dataset that rank 0 prepares in its folder, which every rank then reads, and this
// rank's own folder for what it writes alone.
struct SharedDataset {
  TempDir own;
  std::string shared, manifest;
  SharedDataset(const Communicator& world, const std::string& name, int64_t ni = 48, int64_t nj = 40, int64_t nk = 36)
      : own(name), shared(rank0s(world, own.root().string())), manifest(shared + "/data/manifest.json") {
    if (world.leader()) make_phantom_dataset(own, ni, nj, nk);
    world.barrier();
  }
};

TEST_SUITE("mpi_data_parallel") {
  TEST_CASE("2 ranks x batch 4 train the model 1 process x batch 8 trains") {
    const Communicator& world = Communicator::world();
    const Communicator alone;
    const SharedDataset data(world, "dp_train");
    const TempDir& own = data.own;
    const std::string &shared = data.shared, &manifest = data.manifest;
    const nlohmann::json spread = run_config(manifest, shared + "/spread"), single = run_config(manifest, own.path("single"));
    const TrainSummary s = train(spread, world);
    const TrainSummary r = train(single, alone);
    CHECK(s.steps == 8);
    CHECK(s.steps_per_epoch == r.steps_per_epoch);
    REQUIRE(s.losses.size() == r.losses.size());
    for (size_t i = 0; i < s.losses.size(); ++i) CHECK(s.losses[i] == doctest::Approx(r.losses[i]).epsilon(1e-4));
    REQUIRE(s.val_psnr.size() == 2);
    CHECK(s.val_psnr.back() == doctest::Approx(r.val_psnr.back()).epsilon(1e-4));
    world.barrier();  // rank 0's checkpoint is written
    const GeneratorLayout layout(parse_train_config(single).model);
    const GeneratorState x = load_checkpoint(shared + "/spread/checkpoint.safetensors", layout);
    check_same_run(x, load_checkpoint(own.path("single/checkpoint.safetensors"), layout));
    // The training moved the weights, and not only by a rounding.
    CHECK(relative_gap(x.params, initial_generator_parameters(layout, 0)) > 1e-3);
    world.barrier();  // every rank has read rank 0's files before they go
  }

  TEST_CASE("the node's ranks read the training data from one shared host copy, and draw the batches one process draws") {
    const Communicator& world = Communicator::world();
    const Communicator alone;
    const SharedDataset data(world, "dp_shared");
    const Manifest m = Manifest::load(data.manifest);
    SamplerConfig sc;
    sc.patch = 8;
    sc.mode = SamplingMode::Balanced;
    {
      const PatchDataset shared = load_split_dataset(m, "train", sc, MemoryKind::Host, Residence::Device, &world);
      const PatchDataset own = load_split_dataset(m, "train", sc, MemoryKind::Host, Residence::Device, &alone);
      CHECK(shared.node_shared() == (world.size() > 1));  // mpirun's ranks here are on one machine
      CHECK_FALSE(own.node_shared());
      CHECK(shared.subject_ids() == own.subject_ids());
      CHECK(shared.epoch_size() == own.epoch_size());
      CHECK(shared.brain_candidates() == own.brain_candidates());
      CHECK(shared.cerebellum_candidates() == own.cerebellum_candidates());
      CHECK(shared.resident_bytes() == own.resident_bytes());
      const int batch = 16, voxels = sc.patch * sc.patch * sc.patch;
      std::vector<float> lr_a(size_t(batch * voxels)), hr_a(lr_a.size()), lr_b(lr_a.size(), -1.f), hr_b(lr_a.size(), -1.f);
      std::vector<int32_t> centres_a(size_t(batch * kCentreFields)), centres_b(centres_a.size(), -1);
      for (const int64_t first : {int64_t(0), int64_t(1000)}) {
        shared.sample(first, batch, lr_a.data(), hr_a.data(), centres_a.data(), nullptr);
        own.sample(first, batch, lr_b.data(), hr_b.data(), centres_b.data(), nullptr);
        CHECK(lr_a == lr_b);
        CHECK(hr_a == hr_b);
        CHECK(centres_a == centres_b);
      }
    }
    world.barrier();  // every rank has read rank 0's files before they go
  }

  // Its own suite, which ctest runs with --requires=cpu_fused (skipped where the kernels cannot run).
  TEST_CASE("bf16 on the fused CPU kernels: 2 ranks x batch 4 train the model 1 process x batch 8 trains" *
            doctest::test_suite("mpi_data_parallel_cpu_fused")) {
    // The fused kernels' batch statistics and BatchNorm backward sums gathered from every rank.
    REQUIRE_MESSAGE(cpu_fused_unsupported().empty(), "the fused CPU kernels cannot run on " << cpu_fused_unsupported());
    const Communicator& world = Communicator::world();
    const Communicator alone;
    const SharedDataset data(world, "dp_fused");
    const std::vector<std::string> fused{"model.growth=16", "train.precision=\"bf16\""};
    const nlohmann::json spread = run_config(data.manifest, data.shared + "/spread", fused),
                         single = run_config(data.manifest, data.own.path("single"), fused);
    CHECK(train(spread, world, 2).steps == 2);
    train(single, alone, 2);
    world.barrier();  // rank 0's checkpoint is written
    const GeneratorLayout layout(parse_train_config(single).model);
    const GeneratorState x = load_checkpoint(data.shared + "/spread/checkpoint.safetensors", layout);
    // The ranks merge their planes' moments rank by rank, one process in one pass: a statistic an
    // ulp apart can round a bf16 feature the other way. Measured: see the message. Bound 1e-5.
    check_same_state(x, load_checkpoint(data.own.path("single/checkpoint.safetensors"), layout), 1e-5);
    CHECK(relative_gap(x.params, initial_generator_parameters(layout, 0)) > 1e-4);
    world.barrier();  // every rank has read rank 0's files before they go
  }

  TEST_CASE("a checkpoint of 2 ranks resumes on 1 and continues the uninterrupted run") {
    const Communicator& world = Communicator::world();
    const Communicator alone;
    const SharedDataset data(world, "dp_resume");
    const TempDir& own = data.own;
    const std::string &shared = data.shared, &manifest = data.manifest;
    train(run_config(manifest, shared + "/straight"), world);
    train(run_config(manifest, shared + "/first"), world, 5);  // mid-epoch (4 steps an epoch)
    world.barrier();
    const nlohmann::json rest = run_config(manifest, own.path("rest"));
    CHECK(train(rest, alone, -1, shared + "/first/checkpoint.safetensors").steps == 8);
    const GeneratorLayout layout(parse_train_config(rest).model);
    check_same_run(load_checkpoint(shared + "/straight/checkpoint.safetensors", layout), load_checkpoint(own.path("rest/checkpoint.safetensors"), layout));
    world.barrier();
  }

  TEST_CASE("mDCSRN-WGAN: 2 ranks train both networks as 1 process, clipped, spectrally normalised or penalised") {
    const Communicator& world = Communicator::world();
    const Communicator alone;
    const SharedDataset data(world, "dp_wgan", 64, 56, 48);  // room for the critic's 16^3 patches
    const TempDir& own = data.own;
    const std::string &shared = data.shared, &manifest = data.manifest;
    for (const std::string lipschitz : {"clip", "spectral", "gp"}) {
      CAPTURE(lipschitz);
      const std::vector<std::string> wgan{"sampler.patch=16", "wgan.enabled=true", "wgan.pretrain_epochs=0", "wgan.n_critic=2",
                                          "wgan.critic_widths=[2,3,4,4]", "wgan.critic_hidden=6", "wgan.lipschitz=\"" + lipschitz + "\""};
      const std::string spread = shared + "/spread_" + lipschitz, single = own.path("single_" + lipschitz);
      const TrainSummary s = train(run_config(manifest, spread, wgan), world);
      const TrainSummary r = train(run_config(manifest, single, wgan), alone);
      REQUIRE(s.critic_losses.size() == r.critic_losses.size());
      for (size_t i = 0; i < s.critic_losses.size(); ++i)
        CHECK(s.critic_losses[i] == doctest::Approx(r.critic_losses[i]).epsilon(1e-3).scale(1e-3));
      world.barrier();
      const TrainConfig c = parse_train_config(run_config(manifest, single, wgan));
      const GeneratorLayout layout(c.model);
      check_same_run(load_checkpoint(spread + "/checkpoint.safetensors", layout), load_checkpoint(single + "/checkpoint.safetensors", layout));
      const CriticLayout critic(c.wgan.critic);
      const std::optional<CriticState> a = load_critic(spread + "/checkpoint.safetensors", critic),
                                       b = load_critic(single + "/checkpoint.safetensors", critic);
      REQUIRE((a && b));
      const double params = relative_gap(a->params, b->params), v = relative_gap(a->adam_v, b->adam_v);
      // Clipped at +-0.01, a rounding weighs more in the critic's weights (measured 1.5e-6).
      // Spectrally normalised, the gap is one element's (measured 4.3e-4 after the first step, the
      // same after 8): fc1.bias[4], whose gradient is 0 in exact arithmetic (its unit's slope is
      // the same for SR and HR), came out -7.5e-10 in one run and 0 in the other, and Adam's first
      // step, g / (|g| + eps) of the learning rate, turns that rounding into a step. Penalised,
      // measured 3.6e-7 (Adam v 6.6e-6).
      MESSAGE("critic: relative gaps: weights " << params << ", Adam v " << v);
      CHECK(params < (lipschitz == "spectral" ? 1e-3 : 1e-5));
      CHECK(v < 1e-5);
      // Every rank iterates the same vectors on the same weights.
      REQUIRE(a->spectral.size() == b->spectral.size());
      CHECK(a->spectral.empty() == (lipschitz != "spectral"));
      if (!a->spectral.empty()) {
        MESSAGE("spectral vectors: relative gap " << relative_gap(a->spectral, b->spectral));  // measured 1.5e-5
        CHECK(relative_gap(a->spectral, b->spectral) < 1e-4);
      }
      world.barrier();
    }
  }

  TEST_CASE("a global batch that does not split over the ranks is refused") {
    const Communicator& world = Communicator::world();
    if (world.size() == 1) return;
    TempDir own("dp_split");
    CHECK_THROWS_WITH_AS(train(run_config(own.path("missing.json"), own.path("out"), {"train.batch=" + std::to_string(2 * world.size() + 1)}), world),
                         doctest::Contains("does not split evenly over"), Error);
  }

  TEST_CASE("inference over a manifest's split: 2 ranks write the volumes 1 process writes") {
    const Communicator& world = Communicator::world();
    const Communicator alone;
    TempDir own("dp_infer");
    const std::string shared = rank0s(world, own.root().string());
    if (world.leader()) make_phantom_cohort(own, 3);  // an odd count: the ranks' shares differ
    world.barrier();
    const Manifest manifest = Manifest::load(shared + "/cohort/manifest.json");
    GeneratorConfig model;
    model.blocks = 2, model.units = 2, model.growth = 4;
    GeneratorState state;
    state.params = initial_generator_parameters(GeneratorLayout(model), 5);
    state.running.assign(size_t(2 * GeneratorLayout(model).bn_channels()), 0.5f);
    InferenceOptions o;
    o.patch = 8, o.batch = 4;
    const std::vector<std::string> mine = super_resolve_split(manifest, "test", model, state, o, shared + "/sr", nullptr, world, false);
    CHECK(mine.size() == size_t(world.size() == 1 ? 3 : world.rank() == 0 ? 2 : 1));
    const std::vector<std::string> all = super_resolve_split(manifest, "test", model, state, o, own.path("sr"), nullptr, alone, false);
    REQUIRE(all.size() == 3);
    for (const SubjectEntry& e : manifest.subjects) {
      CAPTURE(e.id);
      const Volume a = read_volume(split_output_path(shared + "/sr", e.id)), b = read_volume(split_output_path(own.path("sr"), e.id));
      CHECK(a.dims == b.dims);
      CHECK(a.data == b.data);
      CHECK(a.dims == read_volume(manifest.resolve(e.lr)).dims);
    }
    world.barrier();
  }
}

}  // namespace
}  // namespace mdcsrn::test
