#include "models/json_config.h"

#include <cmath>
#include <fstream>

#include "engine/error.h"

namespace mdcsrn {
namespace {

using nlohmann::json;

// What a setting must hold, judged by its default: the same JSON type, where an integer may be
// written as a whole float (30.0) and a float as an integer; a list's items as its default's first.
bool same_kind(const json& expected, const json& value) {
  switch (expected.type()) {
    case json::value_t::boolean: return value.is_boolean();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return value.is_number_integer() || (value.is_number_float() && std::isfinite(value.get<double>()) &&
                                           value.get<double>() == std::floor(value.get<double>()));
    case json::value_t::number_float: return value.is_number();
    case json::value_t::string: return value.is_string();
    case json::value_t::array: return value.is_array();
    default: return true;
  }
}

std::string kind_name(const json& expected) {
  switch (expected.type()) {
    case json::value_t::boolean: return "true or false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "a list";
    default: return "a value";
  }
}

// Refuses a value of another kind than its default's, naming the key: "train.epochs: expected an
// integer, got "x" (FILE)".
void check_kind(const json& expected, const json& value, const std::string& name, const std::string& where) {
  if (!same_kind(expected, value)) fail(name + ": expected " + kind_name(expected) + ", got " + value.dump() + " (" + where + ")");
  if (expected.is_array() && !expected.empty())
    for (size_t i = 0; i < value.size(); ++i) check_kind(expected[0], value[i], name + "[" + std::to_string(i) + "]", where);
}

// Copies `overlay` onto `base`, refusing keys the defaults do not have and values of another kind.
void overlay_checked(json& base, const json& overlay, const std::string& where, const std::string& path) {
  for (const auto& [key, value] : overlay.items()) {
    const std::string name = path.empty() ? key : path + "." + key;
    if (!base.contains(key)) fail(where + ": unknown setting '" + name + "'");
    if (base[key].is_object()) {
      if (!value.is_object()) fail(name + ": expected a section {...}, got " + value.dump() + " (" + where + ")");
      overlay_checked(base[key], value, where, name);
    } else {
      check_kind(base[key], value, name, where);
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

void fail_setting(const std::string& key, const nlohmann::json& value, const std::string& allowed) {
  fail(key + ": " + value.dump() + "; " + allowed);
}

}  // namespace mdcsrn
