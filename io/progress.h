#pragma once
// A progress bar for long work: done/total, rate and ETA, redrawn in place on a terminal and
// printed as plain lines otherwise (logs, CI).
#include <chrono>
#include <cstdint>
#include <string>

namespace mdcsrn {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit);
  // `done` items so far (from the start of this bar), with extra text such as the loss.
  void update(int64_t done, const std::string& extra);
  void finish(const std::string& extra);

 private:
  std::string render(int64_t done, const std::string& extra) const;
  std::string label_, unit_;
  int64_t total_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
};

std::string format_duration(double seconds);

}  // namespace mdcsrn
