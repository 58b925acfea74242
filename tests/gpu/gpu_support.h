#pragma once
// A device copy of a host test tensor with the same layout (offset and strides), so GPU results
// compare element by element with the CPU reference, and writes outside a view are visible.
#include "engine/cuda_context.h"
#include "engine/memory.h"
#include "tests/support.h"

namespace mdcsrn::test {

struct DeviceTensor {
  Buffer<float> storage;
  Tensor<float> view;

  explicit DeviceTensor(const HostTensor<float>& host)
      : storage(MemoryKind::Device, int64_t(host.storage.size())) {
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

inline Buffer<float> device_copy(const std::vector<float>& host) {
  Buffer<float> b(MemoryKind::Device, int64_t(host.size()));
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
