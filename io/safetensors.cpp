#include "io/safetensors.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "engine/error.h"
#include "io/volume.h"

namespace mdcsrn {
namespace {

int64_t element_count(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<>());
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "I64" || dtype == "F64") return 8;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

}  // namespace

void SafeTensors::add_f32(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  StoredTensor t{"F32", shape, std::vector<unsigned char>(size_t(element_count(shape)) * 4)};
  std::memcpy(t.bytes.data(), data, t.bytes.size());  // little-endian host
  tensors_[name] = std::move(t);
}

void SafeTensors::add_i64(const std::string& name, const std::vector<int64_t>& shape, const int64_t* data) {
  StoredTensor t{"I64", shape, std::vector<unsigned char>(size_t(element_count(shape)) * 8)};
  std::memcpy(t.bytes.data(), data, t.bytes.size());
  tensors_[name] = std::move(t);
}

const StoredTensor& SafeTensors::find(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(source_ + ": no tensor '" + name + "'");
  if (it->second.dtype != dtype) fail(source_ + ": tensor '" + name + "' is " + it->second.dtype + ", expected " + dtype);
  if (it->second.shape != shape)
    fail(source_ + ": tensor '" + name + "' has shape " + shape_text(it->second.shape) + ", expected " + shape_text(shape));
  return it->second;
}

std::vector<float> SafeTensors::f32(const std::string& name, const std::vector<int64_t>& shape) const {
  const StoredTensor& t = find(name, "F32", shape);
  std::vector<float> out(t.bytes.size() / 4);
  std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
  return out;
}

std::vector<int64_t> SafeTensors::i64(const std::string& name, const std::vector<int64_t>& shape) const {
  const StoredTensor& t = find(name, "I64", shape);
  std::vector<int64_t> out(t.bytes.size() / 8);
  std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
  return out;
}

std::string SafeTensors::metadata(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) fail(source_ + ": no metadata '" + key + "'");
  return it->second;
}

void SafeTensors::save(const std::string& path) const {
  nlohmann::json header = nlohmann::json::object();
  size_t offset = 0;
  for (const auto& [name, t] : tensors_) {
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  std::string file(8, '\0');
  const uint64_t size = text.size();
  for (int i = 0; i < 8; ++i) file[size_t(i)] = char((size >> (8 * i)) & 0xff);
  file += text;
  file.reserve(file.size() + offset);
  for (const auto& [name, t] : tensors_) file.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  write_text_atomically(path, file);
}

SafeTensors SafeTensors::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path + ": cannot open checkpoint");
  SafeTensors st;
  st.source_ = path;
  unsigned char size_bytes[8];
  if (!in.read(reinterpret_cast<char*>(size_bytes), 8)) fail(path + ": truncated safetensors file (no header size)");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t(size_bytes[i]) << (8 * i);
  const auto file_size = std::filesystem::file_size(path);
  if (header_size > file_size - 8) fail(path + ": corrupt safetensors file (header larger than the file)");
  std::string text(header_size, '\0');
  if (!in.read(text.data(), std::streamsize(header_size))) fail(path + ": truncated safetensors header");
  const uint64_t data_size = file_size - 8 - header_size;
  std::vector<unsigned char> data(data_size);
  if (!in.read(reinterpret_cast<char*>(data.data()), std::streamsize(data_size))) fail(path + ": truncated safetensors data");
  try {
    const nlohmann::json header = nlohmann::json::parse(text);
    for (const auto& [name, value] : header.items()) {
      if (name == "__metadata__") {
        for (const auto& [k, v] : value.items()) st.metadata_[k] = v.get<std::string>();
        continue;
      }
      StoredTensor t;
      t.dtype = value.at("dtype").get<std::string>();
      t.shape = value.at("shape").get<std::vector<int64_t>>();
      const auto offsets = value.at("data_offsets").get<std::vector<uint64_t>>();
      const size_t expected = size_t(element_count(t.shape)) * dtype_size(t.dtype);
      if (offsets.size() != 2 || offsets[1] < offsets[0] || offsets[1] > data_size || offsets[1] - offsets[0] != expected)
        fail(path + ": tensor '" + name + "' has inconsistent byte offsets (truncated or corrupt file)");
      t.bytes.assign(data.begin() + int64_t(offsets[0]), data.begin() + int64_t(offsets[1]));
      st.tensors_[name] = std::move(t);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(path + ": corrupt safetensors header (" + std::string(e.what()) + ")");
  }
  return st;
}

}  // namespace mdcsrn
