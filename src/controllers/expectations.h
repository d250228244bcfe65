#pragma once

// Controller expectations, after upstream's ControllerExpectations and
// UIDTrackingControllerExpectations (pkg/controller/controller_utils.go).
//
// A controller that creates or deletes dependents records how many it
// expects to see; until the informer has observed them all (or five minutes
// pass), a sync must not act again on stale cache contents, or it would
// create the same pods twice. The informer handlers lower the counts as
// adds and deletes arrive:
//
//   ControllerExpectations: {
//     rs1: expects 2 adds          -> not satisfied, sync skips manage
//     rs2: expects 0 adds, 0 dels  -> satisfied
//     rs3: set 6 minutes ago       -> expired, satisfied
//   }
//
// Keys are controller keys ("ns/name"). Thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"

namespace berth::controllers {

// upstream ExpectationsTimeout: a dormant controller waiting for watch
// events that were dropped wakes up after this long anyway.
inline constexpr std::chrono::minutes kExpectationsTimeout{5};

class ControllerExpectations {
 public:
  explicit ControllerExpectations(Clock& clock) : clock_(clock) {}
  virtual ~ControllerExpectations() = default;

  struct Counts {
    int64_t add = 0;
    int64_t del = 0;
  };

  // The pending counts of a controller, or nullopt when none were recorded.
  std::optional<Counts> get(const std::string& key) const;
  // True when the controller has no expectations, they are fulfilled (both
  // counts <= 0), or they were set more than kExpectationsTimeout ago.
  bool satisfied(const std::string& key) const;
  // Forgets the expectations (the controller was deleted).
  virtual void deleteExpectations(const std::string& key);

  // Replaces any existing expectations and restarts the timeout.
  void setExpectations(const std::string& key, int64_t add, int64_t del);
  void expectCreations(const std::string& key, int64_t adds) { setExpectations(key, adds, 0); }
  void expectDeletions(const std::string& key, int64_t dels) { setExpectations(key, 0, dels); }

  // Adjust existing expectations (no-op when none are recorded).
  void raiseExpectations(const std::string& key, int64_t add, int64_t del);
  void lowerExpectations(const std::string& key, int64_t add, int64_t del);
  void creationObserved(const std::string& key) { lowerExpectations(key, 1, 0); }
  void deletionObserved(const std::string& key) { lowerExpectations(key, 0, 1); }

 private:
  struct Entry {
    Counts counts;
    std::chrono::system_clock::time_point timestamp;
  };
  Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// UIDTrackingControllerExpectations: also remembers which dependents
// (pod keys "ns/name") a controller is deleting, so that a deletion is
// counted once whether the informer first sees the deletionTimestamp being
// set (graceful deletion) or the object disappear.
class UidTrackingExpectations : public ControllerExpectations {
 public:
  explicit UidTrackingExpectations(Clock& clock) : ControllerExpectations(clock) {}

  using ControllerExpectations::deletionObserved;
  using ControllerExpectations::expectDeletions;
  // Expects the deletion of exactly these dependents.
  void expectDeletions(const std::string& key, const std::vector<std::string>& dependent_keys);
  // Lowers the delete count once per dependent expected by expectDeletions;
  // unexpected or repeated observations are ignored.
  void deletionObserved(const std::string& key, const std::string& dependent_key);
  void deleteExpectations(const std::string& key) override;
  // The dependents still expected to be deleted.
  std::set<std::string> pendingDeletions(const std::string& key) const;

 private:
  mutable std::mutex uid_mu_;
  std::map<std::string, std::set<std::string>> uids_;
};

}  // namespace berth::controllers
