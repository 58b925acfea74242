#pragma once
// A dataset manifest (JSON): the prepared subjects (HR, LR, brain and cerebellum masks) and which
// part of each belongs to which split. Multi-subject datasets split by subject (a subject's whole
// volume is in one split); a single subject splits by space: a slab of voxels along one axis.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/kspace.h"

namespace mdcsrn {

// Voxels with index in [begin, end) along `axis`; axis -1 means the whole volume.
struct Region {
  int axis = -1;
  int64_t begin = 0, end = 0;

  bool whole() const { return axis < 0; }
  bool contains(int64_t i, int64_t j, int64_t k) const {
    if (whole()) return true;
    const int64_t x = axis == 0 ? i : (axis == 1 ? j : k);
    return x >= begin && x < end;
  }
};

struct SubjectEntry {
  std::string id;
  std::string hr, lr, brain_mask, cerebellum_mask;  // paths relative to the manifest's folder
  std::map<std::string, Region> splits;             // split name -> region of this subject in it
};

struct Manifest {
  std::string dataset;
  KspaceTruncation kspace;
  std::vector<SubjectEntry> subjects;
  std::string folder;  // where the manifest lives; subject paths are relative to it

  static Manifest load(const std::string& path);
  void save(const std::string& path) const;

  std::string resolve(const std::string& relative) const;
  // (subject index, region) of every subject taking part in a split.
  std::vector<std::pair<int, Region>> split(const std::string& name) const;
};

// Subject-level split of `count` subjects into train/val/test from `spec` ("800/100/rest",
// "0.8/0.1/rest" fractions, or plain counts) after a seeded shuffle.
std::vector<std::string> assign_subject_splits(int count, const std::string& spec, uint64_t seed);

}  // namespace mdcsrn
