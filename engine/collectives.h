#pragma once
// Sums and gathers over the ranks of a data-parallel run, on buffers in one kind of memory: MPI's
// over host memory (engine/communicator.h: CPU ranks, and the SIMT emulator's "device"), NCCL's
// over GPU memory on a context's stream (engine/nccl_collectives.h). Models take this interface,
// so one training step serves both.
#include <cstddef>
#include <cstdint>

#include "engine/memory.h"

namespace mdcsrn {

class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Where the buffers these collectives take live.
  virtual MemoryKind memory() const = 0;
  // In place; the same bits on every rank.
  virtual void allreduce_sum(float* data, int64_t count) const = 0;
  // all[r * bytes ...] = rank r's `mine` (bytes each), on every rank.
  virtual void allgather(const void* mine, size_t bytes, void* all) const = 0;
};

}  // namespace mdcsrn
