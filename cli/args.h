#pragma once
// Command-line options of the form --name value and --flag. Each command lists the options it
// knows, so a typo is an error that names it instead of being ignored.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mdcsrn::cli {

class Args {
 public:
  // argv[first..] are parsed; `valued` take a value, `flags` do not. `command` names the program
  // in messages, e.g. "mdcsrn train".
  Args(int argc, char** argv, int first, const std::set<std::string>& valued, const std::set<std::string>& flags,
       const std::string& command);

  bool has(const std::string& name) const { return values_.count(name) || flags_.count(name); }
  bool help() const { return help_; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  int get_int(const std::string& name, int fallback) const;
  uint64_t get_u64(const std::string& name, uint64_t fallback) const;

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  bool help_ = false;
};

std::vector<int> parse_int_list(const std::string& text, const std::string& what);

// The non-empty items of a comma-separated list: "a,,b" gives {"a", "b"}.
std::vector<std::string> split_list(const std::string& text);

// Removes every "FLAG VALUE" pair from argv (for repeatable options such as --set) and returns the
// values; `rest` receives the other arguments, in order, for Args.
std::vector<std::string> take_repeated(int argc, char** argv, const std::string& flag, const std::string& expected,
                                       std::vector<char*>& rest);

}  // namespace mdcsrn::cli
