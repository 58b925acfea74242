#pragma once
// A copy of a host test tensor in host or device memory with the same layout (offset and
// strides), so that results compare element by element with the CPU reference, and writes
// outside a view are visible.
#include <algorithm>
#include <vector>

#include "engine/memory.h"
#include "tests/support.h"

namespace mdcsrn::test {

struct MemoryTensor {
  Buffer<float> storage;
  Tensor<float> view;

  MemoryTensor(MemoryKind kind, const HostTensor<float>& host) : storage(kind, int64_t(host.storage.size())) {
    storage.upload(host.storage);
    view = Tensor<float>(storage.data() + host.first_offset(), host.view.shape, host.view.stride);
  }
  Tensor<const float> in() const { return view; }

  // The whole storage back, laid out like `like`.
  HostTensor<float> download(const HostTensor<float>& like) const {
    HostTensor<float> out = like;
    const std::vector<float> values = storage.download();
    std::copy(values.begin(), values.end(), out.storage.begin());
    return out;
  }
};

template <class T>
Buffer<T> copy_to(MemoryKind kind, const std::vector<T>& host) {
  Buffer<T> b(kind, int64_t(host.size()));
  b.upload(host);
  return b;
}

// Values outside the view must be exactly as before.
inline void check_outside_view_unchanged(const HostTensor<float>& before, const HostTensor<float>& after) {
  std::vector<bool> inside(before.storage.size());
  for (int64_t i : view_offsets(after)) inside[size_t(i)] = true;
  int64_t changed = 0;
  for (size_t i = 0; i < before.storage.size(); ++i)
    if (!inside[i] && before.storage[i] != after.storage[i]) ++changed;
  CHECK_MESSAGE(changed == 0, changed << " elements outside the view were written");
}

}  // namespace mdcsrn::test
