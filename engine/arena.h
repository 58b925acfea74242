#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/memory.h"

namespace mdcsrn {

// The size table of a network: one entry per parameter tensor, in registration order, with its
// PyTorch-style name, its shape and its offset in the arena.
struct ParamEntry {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0;
  int64_t numel = 0;
};

class ParamTable {
 public:
  // Offsets are rounded up to this many floats (128 bytes) so every tensor starts aligned for
  // vector loads; the padding is zero and stays zero under Adam.
  static constexpr int64_t kAlignment = 32;

  int add(const std::string& name, std::vector<int64_t> shape);
  const std::vector<ParamEntry>& entries() const { return entries_; }
  const ParamEntry& entry(int index) const { return entries_.at(static_cast<size_t>(index)); }
  int find(const std::string& name) const;  // -1 when absent
  int64_t parameter_count() const;          // without padding
  int64_t padded_size() const { return padded_size_; }

 private:
  std::vector<ParamEntry> entries_;
  int64_t padded_size_ = 0;
};

// One allocation per network holding parameters, gradients and Adam's two moments in four equal
// sections with the same layout, so an optimiser step or a clipping pass is one flat loop.
class Arena {
 public:
  Arena(ParamTable table, MemoryKind kind);

  const ParamTable& table() const { return table_; }
  MemoryKind kind() const { return storage_.kind(); }
  int64_t size() const { return table_.padded_size(); }

  float* params() const { return section(0); }
  float* grads() const { return section(1); }
  float* adam_m() const { return section(2); }
  float* adam_v() const { return section(3); }
  float* param(int index) const { return params() + table_.entry(index).offset; }
  float* grad(int index) const { return grads() + table_.entry(index).offset; }

 private:
  float* section(int k) const { return storage_.data() + k * table_.padded_size(); }
  ParamTable table_;
  Buffer<float> storage_;
};

}  // namespace mdcsrn
