#include "agent/restart_backoff.h"

#include <algorithm>

namespace berth::agent {

std::string RestartBackoff::goDuration(Duration d) {
  long long s = d.count();
  if (s < 60) return std::to_string(s) + "s";
  long long h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  out += std::to_string(m) + "m" + std::to_string(sec) + "s";
  return out;
}

std::optional<std::string> RestartBackoff::check(const std::string& key,
                                                 const std::string& container,
                                                 const std::string& pod_desc, TimePoint finished,
                                                 TimePoint now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  // hasExpired: an exit more than twice the maximum after the last update
  // starts over.
  const bool expired = it != entries_.end() && finished - it->second.last_update > 2 * max_;
  // IsInBackOffSince(finished).
  if (it != entries_.end() && !expired && now - finished < it->second.backoff)
    return "back-off " + goDuration(it->second.backoff) +
           " restarting failed container=" + container + " pod=" + pod_desc;
  // Next(finished).
  if (it == entries_.end() || expired) {
    entries_[key] = Entry{initial_, now};
  } else {
    it->second.backoff = std::min(it->second.backoff * 2, max_);
    it->second.last_update = now;
  }
  return std::nullopt;
}

std::optional<RestartBackoff::TimePoint> RestartBackoff::retryAt(const std::string& key,
                                                                 TimePoint finished) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || finished - it->second.last_update > 2 * max_) return std::nullopt;
  return finished + it->second.backoff;
}

bool RestartBackoff::inBackoffSinceUpdate(const std::string& key, TimePoint now) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || now - it->second.last_update > 2 * max_) return false;
  return now - it->second.last_update < it->second.backoff;
}

void RestartBackoff::next(const std::string& key, TimePoint now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || now - it->second.last_update > 2 * max_) {
    entries_[key] = Entry{initial_, now};
    return;
  }
  it->second.backoff = std::min(it->second.backoff * 2, max_);
  it->second.last_update = now;
}

RestartBackoff::Duration RestartBackoff::current(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? Duration(0) : it->second.backoff;
}

void RestartBackoff::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

}  // namespace berth::agent
