#pragma once

// The kubelet's container restart back-off (pkg/kubelet/kuberuntime
// doBackOff over client-go's flowcontrol.Backoff): the first exit restarts
// at once; later ones wait 10 s from the exit, doubling up to 5 min; an
// exit more than twice the maximum after the last restart starts over. While a container is backing
// off it waits with reason CrashLoopBackOff and upstream's message.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace berth::agent {

class RestartBackoff {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  using Duration = std::chrono::seconds;

  explicit RestartBackoff(Duration initial = std::chrono::seconds(10),
                          Duration max = std::chrono::minutes(5))
      : initial_(initial), max_(max) {}

  // Called when the agent wants to restart a container that finished at
  // `finished`: nullopt when it may start now (the back-off grows for next
  // time), else the message of the CrashLoopBackOff wait.
  std::optional<std::string> check(const std::string& key, const std::string& container,
                                   const std::string& pod_desc, TimePoint finished, TimePoint now);
  // flowcontrol.Backoff's IsInBackOffSinceUpdate and Next, as image pulls
  // use them: within the back-off counted from the last failure, and
  // recording one more failure.
  bool inBackoffSinceUpdate(const std::string& key, TimePoint now) const;
  void next(const std::string& key, TimePoint now);
  Duration current(const std::string& key) const;

  // When a container that finished at `finished` may restart (nullopt: now).
  std::optional<TimePoint> retryAt(const std::string& key, TimePoint finished) const;
  void forget(const std::string& key);

  // Go's time.Duration String for whole seconds: 10s, 1m20s, 5m0s.
  static std::string goDuration(Duration d);

 private:
  struct Entry {
    Duration backoff;
    TimePoint last_update;
  };
  const Duration initial_;
  const Duration max_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace berth::agent
