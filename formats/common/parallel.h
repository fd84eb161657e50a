// Many inputs on every core with the output order unchanged: for_each_ordered runs work(i) for
// i in [0, n) on up to `jobs` threads and hands the results to done(i, result) on the calling thread
// in index order, each as soon as it and all before it are finished (so progress and reports stream).
// done() returning false stops handing out new work (the running items finish and are dropped).
// Used by check, inspect, identify and rewrite (docs/cli.md "-j"); work() must be thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace vk {

// The default for -j: the cores this process may run on.
unsigned default_jobs();

template <class R>
void for_each_ordered(size_t n, unsigned jobs, const std::function<R(size_t)>& work,
                      const std::function<bool(size_t, R&)>& done) {
  if (jobs == 0) jobs = default_jobs();
  jobs = unsigned(std::min<size_t>(jobs, n));
  if (jobs <= 1) {
    for (size_t i = 0; i < n; ++i) {
      R r = work(i);
      if (!done(i, r)) return;
    }
    return;
  }
  std::vector<std::optional<R>> results(n);
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < jobs; ++t)
    threads.emplace_back([&] {
      for (;;) {
        size_t i = next.fetch_add(1);
        if (i >= n || stop) return;
        R r = work(i);
        std::lock_guard lock(mu);
        results[i].emplace(std::move(r));
        cv.notify_all();
      }
    });
  for (size_t i = 0; i < n; ++i) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return results[i].has_value(); });
    R r = std::move(*results[i]);
    results[i].reset();
    lock.unlock();
    if (!done(i, r)) {
      stop = true;
      break;
    }
  }
  for (auto& t : threads) t.join();
}

}  // namespace vk
