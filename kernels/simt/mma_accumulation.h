#pragma once
// How the emulator's mma.sync sums a row of bf16 products into its fp32 accumulator. The PTX ISA
// promises only "at least single precision" in an unspecified order, so three models are offered,
// chosen by the environment variable MDCSRN_EMULATED_MMA (read once):
// - round (the default): the products and the accumulator summed exactly, rounded once to nearest;
// - sm90: Hopper's tensor cores as two independent studies reproduce them bit for bit (Khattak and
//   Mikaitis, "Accurate Models of NVIDIA Tensor Cores", 2025; Xie et al., "MMA-Sim", 2025): the
//   accumulator and all 16 exact products aligned to the largest exponent E among them (a product's
//   exponent being the sum of its factors'), each truncated toward zero to a multiple of 2^(E-25),
//   summed exactly, and the sum truncated toward zero to fp32;
// - pessimistic: the exact sum moved down by more than any documented tensor core errs (17 units of
//   2^(E-25) and two fp32 ulps of the sum) and rounded down, so that errors never cancel along a
//   chain of mmas. A bound that holds under it and under round holds on the hardware.
namespace mdcsrn::simt {

enum class MmaAccumulation { Round, Sm90, Pessimistic };

MmaAccumulation mma_accumulation();
const char* mma_accumulation_name(MmaAccumulation model);

// c + sum_k a[k] * b[k] for k < n (n <= 16), with a and b bf16 values held as floats.
float mma_accumulate(MmaAccumulation model, float c, const float* a, const float* b, int n);

}  // namespace mdcsrn::simt
