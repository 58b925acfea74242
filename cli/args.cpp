#include "cli/args.h"

#include <sstream>

#include "engine/error.h"

namespace mdcsrn::cli {

Args::Args(int argc, char** argv, int first, const std::set<std::string>& valued, const std::set<std::string>& flags,
           const std::string& command) {
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) fail("unexpected argument '" + a + "' (see " + command + " --help)");
    std::string name = a.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) value = name.substr(eq + 1), name.resize(eq);
    if (flags.count(name)) {
      if (inline_value) fail("option --" + name + " takes no value");
      flags_.insert(name);
    } else if (valued.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argc) fail("option --" + name + " needs a value");
        value = argv[++i];
      }
      values_[name] = value;
    } else {
      fail("unknown option --" + name + " (see " + command + " --help)");
    }
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  const auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int Args::get_int(const std::string& name, int fallback) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  try {
    size_t used = 0;
    const int v = std::stoi(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  fail("option --" + name + ": '" + it->second + "' is not an integer");
}

uint64_t Args::get_u64(const std::string& name, uint64_t fallback) const {
  const auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  try {
    size_t used = 0;
    const uint64_t v = std::stoull(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  fail("option --" + name + ": '" + it->second + "' is not a non-negative integer");
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int> parse_int_list(const std::string& text, const std::string& what) {
  std::vector<int> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    try {
      size_t used = 0;
      out.push_back(std::stoi(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail(what + ": '" + text + "' is not a comma-separated list of integers");
    }
  }
  return out;
}

std::vector<std::string> take_repeated(int argc, char** argv, const std::string& flag, const std::string& expected,
                                       std::vector<char*>& rest) {
  std::vector<std::string> values;
  rest.clear();
  for (int i = 0; i < argc; ++i) {
    if (i >= 2 && flag == argv[i]) {
      if (i + 1 >= argc) fail("option " + flag + " needs " + expected);
      values.push_back(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  return values;
}

}  // namespace mdcsrn::cli
