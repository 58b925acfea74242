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

}  // namespace mdcsrn
