#include "engine/node_shared_memory.h"

#include <cstdlib>
#include <string>

#include "engine/error.h"
#ifdef MDCSRN_HAVE_MPI
#include <mpi.h>

#include "engine/mpi_check.h"
#endif

namespace mdcsrn {

#ifdef MDCSRN_HAVE_MPI
struct NodeSharedMemory::Mpi {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Win window = MPI_WIN_NULL;
  int ranks = 1;
};
#else
struct NodeSharedMemory::Mpi {};
#endif

NodeSharedMemory::NodeSharedMemory(const Communicator& world, size_t bytes) : bytes_(bytes) {
#ifdef MDCSRN_HAVE_MPI
  if (world.distributed()) {
    mpi_ = std::make_unique<Mpi>();
    mpi_check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank(), MPI_INFO_NULL, &mpi_->node), "MPI_Comm_split_type");
    int local = 0;
    mpi_check(MPI_Comm_rank(mpi_->node, &local), "MPI_Comm_rank");
    mpi_check(MPI_Comm_size(mpi_->node, &mpi_->ranks), "MPI_Comm_size");
    writer_ = local == 0;
    unsigned long long size = bytes;
    mpi_check(MPI_Bcast(&size, 1, MPI_UNSIGNED_LONG_LONG, 0, mpi_->node), "MPI_Bcast");
    bytes_ = size_t(size);
    void* base = nullptr;
    mpi_check(MPI_Win_allocate_shared(MPI_Aint(writer_ ? bytes_ : 0), 1, MPI_INFO_NULL, mpi_->node, &base, &mpi_->window), "MPI_Win_allocate_shared");
    MPI_Aint size_of_writers = 0;
    int unit = 1;
    mpi_check(MPI_Win_shared_query(mpi_->window, 0, &size_of_writers, &unit, &base), "MPI_Win_shared_query");
    data_ = static_cast<unsigned char*>(base);
    return;
  }
#else
  (void)world;
#endif
  if (bytes_ > 0) {
    data_ = static_cast<unsigned char*>(std::malloc(bytes_));
    if (!data_) fail("out of host memory allocating " + std::to_string(bytes_ >> 20) + " MiB");
  }
}

NodeSharedMemory::~NodeSharedMemory() {
#ifdef MDCSRN_HAVE_MPI
  if (mpi_) {
    MPI_Win_free(&mpi_->window);
    MPI_Comm_free(&mpi_->node);
    return;
  }
#endif
  std::free(data_);
}

bool NodeSharedMemory::shared() const {
#ifdef MDCSRN_HAVE_MPI
  return mpi_ && mpi_->ranks > 1;
#else
  return false;
#endif
}

void NodeSharedMemory::broadcast(void* data, size_t bytes) const {
#ifdef MDCSRN_HAVE_MPI
  if (mpi_) {
    MDCSRN_ASSERT(bytes <= size_t(INT32_MAX), "NodeSharedMemory::broadcast: " + std::to_string(bytes) + " bytes");
    mpi_check(MPI_Bcast(data, int(bytes), MPI_BYTE, 0, mpi_->node), "MPI_Bcast");
  }
#else
  (void)data, (void)bytes;
#endif
}

void NodeSharedMemory::barrier() const {
#ifdef MDCSRN_HAVE_MPI
  if (mpi_) mpi_check(MPI_Barrier(mpi_->node), "MPI_Barrier");
#endif
}

}  // namespace mdcsrn
