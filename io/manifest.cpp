#include "io/manifest.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/philox.h"
#include "io/volume.h"

namespace mdcsrn {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json region_to_json(const Region& r) {
  if (r.whole()) return json{{"axis", nullptr}};
  return json{{"axis", r.axis}, {"begin", r.begin}, {"end", r.end}};
}

Region region_from_json(const json& j) {
  Region r;
  if (j.at("axis").is_null()) return r;
  r.axis = j.at("axis").get<int>();
  r.begin = j.at("begin").get<int64_t>();
  r.end = j.at("end").get<int64_t>();
  if (r.axis < 0 || r.axis > 2 || r.begin < 0 || r.end <= r.begin) throw std::invalid_argument("bad region");
  return r;
}

}  // namespace

Manifest Manifest::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path + ": cannot open manifest");
  Manifest m;
  try {
    const json j = json::parse(in);
    if (j.at("version").get<int>() != 1) fail(path + ": unsupported manifest version");
    m.dataset = j.at("dataset").get<std::string>();
    const json& k = j.at("kspace");
    m.kspace.scale = k.at("scale").get<int>();
    m.kspace.truncate = {false, false, false};
    for (int axis : k.at("axes").get<std::vector<int>>()) m.kspace.truncate.at(static_cast<size_t>(axis)) = true;
    m.kspace.window = parse_kspace_window(k.at("window").get<std::string>());
    for (const json& s : j.at("subjects")) {
      SubjectEntry e;
      e.id = s.at("id").get<std::string>();
      e.hr = s.at("hr").get<std::string>();
      e.lr = s.at("lr").get<std::string>();
      e.brain_mask = s.at("brain_mask").get<std::string>();
      e.cerebellum_mask = s.at("cerebellum_mask").get<std::string>();
      for (const auto& [name, region] : s.at("splits").items()) e.splits[name] = region_from_json(region);
      m.subjects.push_back(std::move(e));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(path + ": malformed manifest (" + std::string(e.what()) + ")");
  }
  m.folder = fs::path(path).parent_path().string();
  return m;
}

void Manifest::save(const std::string& path) const {
  json subjects_json = json::array();
  for (const SubjectEntry& e : subjects) {
    json splits_json = json::object();
    for (const auto& [name, region] : e.splits) splits_json[name] = region_to_json(region);
    subjects_json.push_back({{"id", e.id}, {"hr", e.hr}, {"lr", e.lr}, {"brain_mask", e.brain_mask},
                             {"cerebellum_mask", e.cerebellum_mask}, {"splits", splits_json}});
  }
  std::vector<int> axes;
  for (int a = 0; a < 3; ++a)
    if (kspace.truncate[size_t(a)]) axes.push_back(a);
  const json j = {{"version", 1},
                  {"dataset", dataset},
                  {"kspace", {{"scale", kspace.scale}, {"axes", axes}, {"window", kspace_window_name(kspace.window)}}},
                  {"subjects", subjects_json}};
  write_text_atomically(path, j.dump(2) + "\n");
}

std::string Manifest::resolve(const std::string& relative) const {
  return fs::path(relative).is_absolute() ? relative : (fs::path(folder) / relative).string();
}

std::vector<std::pair<int, Region>> Manifest::split(const std::string& name) const {
  std::vector<std::pair<int, Region>> out;
  for (size_t s = 0; s < subjects.size(); ++s) {
    const auto it = subjects[s].splits.find(name);
    if (it != subjects[s].splits.end()) out.emplace_back(int(s), it->second);
  }
  return out;
}

std::vector<std::string> assign_subject_splits(int count, const std::string& spec, uint64_t seed) {
  std::vector<std::string> parts;
  std::stringstream ss(spec);
  for (std::string p; std::getline(ss, p, '/');) parts.push_back(p);
  if (parts.size() != 3) fail("split '" + spec + "': expected train/val/test, e.g. 800/100/rest or 0.8/0.1/rest");
  std::array<int, 3> sizes{};
  int rest_index = -1, assigned = 0;
  for (int i = 0; i < 3; ++i) {
    if (parts[size_t(i)] == "rest") {
      if (rest_index >= 0) fail("split '" + spec + "': only one part can be 'rest'");
      rest_index = i;
      continue;
    }
    try {
      const double v = std::stod(parts[size_t(i)]);
      sizes[size_t(i)] = parts[size_t(i)].find('.') != std::string::npos ? int(std::lround(v * count)) : int(v);
    } catch (const std::exception&) {
      fail("split '" + spec + "': '" + parts[size_t(i)] + "' is not a number or 'rest'");
    }
    assigned += sizes[size_t(i)];
  }
  if (assigned > count) fail("split '" + spec + "' asks for " + std::to_string(assigned) + " subjects; there are " + std::to_string(count));
  if (rest_index >= 0) sizes[size_t(rest_index)] = count - assigned;
  // Fisher-Yates with Philox: the same seed gives the same split on any machine.
  std::vector<int> order(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) order[size_t(i)] = i;
  for (int i = count - 1; i > 0; --i)
    std::swap(order[size_t(i)], order[size_t(uniform_below(philox_draw(seed, 0x5b117, uint64_t(i)).v[0], uint32_t(i + 1)))]);
  std::vector<std::string> split(static_cast<size_t>(count));
  const char* names[3] = {"train", "val", "test"};
  int position = 0;
  for (int part = 0; part < 3; ++part)
    for (int n = 0; n < sizes[size_t(part)]; ++n) split[size_t(order[size_t(position++)])] = names[part];
  return split;
}

}  // namespace mdcsrn
