#include "engine/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/error.h"
#ifdef MDCSRN_HAVE_MPI
#include <mpi.h>

#include "engine/mpi_check.h"
#endif

namespace mdcsrn {
namespace {

Communicator& the_world() {
  static Communicator world;
  return world;
}

#ifdef MDCSRN_HAVE_MPI
// Whether an MPI launcher (Open MPI's mpirun, a PMI or PMIx launcher such as srun) started us: a
// process started by hand stays a single process and never initialises MPI.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(name)) return true;
  return false;
}
#endif

}  // namespace

void Communicator::init(int& argc, char**& argv) {
#ifdef MDCSRN_HAVE_MPI
  if (!launched_by_mpi()) return;
  int provided = 0;
  mpi_check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  Communicator& w = the_world();
  w.mpi_ = true;
  mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &w.rank_), "MPI_Comm_rank");
  mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &w.size_), "MPI_Comm_size");
  MPI_Comm node;
  mpi_check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w.rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  mpi_check(MPI_Comm_rank(node, &w.local_rank_), "MPI_Comm_rank");
  MPI_Comm_free(&node);
#else
  (void)argc, (void)argv;
  // N copies of a process without MPI would each train alone into the same outputs.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* size = std::getenv(name);
    if (size && std::atoi(size) > 1) {
      std::fprintf(stderr, "started as one of %s processes by an MPI launcher, but this build has no MPI (see MDCSRN_MPI)\n", size);
      std::exit(1);
    }
  }
#endif
}

void Communicator::finalize() {
#ifdef MDCSRN_HAVE_MPI
  if (the_world().mpi_) MPI_Finalize();
#endif
}

const Communicator& Communicator::world() { return the_world(); }

void Communicator::allreduce_sum(float* data, int64_t count) const {
#ifdef MDCSRN_HAVE_MPI
  MDCSRN_ASSERT(count <= INT32_MAX, "allreduce_sum: " + std::to_string(count) + " elements");
  if (mpi_) mpi_check(MPI_Allreduce(MPI_IN_PLACE, data, int(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
#else
  (void)data, (void)count;
#endif
}

void Communicator::allreduce_sum(double* data, int64_t count) const {
#ifdef MDCSRN_HAVE_MPI
  MDCSRN_ASSERT(count <= INT32_MAX, "allreduce_sum: " + std::to_string(count) + " elements");
  if (mpi_) mpi_check(MPI_Allreduce(MPI_IN_PLACE, data, int(count), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
#else
  (void)data, (void)count;
#endif
}

void Communicator::allgather(const void* mine, size_t bytes, void* all) const {
#ifdef MDCSRN_HAVE_MPI
  if (mpi_) {
    MDCSRN_ASSERT(bytes <= size_t(INT32_MAX), "allgather: " + std::to_string(bytes) + " bytes");
    mpi_check(MPI_Allgather(mine, int(bytes), MPI_BYTE, all, int(bytes), MPI_BYTE, MPI_COMM_WORLD), "MPI_Allgather");
    return;
  }
#endif
  if (all != mine) std::memcpy(all, mine, bytes);
}

void Communicator::broadcast(void* data, size_t bytes, int root) const {
#ifdef MDCSRN_HAVE_MPI
  if (mpi_) {
    MDCSRN_ASSERT(bytes <= size_t(INT32_MAX), "broadcast: " + std::to_string(bytes) + " bytes");
    mpi_check(MPI_Bcast(data, int(bytes), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
#else
  (void)data, (void)bytes, (void)root;
#endif
}

void Communicator::barrier() const {
#ifdef MDCSRN_HAVE_MPI
  if (mpi_) mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void Communicator::abort(const std::string& message) const {
  if (size_ > 1)
    std::fprintf(stderr, "rank %d of %d: %s\n", rank_, size_, message.c_str());
  else
    std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
#ifdef MDCSRN_HAVE_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, 1);
#endif
  std::exit(1);
}

}  // namespace mdcsrn
