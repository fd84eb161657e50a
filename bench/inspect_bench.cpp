// inspect reads only what it needs: the same image set with its real 100 KiB pages file and with the
// pages file grown (sparsely) to 16 GiB must inspect in about the same time. Prints both figures.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "analyzers/inspect.h"
#include "formats/criu/imageset.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_per_inspect(const std::string& dir, int rounds) {
  auto t0 = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    auto tree = vk::open_directory(dir);
    auto set = vk::criu::ImageSet::open(*tree);
    auto r = vk::analyze::inspect(*set, dir);
    if (!r) {
      std::fprintf(stderr, "inspect failed: %s\n", r.error().str().c_str());
      std::exit(1);
    }
  }
  return std::chrono::duration<double>(Clock::now() - t0).count() / rounds;
}

}  // namespace

int main(int argc, char** argv) {
  std::string fixture = argc > 1 ? argv[1] : VK_SAMPLE;
  fs::path tmp = fs::temp_directory_path() / ("vk-bench-" + std::to_string(::getpid()));
  fs::create_directories(tmp / "small");
  fs::create_directories(tmp / "huge");
  for (auto& e : fs::directory_iterator(fixture)) {
    fs::copy_file(e.path(), tmp / "small" / e.path().filename());
    fs::copy_file(e.path(), tmp / "huge" / e.path().filename());
  }
  fs::resize_file(tmp / "huge" / "pages-1.img", 16ull << 30);   // sparse: no disk used
  const int rounds = 300;
  seconds_per_inspect((tmp / "small").string(), 20);   // warm caches
  double small = seconds_per_inspect((tmp / "small").string(), rounds);
  double huge = seconds_per_inspect((tmp / "huge").string(), rounds);
  std::printf("inspect, real pages file (%llu bytes): %.1f us per image set\n",
              static_cast<unsigned long long>(fs::file_size(tmp / "small" / "pages-1.img")), small * 1e6);
  std::printf("inspect, 16 GiB sparse pages file:      %.1f us per image set\n", huge * 1e6);
  std::printf("ratio: %.2f (target: within 2x)\n", huge / small);
  fs::remove_all(tmp);
  return huge <= 2 * small ? 0 : 1;
}
