#include "scheduler/parallel.h"

#include <pthread.h>

#include <algorithm>

namespace berth::scheduler {

namespace {
thread_local bool tl_inside_parallel = false;
}

// One until() call: workers and the caller take chunks of indexes from
// `next` until it passes `n` or `stop` is set.
struct Parallelizer::Job {
  int n = 0;
  int chunk = 1;
  const std::function<void(int)>* fn = nullptr;
  const std::atomic<bool>* stop = nullptr;
  std::atomic<int> next{0};
  int active = 0;  // workers inside run(); guarded by mu_

  void run() {
    for (;;) {
      if (stop && stop->load(std::memory_order_relaxed)) return;
      int start = next.fetch_add(chunk, std::memory_order_relaxed);
      if (start >= n) return;
      int end = std::min(n, start + chunk);
      for (int i = start; i < end; ++i) {
        if (stop && stop->load(std::memory_order_relaxed)) return;
        (*fn)(i);
      }
    }
  }
};

Parallelizer::Parallelizer(int parallelism) {
  parallelism_ = parallelism;
  if (parallelism_ <= 0) {
    // With two hardware threads or fewer the other one is busy with the
    // rest of the server (binding writes, watch delivery): a helper then
    // only adds hand-offs. berth bench scheduler at 5,000 nodes measured
    // the same scheduling-thread CPU per pod with one helper as without,
    // plus ~60 us per pod in the helper.
    int hw = static_cast<int>(std::thread::hardware_concurrency());
    parallelism_ = hw > 2 ? hw : 1;
  }
  for (int i = 1; i < parallelism_; ++i) workers_.emplace_back([this] { workerLoop(); });
}

Parallelizer::~Parallelizer() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void Parallelizer::workerLoop() {
  pthread_setname_np(pthread_self(), "sched-par");
  tl_inside_parallel = true;
  uint64_t seen = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return shutdown_ || (job_ && job_seq_ != seen); });
    if (shutdown_) return;
    seen = job_seq_;
    Job* job = job_;
    ++job->active;
    lock.unlock();
    job->run();
    lock.lock();
    if (--job->active == 0) done_cv_.notify_all();
  }
}

void Parallelizer::until(int n, const std::function<void(int)>& fn, const std::atomic<bool>* stop) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1 || tl_inside_parallel) {
    for (int i = 0; i < n; ++i) {
      if (stop && stop->load(std::memory_order_relaxed)) return;
      fn(i);
    }
    return;
  }
  std::lock_guard run_lock(run_mu_);
  Job job;
  job.n = n;
  // Upstream's chunkSizeFor: about sqrt(n) per chunk, at least 1, so that
  // uneven per-node costs still spread over the workers.
  int chunk = 1;
  while (chunk * chunk < n) ++chunk;
  job.chunk = std::max(1, std::min(chunk, n / parallelism_ + 1));
  job.fn = &fn;
  job.stop = stop;
  {
    std::lock_guard lock(mu_);
    job_ = &job;
    ++job_seq_;
  }
  cv_.notify_all();
  tl_inside_parallel = true;
  job.run();
  tl_inside_parallel = false;
  std::unique_lock lock(mu_);
  job_ = nullptr;
  done_cv_.wait(lock, [&] { return job.active == 0; });
}

}  // namespace berth::scheduler
