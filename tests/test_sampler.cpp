#include <algorithm>
#include <set>

#include "engine/parallel.h"
#include "tests/sampler_support.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

struct Draws {
  std::vector<float> lr, hr;
  std::vector<int32_t> centres;
};

Draws draw(const PatchDataset& d, int64_t first, int batch) {
  const int64_t volume = int64_t(d.config().patch) * d.config().patch * d.config().patch;
  Draws out{std::vector<float>(static_cast<size_t>(batch * volume)), std::vector<float>(static_cast<size_t>(batch * volume)),
            std::vector<int32_t>(static_cast<size_t>(batch * kCentreFields))};
  d.sample(first, batch, out.lr.data(), out.hr.data(), out.centres.data(), nullptr);
  return out;
}

SamplerConfig config(SamplingMode mode, int patch = 8) {
  SamplerConfig c;
  c.mode = mode;
  c.patch = patch;
  c.seed = 17;
  return c;
}

TEST_SUITE("sampler") {
  TEST_CASE("shuffle_index is a permutation of [0, n) that changes with the epoch") {
    for (uint64_t n : {1ull, 2ull, 7ull, 1000ull, 4097ull}) {
      std::set<uint64_t> seen;
      for (uint64_t i = 0; i < n; ++i) seen.insert(shuffle_index(i, n, 3, 0));
      CHECK(seen.size() == n);
      CHECK(*seen.rbegin() == n - 1);
    }
    int same = 0;
    for (uint64_t i = 0; i < 1000; ++i) same += shuffle_index(i, 1000, 3, 0) == shuffle_index(i, 1000, 3, 1);
    CHECK(same < 20);
  }

  TEST_CASE("centre runs give back every centre of the list they replace, in order") {
    std::mt19937_64 rng(9);
    for (const int64_t stride : {1, 2, 3}) {
      CAPTURE(stride);
      // Three subjects' increasing lists: runs on the lattice broken by gaps, and a subject whose
      // first centre continues the previous subject's last run (a run must not span them).
      CentreRunTable table;
      std::vector<uint32_t> all;
      uint32_t last = 0;
      for (int subject = 0; subject < 3; ++subject) {
        std::vector<uint32_t> list;
        uint32_t at = subject == 2 ? last + uint32_t(stride) : uint32_t(rng() % 50);
        for (int n = 0; n < 400; ++n) {
          list.push_back(at);
          at += uint32_t(rng() % 5 == 0 ? stride * (2 + rng() % 4) + rng() % 3 : stride);
        }
        last = list.back();
        table.append(list, stride);
        all.insert(all.end(), list.begin(), list.end());
      }
      table.close();
      REQUIRE(table.first.size() == table.start.size() + 1);
      CHECK(table.first.back() == int64_t(all.size()));
      CHECK(table.start.size() < all.size() / 2);  // runs, not a centre each
      const CentreRuns runs{table.start.data(), table.first.data(), int64_t(table.start.size())};
      for (int64_t g = 0; g < int64_t(all.size()); ++g) REQUIRE(centre_at(runs, stride, g) == int64_t(all[size_t(g)]));
      // The third subject starts a run of its own.
      CHECK(std::count(table.first.begin(), table.first.end(), int64_t(800)) == 1);
    }
  }

  TEST_CASE("fp16 storage round-trips and rounds to nearest") {
    for (float x : {0.f, 1.f, -2.5f, 0.1f, 65504.f, 6.1e-5f, 3e-7f}) CHECK(std::fabs(half_to_float(float_to_half(x)) - x) <= std::fabs(x) * 4.9e-4f + 6e-8f);
    CHECK(float_to_half(1.f) == 0x3c00);
    CHECK(float_to_half(1.f + 1.f / 2048) == 0x3c00);  // halfway: to even
    CHECK(float_to_half(1.f + 3.f / 2048) == 0x3c02);
    for (uint32_t h = 0; h < 0x7c00; ++h) REQUIRE(float_to_half(half_to_float(uint16_t(h))) == h);
  }

  TEST_CASE("patches are the stored volumes at the drawn centres, zero outside the volume") {
    const SamplerSubject s = phantom_subject(1);
    const PatchDataset d({s}, config(SamplingMode::Uniform), MemoryKind::Host);
    const Draws b = draw(d, 0, 32);
    const int p = 8;
    for (int n = 0; n < 32; ++n) {
      const int32_t* c = &b.centres[size_t(n * kCentreFields)];
      for (int64_t e = 0; e < p * p * p; ++e) {
        const int64_t i = c[1] - p / 2 + e % p, j = c[2] - p / 2 + e / p % p, k = c[3] - p / 2 + e / (p * p);
        const bool inside = i >= 0 && j >= 0 && k >= 0 && i < s.dims[0] && j < s.dims[1] && k < s.dims[2];
        const size_t v = inside ? size_t(i + s.dims[0] * (j + s.dims[1] * k)) : 0;
        REQUIRE(b.hr[size_t(n * p * p * p + e)] == (inside ? half_to_float(float_to_half(s.hr[v])) : 0.f));
        REQUIRE(b.lr[size_t(n * p * p * p + e)] == (inside ? half_to_float(float_to_half(s.lr[v])) : 0.f));
      }
    }
  }

  TEST_CASE("no training patch touches a held-out voxel, in every mode") {
    for (SamplingMode mode : {SamplingMode::Uniform, SamplingMode::Balanced, SamplingMode::Weighted}) {
      CAPTURE(std::string(sampling_mode_name(mode)));
      const SamplerSubject s = phantom_subject(2);
      const PatchDataset d({s}, config(mode), MemoryKind::Host);
      const Draws b = draw(d, 0, 20000);
      for (int n = 0; n < 20000; ++n) {
        const int32_t i = b.centres[size_t(n * kCentreFields + 1)];
        REQUIRE(std::max(0, i - 4) >= s.region.begin);
        REQUIRE(std::min<int64_t>(s.dims[0], i + 4) <= s.region.end);
      }
    }
  }

  TEST_CASE("balanced: the cerebellum share of each epoch is the configured fraction") {
    for (double fraction : {0.5, 0.3}) {
      CAPTURE(fraction);
      SamplerConfig c = config(SamplingMode::Balanced);
      c.cerebellum_fraction = fraction;
      const SamplerSubject s = phantom_subject(3);
      const PatchDataset d({s}, c, MemoryKind::Host);
      const int64_t total = 40000;
      const Draws b = draw(d, 0, int(total));
      int64_t from_cerebellum = 0;
      for (int64_t n = 0; n < total; ++n) {
        const int32_t* cn = &b.centres[size_t(n * kCentreFields)];
        if (cn[4] == kFromCerebellum) {
          ++from_cerebellum;
          REQUIRE(s.cerebellum[size_t(cn[1] + s.dims[0] * (cn[2] + s.dims[1] * cn[3]))] == 1);
        }
      }
      CHECK(std::fabs(double(from_cerebellum) / double(total) - fraction) < 0.01);
      // Within one epoch the quota is exact: floor or ceil of fraction * epoch size.
      const Draws epoch = draw(d, 3 * d.epoch_size(), int(d.epoch_size()));
      int64_t quota = 0;
      for (int64_t n = 0; n < d.epoch_size(); ++n) quota += epoch.centres[size_t(n * kCentreFields + 4)] == kFromCerebellum;
      CHECK(std::fabs(double(quota) - fraction * double(d.epoch_size())) < 1.0);
    }
  }

  TEST_CASE("uniform: centres fall in the cerebellum as often as cerebellum centres are admissible") {
    const SamplerSubject s = phantom_subject(4);
    const PatchDataset d({s}, config(SamplingMode::Uniform), MemoryKind::Host);
    const int total = 100000;
    const Draws b = draw(d, 0, total);
    int64_t in_cerebellum = 0;
    for (int n = 0; n < total; ++n) {
      const int32_t* cn = &b.centres[size_t(n * kCentreFields)];
      in_cerebellum += s.cerebellum[size_t(cn[1] + s.dims[0] * (cn[2] + s.dims[1] * cn[3]))];
    }
    const double expected = double(d.cerebellum_candidates()) / double(d.brain_candidates());
    CHECK(expected > 0.01);  // the phantom's cerebellum is small, but not absent
    CHECK(std::fabs(double(in_cerebellum) / total - expected) < 0.01);
  }

  TEST_CASE("weighted: centres are drawn in proportion to the weight map") {
    SamplerSubject s = phantom_subject(5);
    for (int64_t v = 0; v < int64_t(s.weight.size()); ++v) s.weight[size_t(v)] = v % s.dims[0] < 12 ? 1.f : 3.f;
    const PatchDataset d({s}, config(SamplingMode::Weighted), MemoryKind::Host);
    // Admissible centres on each side of i = 12.
    int64_t low = 0, high = 0;
    for (int64_t g = 0; g < d.brain_candidates(); ++g) {
      const int64_t local = centre_at(d.view().brain_centres, d.view().stride, g);
      (d.view().crop[0] + local % d.view().crop[3] < 12 ? low : high)++;
    }
    const int total = 100000;
    const Draws b = draw(d, 0, total);
    int64_t drawn_high = 0;
    for (int n = 0; n < total; ++n) drawn_high += b.centres[size_t(n * kCentreFields + 1)] >= 12;
    const double expected = 3.0 * double(high) / (3.0 * double(high) + double(low));
    CHECK(std::fabs(double(drawn_high) / total - expected) < 0.01);
  }

  TEST_CASE("a minimum brain fraction keeps mostly-brain patches only") {
    SamplerConfig c = config(SamplingMode::Uniform);
    c.min_brain_fraction = 0.5;
    const SamplerSubject s = phantom_subject(6);
    const PatchDataset d({s}, c, MemoryKind::Host);
    const Draws b = draw(d, 0, 2000);
    for (int n = 0; n < 2000; ++n) {
      int brain = 0;
      for (int64_t e = 0; e < 512; ++e) brain += b.hr[size_t(n * 512 + e)] != 0.f;
      REQUIRE(brain >= 256);
    }
    const PatchDataset all({s}, config(SamplingMode::Uniform), MemoryKind::Host);
    CHECK(all.brain_candidates() > d.brain_candidates());
  }

  TEST_CASE("the same seed repeats the same batches; another seed does not") {
    const SamplerSubject s = phantom_subject(7);
    const PatchDataset a({s}, config(SamplingMode::Balanced), MemoryKind::Host);
    SamplerConfig other = config(SamplingMode::Balanced);
    other.seed = 18;
    const PatchDataset b({s}, other, MemoryKind::Host);
    const Draws x = draw(a, 100, 16), y = draw(a, 100, 16), z = draw(b, 100, 16);
    CHECK(x.hr == y.hr);
    CHECK(x.centres == y.centres);
    CHECK(x.centres != z.centres);
  }

  TEST_CASE("a CPU dataset keeps its data in host memory and draws the same batches whatever data.residence says") {
    const SamplerSubject s = phantom_subject(7);
    const PatchDataset a({s}, config(SamplingMode::Balanced), MemoryKind::Host, Residence::Device);
    const PatchDataset b({s}, config(SamplingMode::Balanced), MemoryKind::Host, Residence::Host);
    CHECK(a.memory() == MemoryKind::Host);
    CHECK(b.memory() == MemoryKind::Host);
    const Draws x = draw(a, 50, 16), y = draw(b, 50, 16);
    CHECK(x.hr == y.hr);
    CHECK(x.centres == y.centres);
    CHECK_THROWS_WITH_AS(parse_residence("gpu"), doctest::Contains("data.residence: \"gpu\""), Error);
  }

  TEST_CASE("several subjects: every subject is drawn, in proportion to its centres") {
    const PatchDataset d({phantom_subject(8), phantom_subject(9, 40, 40, 40)}, config(SamplingMode::Uniform), MemoryKind::Host);
    const Draws b = draw(d, 0, 20000);
    int64_t second = 0;
    for (int n = 0; n < 20000; ++n) second += b.centres[size_t(n * kCentreFields)] == 1;
    const double expected = double(d.view().brain_prefix[2] - d.view().brain_prefix[1]) / double(d.brain_candidates());
    CHECK(std::fabs(double(second) / 20000 - expected) < 0.015);
  }

  TEST_CASE("subjects taken apart on several threads give the dataset one thread builds, in every mode") {
    const auto subjects = [] {
      std::vector<SamplerSubject> list;
      for (uint64_t n = 0; n < 5; ++n) {
        list.push_back(phantom_subject(20 + n, 36 + 4 * int64_t(n), 40 - 2 * int64_t(n), 32 + 2 * int64_t(n)));
        for (size_t v = 0; v < list.back().weight.size(); ++v) list.back().weight[v] = float(1 + (v + n) % 5);
      }
      return list;
    };
    const int threads = cpu_threads();
    for (SamplingMode mode : {SamplingMode::Uniform, SamplingMode::Balanced, SamplingMode::Weighted}) {
      CAPTURE(int(mode));
      set_cpu_threads(1);
      const PatchDataset one(subjects(), config(mode), MemoryKind::Host);
      set_cpu_threads(3);
      const PatchDataset three(subjects(), config(mode), MemoryKind::Host);
      set_cpu_threads(threads);
      const SamplerView &a = one.view(), &b = three.view();
      CHECK(one.subject_ids() == three.subject_ids());
      CHECK(one.subject_ids()[1] == "phantom21");
      CHECK(a.epoch_size == b.epoch_size);
      CHECK(one.brain_candidates() == three.brain_candidates());
      CHECK(one.cerebellum_candidates() == three.cerebellum_candidates());
      CHECK(std::equal(a.crop, a.crop + 6 * 5, b.crop));
      CHECK(std::equal(a.volume_offset, a.volume_offset + 5, b.volume_offset));
      CHECK(std::equal(a.brain_prefix, a.brain_prefix + 6, b.brain_prefix));
      CHECK(std::equal(a.cerebellum_prefix, a.cerebellum_prefix + 6, b.cerebellum_prefix));
      const Draws x = draw(one, 123, 500), y = draw(three, 123, 500);
      CHECK(x.lr == y.lr);
      CHECK(x.hr == y.hr);
      CHECK(x.centres == y.centres);
    }
  }

  TEST_CASE("bad configurations are refused") {
    SamplerSubject s = phantom_subject(10);
    SamplerConfig c = config(SamplingMode::Balanced);
    std::fill(s.cerebellum.begin(), s.cerebellum.end(), 0);
    CHECK_THROWS_WITH_AS(PatchDataset({s}, c, MemoryKind::Host), doctest::Contains("needs cerebellum centres"), Error);
    s.region = Region{0, 0, 3};
    CHECK_THROWS_WITH_AS(PatchDataset({s}, config(SamplingMode::Uniform), MemoryKind::Host), doctest::Contains("no admissible patch centre"), Error);
    CHECK_THROWS_WITH_AS(parse_sampling_mode("random"), doctest::Contains("unknown sampling mode 'random'"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
