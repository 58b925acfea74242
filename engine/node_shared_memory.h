#pragma once
// Host memory that the ranks of one node share: the node's first rank (local rank 0) writes it,
// and every rank of the node reads the very same pages (an MPI-3 shared window), so that what a
// node holds once is not held again by each of its ranks. In a single process (no MPI launcher,
// or a build without MPI) it is plain host memory that the process writes itself.
#include <cstddef>
#include <memory>

#include "engine/communicator.h"

namespace mdcsrn {

class NodeSharedMemory {
 public:
  // Collective over every rank of `world`. Each node's writer decides the size; the others learn
  // it (their `bytes` is ignored).
  NodeSharedMemory(const Communicator& world, size_t bytes);
  ~NodeSharedMemory();  // collective too (every rank of the node frees it together)
  NodeSharedMemory(const NodeSharedMemory&) = delete;
  NodeSharedMemory& operator=(const NodeSharedMemory&) = delete;

  unsigned char* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  bool writer() const { return writer_; }
  bool shared() const;  // whether other ranks read it too
  // The writer's `bytes` of `data` to every rank of the node (collective over the node).
  void broadcast(void* data, size_t bytes) const;
  // Every rank of the node waits here until all have arrived (after the writer has written).
  void barrier() const;

 private:
  struct Mpi;
  std::unique_ptr<Mpi> mpi_;
  unsigned char* data_ = nullptr;
  size_t bytes_ = 0;
  bool writer_ = true;
};

}  // namespace mdcsrn
