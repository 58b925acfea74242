// The software model of AMX's tiles (kernels/cpu_fused/amx_tiles.h) on which the AMX path is
// tested where the CPU lacks AMX: TDPBF16PS on hand-computed operands, strided loads and stores
// that touch only the configured rows and bytes, and the faults the hardware raises as errors.
#include <cstdint>
#include <vector>

#include "engine/bfloat16.h"
#include "engine/error.h"
#include "kernels/cpu_fused/amx_tiles.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

using cpu_fused::amx::EmulatedTiles;
using cpu_fused::amx::TileShapes;

std::vector<uint16_t> bf16_values(const std::vector<float>& values) {
  std::vector<uint16_t> out;
  for (const float v : values) out.push_back(float_to_bf16(v));
  return out;
}

TEST_SUITE("amx_tiles") {
  TEST_CASE("emulated TDPBF16PS: C[m][n] += A[m][2k] B[k][2n] + A[m][2k + 1] B[k][2n + 1]") {
    // C 2 x 2 fp32, A 2 rows of 2 pairs, B 2 rows (pairs) of 2 columns.
    TileShapes shapes;
    shapes.rows[0] = 2, shapes.bytes[0] = 8;
    shapes.rows[1] = 2, shapes.bytes[1] = 8;
    shapes.rows[2] = 2, shapes.bytes[2] = 8;
    EmulatedTiles::configure(shapes);
    // A's rows 6 values apart (a stride wider than the row), the gaps poisoned.
    const std::vector<uint16_t> a = bf16_values({1, 2, 3, 4, 1e30f, 1e30f, 5, 6, 7, 8});
    const std::vector<uint16_t> b = bf16_values({1, 0, 0, 1, 2, 1, 1, 0});
    const std::vector<float> c0 = {100, 200, 300, 400};
    EmulatedTiles::load<0>(c0.data(), 8);
    EmulatedTiles::load<1>(a.data(), 12);
    EmulatedTiles::load<2>(b.data(), 8);
    EmulatedTiles::dot_bf16<0, 1, 2>();
    // Row 0: 1*1 + 2*0 + 3*2 + 4*1 = 11 and 1*0 + 2*1 + 3*1 + 4*0 = 5; row 1: 27 and 13.
    std::vector<float> c(6, -1.f);
    EmulatedTiles::store<0>(c.data(), 12);
    CHECK(c == std::vector<float>{111, 205, -1, 327, 413, -1});
    EmulatedTiles::zero<0>();
    EmulatedTiles::store<0>(c.data(), 12);
    CHECK(c == std::vector<float>{0, 0, -1, 0, 0, -1});
    EmulatedTiles::release();
  }

  TEST_CASE("emulated tiles refuse what the hardware faults on") {
    EmulatedTiles::release();
    CHECK_THROWS_AS(EmulatedTiles::zero<0>(), Error);
    TileShapes too_wide;
    too_wide.rows[3] = 16, too_wide.bytes[3] = 128;
    CHECK_THROWS_AS(EmulatedTiles::configure(too_wide), Error);
    TileShapes unequal;
    unequal.rows[0] = 4, unequal.bytes[0] = 64;  // C: 4 x 16
    unequal.rows[1] = 4, unequal.bytes[1] = 32;  // A: 4 rows of 8 pairs
    unequal.rows[2] = 16, unequal.bytes[2] = 64;  // B: 16 pairs, not 8
    EmulatedTiles::configure(unequal);
    CHECK_THROWS_AS((EmulatedTiles::dot_bf16<0, 1, 2>()), Error);
    unequal.rows[2] = 8;
    EmulatedTiles::configure(unequal);
    CHECK_NOTHROW((EmulatedTiles::dot_bf16<0, 1, 2>()));
    EmulatedTiles::release();
  }
}

}  // namespace
}  // namespace mdcsrn::test
