#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "io/progress.h"
#include "tests/support.h"

namespace mdcsrn::test {
namespace {

// What a bar wrote to a file (not a terminal), line by line.
std::vector<std::string> lines_of(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::vector<std::string> lines;
  std::string line;
  for (int c; (c = std::fgetc(f)) != EOF;) {
    if (c == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line += char(c);
    }
  }
  CHECK(line.empty());  // every line ended
  return lines;
}

TEST_SUITE("progress") {
  TEST_CASE("in a log, a bar prints a line per tenth of its total and its final line, not one per update") {
    FILE* log = std::tmpfile();
    REQUIRE(log != nullptr);
    ProgressBar bar("epoch 1/1", 1000, "steps", log);
    for (int done = 1; done <= 1000; ++done) bar.update(done, "loss 0.5");
    bar.finish("loss 0.4");
    const std::vector<std::string> lines = lines_of(log);
    std::fclose(log);
    REQUIRE(lines.size() == 10);
    CHECK(lines[0].find(" 100/1000 steps") != std::string::npos);
    CHECK(lines[8].find(" 900/1000 steps") != std::string::npos);
    CHECK(lines[9].find(" 1000/1000 steps") != std::string::npos);
    CHECK(lines[9].find("loss 0.4") != std::string::npos);
    for (const std::string& l : lines) CHECK(l.find('\r') == std::string::npos);
  }

  TEST_CASE("in a log, a slow bar also prints a line once its interval has passed") {
    FILE* log = std::tmpfile();
    REQUIRE(log != nullptr);
    ProgressBar bar("cohort", 1000000, "subjects", log, 0.2);  // a tenth is never reached
    for (int done = 1; done <= 3; ++done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      bar.update(done, "");
    }
    bar.finish("");
    const std::vector<std::string> lines = lines_of(log);
    std::fclose(log);
    REQUIRE(lines.size() == 4);
    CHECK(lines[2].find(" 3/1000000 subjects") != std::string::npos);
  }
}

}  // namespace
}  // namespace mdcsrn::test
