#include "formats/common/parallel.h"

#include <sched.h>
#include <unistd.h>

#include <cstdio>

#include "formats/common/progress.h"

namespace vk {

unsigned default_jobs() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return unsigned(std::max(1, CPU_COUNT(&set)));
  return std::max(1u, std::thread::hardware_concurrency());
}

Progress::Progress(std::string what, size_t total)
    : what_(std::move(what)), total_(total), tty_(::isatty(2) == 1), start_(std::chrono::steady_clock::now()), last_(start_) {}

Progress::~Progress() {
  if (shown_) std::fprintf(stderr, "\r\033[K");
}

void Progress::tick(size_t done) {
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  if (elapsed < 1.0 || (shown_ && now - last_ < std::chrono::milliseconds(100) && done < total_)) return;
  last_ = now;
  shown_ = true;
  double rate = done / elapsed;
  double eta = rate > 0 ? double(total_ - done) / rate : 0;
  std::fprintf(stderr, "\r\033[K%s [%zu/%zu] %.1f/s, ETA %.0fs", what_.c_str(), done, total_, rate, eta);
  std::fflush(stderr);
}

}  // namespace vk
