#include <cstdlib>

#include "engine/arena.h"
#include "engine/cpu_isa.h"
#include "engine/error.h"
#include "engine/memory.h"
#include "engine/workspace.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

TEST_SUITE("engine") {
  TEST_CASE("instruction sets: names, order, and the cap never raises what the CPU allows") {
    for (const CpuIsa isa : {CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512Bf16, CpuIsa::AmxBf16}) CHECK(parse_cpu_isa(cpu_isa_name(isa)) == isa);
    CHECK(cpu_isa_name(CpuIsa::Avx512Bf16) == "avx512_bf16");
    CHECK(!parse_cpu_isa("avx512"));
    CHECK(CpuIsa::Baseline < CpuIsa::Avx2);
    CHECK(CpuIsa::Avx512Bf16 < CpuIsa::AmxBf16);
    CHECK((cpu_isa() <= cpu_isa_detected() || cpu_amx_tiles() == AmxTiles::Emulated));
    CHECK((cpu_amx_tiles() == AmxTiles::None) == (cpu_isa() < CpuIsa::AmxBf16));
    MESSAGE("this CPU allows " << cpu_isa_name(cpu_isa_detected()) << "; the kernels use " << cpu_isa_name(cpu_isa()));
  }

  TEST_CASE("a channel slice is a strided view into the same storage") {
    HostTensor<float> wide = HostTensor<float>::dense({2, 6, 3, 4, 5});
    for (size_t i = 0; i < wide.storage.size(); ++i) wide.storage[i] = float(i);
    const Tensor<float> slice = wide.view.channels(2, 3);
    CHECK(slice.shape == Shape5{2, 3, 3, 4, 5});
    CHECK(slice.stride == wide.view.stride);
    CHECK(slice.spatially_dense());
    CHECK_FALSE(slice.contiguous());
    CHECK(wide.view.contiguous());
    CHECK(&slice.at(1, 0, 2, 3, 4) == &wide.view.at(1, 2, 2, 3, 4));
    slice.at(0, 1, 0, 0, 0) = -1.f;
    CHECK(wide.view.at(0, 3, 0, 0, 0) == -1.f);
  }

  TEST_CASE("the arena lays parameters, gradients and Adam moments out identically") {
    ParamTable table;
    const int conv = table.add("conv0.weight", {32, 1, 3, 3, 3});
    const int bn = table.add("blocks.0.units.0.bn.weight", {32});
    CHECK(table.parameter_count() == 32 * 27 + 32);
    CHECK(table.entry(bn).offset % ParamTable::kAlignment == 0);
    CHECK(table.entry(bn).offset >= table.entry(conv).numel);
    CHECK(table.find("blocks.0.units.0.bn.weight") == bn);
    CHECK(table.find("missing") == -1);
    CHECK_THROWS_WITH_AS(table.add("conv0.weight", {1}), doctest::Contains("registered twice"), Error);

    Arena arena(table, MemoryKind::Host);
    const int64_t section = arena.size();
    CHECK(arena.grads() - arena.params() == section);
    CHECK(arena.adam_m() - arena.grads() == section);
    CHECK(arena.adam_v() - arena.adam_m() == section);
    CHECK(arena.grad(bn) - arena.param(bn) == section);
    for (int64_t i = 0; i < 4 * section; ++i) REQUIRE(arena.params()[i] == 0.f);
  }

  TEST_CASE("the workspace hands out aligned, disjoint pieces and reports exhaustion") {
    Workspace ws(MemoryKind::Host, 4096);
    float* a = ws.take<float>(10);
    float* b = ws.take<float>(10);
    CHECK(reinterpret_cast<uintptr_t>(a) % Workspace::kAlignment == 0);
    CHECK(reinterpret_cast<uintptr_t>(b) % Workspace::kAlignment == 0);
    CHECK(b >= a + 10);
    CHECK_THROWS_WITH_AS(ws.take<float>(2000), doctest::Contains("workspace exhausted"), Error);
    ws.reset();
    CHECK(ws.take<float>(10) == a);
    CHECK(ws.high_water() >= 256 + 40);
  }

  TEST_CASE("host buffers round-trip; device buffers need a device") {
    Buffer<int> host(MemoryKind::Host, 5);
    host.upload(std::vector<int>{1, 2, 3, 4, 5});
    CHECK(host.download() == std::vector<int>{1, 2, 3, 4, 5});
    host.zero();
    CHECK(host.download() == std::vector<int>(5, 0));
#ifndef MDCSRN_HAVE_CUDA
    CHECK_THROWS_WITH_AS(Buffer<int>(MemoryKind::Device, 5), doctest::Contains("no CUDA backend"), Error);
#endif
  }

  TEST_CASE("host buffers align as device ones; large ones start on a page, so that they can be pinned in place") {
    for (int n = 0; n < 4; ++n) {
      const Buffer<unsigned char> small(MemoryKind::Host, 1000 + n), large(MemoryKind::Host, (int64_t(1) << 20) + n);
      CHECK(reinterpret_cast<uintptr_t>(small.data()) % 256 == 0);
      CHECK(reinterpret_cast<uintptr_t>(large.data()) % 4096 == 0);
    }
    CHECK_THROWS_WITH_AS(Buffer<int>(MemoryKind::Pinned, 5), doctest::Contains("pinned in place"), Error);
  }
}

}  // namespace
}  // namespace mdcsrn::test
