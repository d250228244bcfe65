#include "controllers/expectations.h"

#include "common/log.h"

namespace berth::controllers {

std::optional<ControllerExpectations::Counts> ControllerExpectations::get(
    const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.counts;
}

bool ControllerExpectations::satisfied(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  // A controller that never recorded expectations (or whose were deleted)
  // needs a sync.
  if (it == entries_.end()) return true;
  const Entry& e = it->second;
  if (e.counts.add <= 0 && e.counts.del <= 0) return true;
  if (clock_.now() - e.timestamp > kExpectationsTimeout) {
    BERTH_LOG(kDebug, "controllers")
        << "expectations expired key=" << key << " add=" << e.counts.add << " del=" << e.counts.del;
    return true;
  }
  return false;
}

void ControllerExpectations::deleteExpectations(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

void ControllerExpectations::setExpectations(const std::string& key, int64_t add, int64_t del) {
  std::lock_guard lock(mu_);
  entries_[key] = Entry{Counts{add, del}, clock_.now()};
}

void ControllerExpectations::raiseExpectations(const std::string& key, int64_t add, int64_t del) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.counts.add += add;
  it->second.counts.del += del;
}

void ControllerExpectations::lowerExpectations(const std::string& key, int64_t add, int64_t del) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.counts.add -= add;
  it->second.counts.del -= del;
}

void UidTrackingExpectations::expectDeletions(const std::string& key,
                                              const std::vector<std::string>& dependent_keys) {
  std::lock_guard lock(uid_mu_);
  std::set<std::string> keys(dependent_keys.begin(), dependent_keys.end());
  auto it = uids_.find(key);
  if (it != uids_.end() && !it->second.empty()) {
    BERTH_LOG(kWarning, "controllers")
        << "clobbering existing delete keys key=" << key << " count=" << it->second.size();
  }
  int64_t n = static_cast<int64_t>(keys.size());
  uids_[key] = std::move(keys);
  ControllerExpectations::expectDeletions(key, n);
}

void UidTrackingExpectations::deletionObserved(const std::string& key,
                                               const std::string& dependent_key) {
  std::lock_guard lock(uid_mu_);
  auto it = uids_.find(key);
  if (it == uids_.end()) return;
  if (it->second.erase(dependent_key)) ControllerExpectations::deletionObserved(key);
}

void UidTrackingExpectations::deleteExpectations(const std::string& key) {
  std::lock_guard lock(uid_mu_);
  ControllerExpectations::deleteExpectations(key);
  uids_.erase(key);
}

std::set<std::string> UidTrackingExpectations::pendingDeletions(const std::string& key) const {
  std::lock_guard lock(uid_mu_);
  auto it = uids_.find(key);
  return it == uids_.end() ? std::set<std::string>() : it->second;
}

}  // namespace berth::controllers
