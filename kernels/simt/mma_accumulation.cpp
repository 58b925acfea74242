#include "kernels/simt/mma_accumulation.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <limits>
#include <string>

#include "engine/error.h"

namespace mdcsrn::simt {
namespace {

constexpr int kFractionBits = 25;  // Hopper's alignment keeps 25 bits below the leading exponent

// The exponent e of a non-zero x = m 2^e with 1 <= |m| < 2: read off a normal float's bits (the
// emulated mma calls this for every product), ilogb for subnormals.
int exponent_of(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const int field = int((bits >> 23) & 0xffu);
  return field != 0 ? field - 127 : std::ilogb(x);
}

float toward_zero(double s) {
  float f = float(s);
  if (std::fabs(double(f)) > std::fabs(s)) f = std::nextafter(f, 0.f);
  return f;
}

float downward(double s) {
  float f = float(s);
  if (double(f) > s) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}

MmaAccumulation from_environment() {
  const char* value = std::getenv("MDCSRN_EMULATED_MMA");
  const std::string v = value ? value : "round";
  if (v == "round") return MmaAccumulation::Round;
  if (v == "sm90") return MmaAccumulation::Sm90;
  if (v == "pessimistic") return MmaAccumulation::Pessimistic;
  fail("MDCSRN_EMULATED_MMA: expected round, sm90 or pessimistic, got \"" + v + "\"");
}

}  // namespace

MmaAccumulation mma_accumulation() {
  static const MmaAccumulation model = from_environment();
  return model;
}

const char* mma_accumulation_name(MmaAccumulation model) {
  switch (model) {
    case MmaAccumulation::Round: return "round";
    case MmaAccumulation::Sm90: return "sm90";
    case MmaAccumulation::Pessimistic: return "pessimistic";
  }
  return "?";
}

float mma_accumulate(MmaAccumulation model, float c, const float* a, const float* b, int n) {
  // Products of bf16 values (8 significant bits) are exact in double, and so are their sums once
  // aligned below; the round model's plain double sum errs far below fp32's resolution.
  double exact = c;
  for (int k = 0; k < n; ++k) exact += double(a[k]) * double(b[k]);
  if (model == MmaAccumulation::Round) return float(exact);
  int top = c != 0 ? exponent_of(c) : std::numeric_limits<int>::min();
  for (int k = 0; k < n; ++k)
    if (a[k] != 0 && b[k] != 0) top = std::max(top, exponent_of(a[k]) + exponent_of(b[k]));
  if (top == std::numeric_limits<int>::min()) return float(exact);
  const double quantum = std::ldexp(1.0, top - kFractionBits);
  if (model == MmaAccumulation::Pessimistic) {
    const float nearest = float(exact);
    const double ulp = std::fabs(double(std::nextafter(nearest, std::numeric_limits<float>::infinity())) - double(nearest));
    return downward(exact - (n + 1) * quantum - 2 * ulp);
  }
  double sum = std::trunc(double(c) / quantum) * quantum;
  for (int k = 0; k < n; ++k) sum += std::trunc(double(a[k]) * double(b[k]) / quantum) * quantum;
  return toward_zero(sum);
}

}  // namespace mdcsrn::simt
