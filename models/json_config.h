#pragma once
// JSON configurations over built-in defaults, as every command reads them: defaults <- a file
// (if any) <- command-line overrides "section.key=value" (values parsed as JSON, else taken as
// strings). Unknown keys, and values of another kind than the default's (a string for a number, a
// float for an integer), are one-line errors naming the key, so a typo never passes silently.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mdcsrn {

nlohmann::json merge_config(nlohmann::json defaults, const std::string& file, const std::vector<std::string>& overrides);

// A setting outside what it allows, in one line for people: "<key>: <value>; <what is allowed>",
// e.g. fail_setting("train.batch", 0, "must be a positive integer, e.g. 64").
[[noreturn]] void fail_setting(const std::string& key, const nlohmann::json& value, const std::string& allowed);

}  // namespace mdcsrn
