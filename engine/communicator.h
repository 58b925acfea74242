#pragma once
// The processes of a data-parallel run. Launched by mpirun or srun, each is one rank of MPI's world
// (MPI bootstraps them and carries the host-memory collectives); otherwise, or in a build without
// MPI, there is one process and every collective is the identity. Rank r drives its node-local
// GPU, local_rank(). An error on one rank ends every rank (abort), so that none is left waiting
// in a collective.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/collectives.h"

namespace mdcsrn {

class Communicator : public Collectives {
 public:
  // Joins MPI's world when this process was started by an MPI launcher and the build has MPI.
  static void init(int& argc, char**& argv);
  static void finalize();
  static const Communicator& world();

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  MemoryKind memory() const override { return MemoryKind::Host; }
  // Whether this is MPI's world (the process was started by an MPI launcher), even of one rank.
  bool distributed() const { return mpi_; }
  int local_rank() const { return local_rank_; }  // among the ranks on this node
  bool leader() const { return rank_ == 0; }      // writes the checkpoints, the log and the progress

  // In place, over host memory, the same result on every rank.
  void allreduce_sum(float* data, int64_t count) const override;
  void allreduce_sum(double* data, int64_t count) const;
  void allgather(const void* mine, size_t bytes, void* all) const override;
  // root's `data` (bytes) into every rank's.
  void broadcast(void* data, size_t bytes, int root) const;
  void barrier() const;
  // Every rank stops: this rank's one-line message on stderr, the launcher's exit status non-zero.
  [[noreturn]] void abort(const std::string& message) const;

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  bool mpi_ = false;
};

}  // namespace mdcsrn
