#pragma once
// The safetensors format (an 8-byte little-endian header size, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian data), as read by
// safetensors.torch.load_file. Written through a temporary file and a rename.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mdcsrn {

struct StoredTensor {
  std::string dtype;  // "F32", "I64", "I32"
  std::vector<int64_t> shape;
  std::vector<unsigned char> bytes;
};

class SafeTensors {
 public:
  void add_f32(const std::string& name, const std::vector<int64_t>& shape, const float* data);
  void add_i64(const std::string& name, const std::vector<int64_t>& shape, const int64_t* data);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  // The tensor's values; throws naming the file unless it exists with this dtype and shape.
  std::vector<float> f32(const std::string& name, const std::vector<int64_t>& shape) const;
  std::vector<int64_t> i64(const std::string& name, const std::vector<int64_t>& shape) const;
  std::string metadata(const std::string& key) const;
  const std::map<std::string, StoredTensor>& tensors() const { return tensors_; }

  void save(const std::string& path) const;
  static SafeTensors load(const std::string& path);

 private:
  const StoredTensor& find(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape) const;
  std::string source_;
  std::map<std::string, StoredTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace mdcsrn
