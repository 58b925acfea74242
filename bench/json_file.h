#pragma once
// A JSON file another program wrote, read whole: a missing or malformed file is an Error naming
// the file and what it should have been.
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "engine/error.h"

namespace mdcsrn::bench {

inline nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) fail(path + ": cannot read the " + what);
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    fail(path + ": not a JSON " + what + " (" + e.what() + ")");
  }
}

}  // namespace mdcsrn::bench
