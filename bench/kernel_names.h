#pragma once
// The names of kernel functions from their addresses in this executable (the SIMT emulator's
// LaunchCounts::kernel), as scripts/kernel_report.py names the same kernels of the sm_90 build:
// demangled, without the return type, the parameters, `mdcsrn::`, `gpu::` and anonymous
// namespaces. Read from the executable's symbol table by binutils' addr2line (local symbols, which
// the kernels in anonymous namespaces are, are not in the dynamic table dladdr reads).
#include <dlfcn.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "engine/error.h"

namespace mdcsrn::bench {

inline std::string short_kernel_name(std::string full) {
  for (size_t at; (at = full.find("(anonymous namespace)::")) != std::string::npos;) full.erase(at, 23);
  if (full.rfind("void ", 0) == 0) full.erase(0, 5);
  full = full.substr(0, full.find('('));
  return std::regex_replace(full, std::regex(R"(\bmdcsrn::(gpu::)?)"), "");
}

inline std::map<const void*, std::string> kernel_names(const std::vector<const void*>& kernels) {
  std::map<const void*, std::string> names;
  char executable[4096] = {};
  const ssize_t length = readlink("/proc/self/exe", executable, sizeof executable - 1);
  if (length <= 0) return names;
  std::string command = std::string("addr2line -f -C -e '") + std::string(executable, size_t(length)) + "'";
  std::vector<const void*> asked;
  for (const void* k : kernels) {
    Dl_info info{};
    if (!k || names.count(k) || !dladdr(k, &info)) continue;
    char offset[32];
    std::snprintf(offset, sizeof offset, " 0x%llx", (unsigned long long)(uintptr_t(k) - uintptr_t(info.dli_fbase)));
    command += offset;
    asked.push_back(k);
    names[k] = "?";
  }
  if (asked.empty()) return names;
  FILE* pipe = popen(command.c_str(), "r");
  MDCSRN_ASSERT(pipe, "cannot run addr2line (binutils) to name the kernels");
  char line[8192];
  for (size_t i = 0; i < asked.size() && std::fgets(line, sizeof line, pipe); ++i) {
    std::string function(line);
    function.erase(function.find_last_not_of("\n") + 1);
    names[asked[i]] = short_kernel_name(function);
    if (!std::fgets(line, sizeof line, pipe)) break;  // the file:line that follows
  }
  pclose(pipe);
  return names;
}

}  // namespace mdcsrn::bench
