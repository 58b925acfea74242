#pragma once
// Weights laid out for VDPBF16PS (kernels/cpu_fused/microkernel_avx512_bf16.h): two consecutive
// rows of the reduction's index in one 32-bit word per column, the first in the low half.
#include <cstdint>
#include <vector>

#include "engine/bfloat16.h"

namespace mdcsrn::cpu_fused {

// bf16 [rows][columns] (rows even) as [rows / 2][columns] pairs.
inline std::vector<uint32_t> row_pairs(const uint16_t* w, int64_t rows, int64_t columns) {
  std::vector<uint32_t> out(size_t(rows / 2 * columns));
  for (int64_t q = 0; q < rows / 2; ++q)
    for (int64_t c = 0; c < columns; ++c)
      out[size_t(q * columns + c)] = uint32_t(w[2 * q * columns + c]) | uint32_t(w[(2 * q + 1) * columns + c]) << 16;
  return out;
}

// fp32 [rows][columns] holding bf16 values, likewise.
inline std::vector<uint32_t> row_pairs(const float* w, int64_t rows, int64_t columns) {
  std::vector<uint16_t> bf16(size_t(rows * columns));
  for (size_t i = 0; i < bf16.size(); ++i) bf16[i] = float_to_bf16(w[i]);
  return row_pairs(bf16.data(), rows, columns);
}

}  // namespace mdcsrn::cpu_fused
