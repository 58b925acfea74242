#pragma once
// NCCL's collectives over the GPUs of a data-parallel run, on a CudaContext's stream (queued, no
// host synchronisation, so they can sit inside the step's stream of work). MPI bootstraps them:
// rank 0 creates NCCL's unique id and broadcasts it over the host communicator. One process
// without MPI makes a one-rank NCCL communicator (for tests and single-GPU runs of this path).
#include <nccl.h>

#include "engine/collectives.h"
#include "engine/communicator.h"
#include "engine/cuda_context.h"

namespace mdcsrn {

class NcclCollectives : public Collectives {
 public:
  // Collective over every rank of host (each calls it, with its own GPU's context).
  NcclCollectives(const Communicator& host, CudaContext& ctx);
  ~NcclCollectives() override;
  NcclCollectives(const NcclCollectives&) = delete;
  NcclCollectives& operator=(const NcclCollectives&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  MemoryKind memory() const override { return MemoryKind::Device; }
  void allreduce_sum(float* data, int64_t count) const override;
  void allgather(const void* mine, size_t bytes, void* all) const override;

 private:
  CudaContext& ctx_;
  ncclComm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1;
};

}  // namespace mdcsrn
