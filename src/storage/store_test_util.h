#pragma once

// Helpers shared by the storage tests (not part of the library).

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/store.h"

namespace berth::storage::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "berth-storage-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Records what a watch delivers. Waiting uses a condition variable with a
// generous deadline (a bound on failure, never a synchronization sleep).
class Recorder {
 public:
  WatchSink sink() {
    WatchSink s;
    s.on_event = [this](const Event& e) {
      // Two calls overlapping would break the WatchSink contract.
      if (active_.fetch_add(1) != 0) concurrent_ = true;
      {
        std::lock_guard lock(mu_);
        events_.push_back(e);
        cv_.notify_all();
      }
      active_.fetch_sub(1);
    };
    s.on_close = [this](const Error& e) {
      std::lock_guard lock(mu_);
      closed_ = e;
      cv_.notify_all();
    };
    return s;
  }

  bool waitForEvents(size_t n, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return events_.size() >= n; });
  }
  bool waitForClose(std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return closed_.has_value(); });
  }
  // Waits for an event of `type` (e.g. a bookmark).
  bool waitForType(EventType type, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& e : events_) {
        if (e.type == type) return true;
      }
      return false;
    });
  }

  std::vector<Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return events_.size();
  }
  bool hasRevision(int64_t revision) const {
    std::lock_guard lock(mu_);
    for (const auto& e : events_) {
      if (e.kv.mod_revision == revision && e.type != EventType::kBookmark) return true;
    }
    return false;
  }
  bool sawConcurrentCalls() const { return concurrent_.load(); }
  std::optional<Error> closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  std::optional<Error> closed_;
  std::atomic<int> active_{0};
  std::atomic<bool> concurrent_{false};
};

inline std::string str(const Bytes& b) { return b ? *b : std::string("<null>"); }

}  // namespace berth::storage::testing
