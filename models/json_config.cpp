#include "models/json_config.h"

#include <fstream>

#include "engine/error.h"

namespace mdcsrn {
namespace {

using nlohmann::json;

// Copies `overlay` onto `base`, refusing keys the defaults do not have.
void overlay_checked(json& base, const json& overlay, const std::string& where, const std::string& path) {
  for (const auto& [key, value] : overlay.items()) {
    const std::string name = path.empty() ? key : path + "." + key;
    if (!base.contains(key)) fail(where + ": unknown setting '" + name + "'");
    if (base[key].is_object()) {
      if (!value.is_object()) fail(where + ": '" + name + "' must be an object");
      overlay_checked(base[key], value, where, name);
    } else {
      base[key] = value;
    }
  }
}

}  // namespace

json merge_config(json config, const std::string& file, const std::vector<std::string>& overrides) {
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) fail(file + ": cannot open config");
    json loaded;
    try {
      loaded = json::parse(in);
    } catch (const std::exception& e) {
      fail(file + ": not valid JSON (" + std::string(e.what()) + ")");
    }
    overlay_checked(config, loaded, file, "");
  }
  for (const std::string& o : overrides) {
    const size_t eq = o.find('='), dot = o.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq) fail("override '" + o + "': expected section.key=value");
    const std::string section = o.substr(0, dot), key = o.substr(dot + 1, eq - dot - 1), text = o.substr(eq + 1);
    json value;
    try {
      value = json::parse(text);
    } catch (const std::exception&) {
      value = text;  // a bare word is a string
    }
    overlay_checked(config, json{{section, {{key, value}}}}, "override '" + o + "'", "");
  }
  return config;
}

}  // namespace mdcsrn
