#pragma once
// What the CPU benchmarks (bench_cpu_step, bench_cpu_infer) share: the generator their options
// describe, and the refusal of --precision bf16 where the fused CPU kernels cannot run it.
#include <string>

#include "cli/args.h"
#include "engine/cpu_isa.h"
#include "engine/error.h"
#include "kernels/cpu_fused/context.h"
#include "models/generator_fast.h"

namespace mdcsrn::bench {

// --blocks, --units and --growth over the paper's generator; the demo's b2u2 k8 by default.
inline GeneratorConfig cpu_bench_model(const cli::Args& args) {
  GeneratorConfig config = GeneratorConfig::paper();
  config.blocks = args.get_int("blocks", 2);
  config.units = args.get_int("units", 2);
  config.growth = args.get_int("growth", 8);
  return config;
}

// Fails in one line when the fused bf16 CPU kernels do not cover the model or this CPU, or would
// run on emulated AMX tiles, whose time is the emulator's.
inline void require_cpu_fused(const GeneratorLayout& layout) {
  std::string why = fast_path_unsupported(layout);
  if (why.empty()) why = cpu_fused_unsupported();
  if (!why.empty()) fail("--precision bf16: the fused CPU kernels do not cover " + why);
  if (cpu_amx_tiles() == AmxTiles::Emulated) fail("MDCSRN_EMULATE_AMX=1: the AMX tiles are emulated (for tests); a benchmark would time the emulator");
}

}  // namespace mdcsrn::bench
