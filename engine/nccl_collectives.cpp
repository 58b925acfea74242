#include "engine/nccl_collectives.h"

#include <string>

#include "engine/error.h"

namespace mdcsrn {
namespace {

void check(ncclResult_t result, const char* call) {
  if (result == ncclSuccess) return;
  fail(std::string(call) + ": " + ncclGetErrorString(result));
}

}  // namespace

NcclCollectives::NcclCollectives(const Communicator& host, CudaContext& ctx) : ctx_(ctx), rank_(host.rank()), size_(host.size()) {
  ncclUniqueId id{};
  if (host.leader()) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  host.broadcast(&id, sizeof id, 0);
  check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
}

NcclCollectives::~NcclCollectives() {
  if (comm_) ncclCommDestroy(comm_);
}

void NcclCollectives::allreduce_sum(float* data, int64_t count) const {
  check(ncclAllReduce(data, data, size_t(count), ncclFloat32, ncclSum, comm_, ctx_.stream()), "ncclAllReduce");
}

void NcclCollectives::allgather(const void* mine, size_t bytes, void* all) const {
  check(ncclAllGather(mine, all, bytes, ncclUint8, comm_, ctx_.stream()), "ncclAllGather");
}

}  // namespace mdcsrn
