#include "engine/arena.h"

#include <numeric>

#include "engine/error.h"

namespace mdcsrn {

int ParamTable::add(const std::string& name, std::vector<int64_t> shape) {
  MDCSRN_ASSERT(find(name) < 0, "parameter '" + name + "' registered twice");
  MDCSRN_ASSERT(!shape.empty(), "parameter '" + name + "' has no shape");
  ParamEntry e;
  e.name = name;
  e.numel = std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<>());
  MDCSRN_ASSERT(e.numel > 0, "parameter '" + name + "' is empty");
  e.shape = std::move(shape);
  e.offset = padded_size_;
  padded_size_ += (e.numel + kAlignment - 1) / kAlignment * kAlignment;
  entries_.push_back(std::move(e));
  return int(entries_.size()) - 1;
}

int ParamTable::find(const std::string& name) const {
  for (size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name == name) return int(i);
  return -1;
}

int64_t ParamTable::parameter_count() const {
  int64_t total = 0;
  for (const auto& e : entries_) total += e.numel;
  return total;
}

Arena::Arena(ParamTable table, MemoryKind kind)
    : table_(std::move(table)), storage_(kind, 4 * table_.padded_size()) {
  storage_.zero();
}

}  // namespace mdcsrn
