#pragma once
// A progress bar for long work: done/total, rate and ETA. On a terminal it is redrawn in place on
// every update. Otherwise (a log file, CI, a batch scheduler) it prints a line at each tenth of the
// total and at least every `log_seconds`, whichever comes first, and always the final line.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace mdcsrn {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit, FILE* stream = stdout, double log_seconds = 30);
  // `done` items so far (from the start of this bar), with extra text such as the loss.
  void update(int64_t done, const std::string& extra);
  void finish(const std::string& extra);

 private:
  std::string render(int64_t done, const std::string& extra) const;
  std::string label_, unit_;
  int64_t total_;
  FILE* stream_;
  bool terminal_;
  double log_seconds_;
  std::chrono::steady_clock::time_point start_, last_line_;
  int64_t last_tenth_ = 0;
};

std::string format_duration(double seconds);

}  // namespace mdcsrn
