#pragma once

// A small pool for the scheduler's per-node work (upstream's
// parallelize.Parallelizer): filters, scores and the pre-computations that
// walk every node. The calling thread takes part, so parallelism 1 runs
// everything inline, in index order (what deterministic tests use).

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace berth::scheduler {

class Parallelizer {
 public:
  // parallelism <= 0: std::thread::hardware_concurrency(), or 1 (inline)
  // on machines with two hardware threads or fewer.
  explicit Parallelizer(int parallelism = 0);
  ~Parallelizer();
  Parallelizer(const Parallelizer&) = delete;
  Parallelizer& operator=(const Parallelizer&) = delete;

  int parallelism() const { return parallelism_; }

  // Calls fn(i) for every i in [0, n) and returns when all calls are done.
  // `stop`, when given, ends the loop early once it reads true (calls in
  // progress finish). Nested calls (from inside fn) run inline.
  void until(int n, const std::function<void(int)>& fn, const std::atomic<bool>* stop = nullptr);

 private:
  struct Job;
  void workerLoop();

  int parallelism_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  std::vector<std::thread> workers_;
  Job* job_ = nullptr;
  uint64_t job_seq_ = 0;
  bool shutdown_ = false;
  std::mutex run_mu_;  // one until() at a time
};

}  // namespace berth::scheduler
