#include "io/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace mdcsrn {

std::string format_duration(double seconds) {
  const int64_t s = int64_t(seconds + 0.5);
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60));
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  return text;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit, FILE* stream, double log_seconds)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), stream_(stream), terminal_(isatty(fileno(stream)) != 0),
      log_seconds_(log_seconds), start_(std::chrono::steady_clock::now()), last_line_(start_) {}

std::string ProgressBar::render(int64_t done, const std::string& extra) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? double(done) / elapsed : 0.0;
  const double eta = rate > 0 ? double(total_ - done) / rate : 0.0;
  const int width = 24, filled = total_ > 0 ? int(width * done / total_) : width;
  std::string bar(size_t(filled), '#');
  bar.append(size_t(width - filled), '.');
  // Slow items (whole volumes, folds) read better as seconds each than as a fraction a second.
  char speed[64];
  if (rate > 0 && rate < 1)
    std::snprintf(speed, sizeof speed, "one per %.1f s", 1 / rate);
  else
    std::snprintf(speed, sizeof speed, "%.1f %s/s", rate, unit_.c_str());
  char text[320];
  std::snprintf(text, sizeof text, "%s [%s] %lld/%lld %s, %s, elapsed %s, ETA %s%s%s", label_.c_str(), bar.c_str(), (long long)done,
                (long long)total_, unit_.c_str(), speed, format_duration(elapsed).c_str(), format_duration(eta).c_str(),
                extra.empty() ? "" : ", ", extra.c_str());
  return text;
}

void ProgressBar::update(int64_t done, const std::string& extra) {
  if (terminal_) {
    std::fprintf(stream_, "\r%s\033[K", render(done, extra).c_str());
  } else {
    // The last tenth is left to finish(), so that a log shows the end once.
    const int64_t tenth = total_ > 0 ? std::min<int64_t>(9, 10 * done / total_) : 0;
    const auto now = std::chrono::steady_clock::now();
    if (tenth <= last_tenth_ && std::chrono::duration<double>(now - last_line_).count() < log_seconds_) return;
    last_tenth_ = std::max(last_tenth_, tenth);
    last_line_ = now;
    std::fprintf(stream_, "%s\n", render(done, extra).c_str());
  }
  std::fflush(stream_);
}

void ProgressBar::finish(const std::string& extra) {
  std::fprintf(stream_, terminal_ ? "\r%s\033[K\n" : "%s\n", render(total_, extra).c_str());
  std::fflush(stream_);
}

}  // namespace mdcsrn
