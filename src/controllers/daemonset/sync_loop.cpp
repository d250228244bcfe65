#include "controllers/daemonset/sync_loop.h"

#include <algorithm>

#include "common/log.h"

namespace berth::controllers {

SyncLoop::SyncLoop(std::string name, std::function<Status(const std::string&)> sync,
                   std::vector<client::Informer*> informers, int workers)
    : name_(std::move(name)),
      sync_(std::move(sync)),
      informers_(std::move(informers)),
      workers_count_(workers) {}

SyncLoop::~SyncLoop() { stop(); }

void SyncLoop::start() {
  std::lock_guard lock(mu_);
  if (starter_.joinable() || stopping_) return;
  starter_ = std::thread([this] {
    // WaitForNamedCacheSync: acting on a partial cache would create
    // dependents that already exist.
    for (auto* inf : informers_) {
      while (!stopping_ && !inf->waitForSync(std::chrono::milliseconds(100))) {
      }
    }
    std::lock_guard lock(mu_);
    if (stopping_) return;
    workers_ = std::make_unique<WorkerPool>(
        queue_, [this](const std::string& key) { process(key); }, workers_count_);
    BERTH_LOG(kInfo, "controllers")
        << "started controller name=" << name_ << " workers=" << workers_count_;
  });
}

void SyncLoop::stop() {
  stopping_ = true;
  queue_.shutdown();
  if (starter_.joinable()) starter_.join();
  std::lock_guard lock(mu_);
  if (workers_) workers_->stop();
  workers_.reset();
}

void SyncLoop::enqueueAfter(const std::string& key, std::chrono::milliseconds delay) {
  if (delay.count() < 0) delay = std::chrono::milliseconds(0);
  {
    std::lock_guard lock(state_mu_);
    delays_[key] = delay;
  }
  if (delay.count() == 0)
    queue_.add(key);
  else
    queue_.addAfter(key, delay);
}

std::optional<std::chrono::milliseconds> SyncLoop::lastDelay(const std::string& key) const {
  std::lock_guard lock(state_mu_);
  auto it = delays_.find(key);
  if (it == delays_.end()) return std::nullopt;
  return it->second;
}

std::chrono::milliseconds SyncLoop::backoffFor(int failures) {
  int64_t ms = 5;
  for (int i = 0; i < failures && ms < 1000 * 1000; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, 1000 * 1000));
}

void SyncLoop::process(const std::string& key) {
  {
    // Only the delay the latest sync asked for is kept, so keys of deleted
    // objects do not pile up.
    std::lock_guard lock(state_mu_);
    delays_.erase(key);
  }
  Status s = sync_(key);
  int n = 0;
  {
    std::lock_guard lock(state_mu_);
    if (s.ok()) {
      failures_.erase(key);
      return;
    }
    n = failures_[key]++;
  }
  BERTH_LOG(kWarning, "controllers")
      << "sync failed controller=" << name_ << " key=" << key << " err=" << s.error().message;
  queue_.addAfter(key, backoffFor(n));
}

}  // namespace berth::controllers
