#include "kernels/simt/counters.h"

#include <algorithm>
#include <map>
#include <set>

namespace mdcsrn::simt {
namespace {

constexpr int kBanks = 32;
constexpr int kBankBytes = 4;
constexpr uint64_t kSectorBytes = 32;

// The wavefronts of one phase: the most distinct 4-byte words in any one bank.
int64_t phase_wavefronts(const std::vector<const LaneAccess*>& phase) {
  std::set<uint64_t> words;
  for (const LaneAccess* a : phase)
    for (uint64_t w = a->address / kBankBytes; w <= (a->address + uint64_t(a->bytes) - 1) / kBankBytes; ++w) words.insert(w);
  int per_bank[kBanks] = {};
  int64_t most = 0;
  for (uint64_t w : words) most = std::max<int64_t>(most, ++per_bank[w % kBanks]);
  return most;
}

Wavefronts phased(const std::vector<LaneAccess>& lanes, int lanes_per_phase) {
  std::map<int, std::vector<const LaneAccess*>> phases;
  for (const LaneAccess& a : lanes) phases[a.lane / lanes_per_phase].push_back(&a);
  Wavefronts w;
  for (const auto& [index, phase] : phases) {
    w.actual += phase_wavefronts(phase);
    ++w.ideal;
  }
  return w;
}

}  // namespace

Wavefronts shared_access_wavefronts(const std::vector<LaneAccess>& lanes, int bytes_per_lane) {
  const int lanes_per_phase = bytes_per_lane <= 4 ? 32 : bytes_per_lane == 8 ? 16 : 8;
  return phased(lanes, lanes_per_phase);
}

Wavefronts ldmatrix_wavefronts(const std::vector<LaneAccess>& rows, int matrices) {
  std::vector<LaneAccess> used;
  for (const LaneAccess& r : rows)
    if (r.lane < 8 * matrices) used.push_back(r);
  return phased(used, 8);
}

std::set<uint64_t> sectors_touched(const std::vector<LaneAccess>& lanes) {
  std::set<uint64_t> sectors;
  for (const LaneAccess& a : lanes)
    for (uint64_t s = a.address / kSectorBytes; s <= (a.address + uint64_t(a.bytes) - 1) / kSectorBytes; ++s) sectors.insert(s);
  return sectors;
}

Sectors global_access_sectors(const std::vector<LaneAccess>& lanes) {
  std::set<uint64_t> sectors, bytes;
  for (const LaneAccess& a : lanes)
    for (uint64_t b = a.address; b < a.address + uint64_t(a.bytes); ++b) {
      bytes.insert(b);
      sectors.insert(b / kSectorBytes);
    }
  Sectors s;
  s.actual = int64_t(sectors.size());
  s.bytes = int64_t(bytes.size());
  s.ideal = (s.bytes + int64_t(kSectorBytes) - 1) / int64_t(kSectorBytes);
  return s;
}

void LaunchCounts::merge(const LaunchCounts& o) {
  blocks += o.blocks;
  grid_blocks += o.grid_blocks;
  for (int i = 0; i < 4; ++i) {
    shared[i].requests += o.shared[i].requests;
    shared[i].wavefronts.actual += o.shared[i].wavefronts.actual;
    shared[i].wavefronts.ideal += o.shared[i].wavefronts.ideal;
  }
  for (int i = 0; i < 3; ++i) {
    global[i].requests += o.global[i].requests;
    global[i].sectors.actual += o.global[i].sectors.actual;
    global[i].sectors.ideal += o.global[i].sectors.ideal;
    global[i].sectors.bytes += o.global[i].sectors.bytes;
    global[i].sectors.l2 += o.global[i].sectors.l2;
  }
  mma += o.mma;
  barriers += o.barriers;
}

}  // namespace mdcsrn::simt
