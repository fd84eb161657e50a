// Progress on a terminal for runs over a second: "[120/1000] 85.3/s, ETA 10s" on stderr, redrawn in
// place at most ten times a second and erased at the end. Silent when stderr is not a terminal, so
// logs and pipes see only the report.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace vk {

class Progress {
 public:
  Progress(std::string what, size_t total);
  ~Progress();
  void tick(size_t done);      // `done` items of `total` finished

 private:
  std::string what_;
  size_t total_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace vk
