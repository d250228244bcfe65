#pragma once

// Tells the agent when a container exits, in the role of upstream's evented
// PLEG (the runtime's container events instead of relisting every second):
// each container's shim leaves <state dir>/exit.json when the container
// ends, and an inotify watch on that directory reports it. Nothing runs
// while nothing exits, so an idle node costs no CPU.

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

namespace berth::runtime {

class ExitWatcher {
 public:
  // `on_exit` gets the container id; it runs on the watcher's thread and
  // must be quick (it queues work).
  explicit ExitWatcher(std::function<void(const std::string& id)> on_exit);
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  Status start();
  void stop();

  // Watches a container's state directory (ContainerManager::stateDir). A
  // container whose exit.json is already there is reported at once.
  Status watch(const std::string& id, const std::string& state_dir);
  void unwatch(const std::string& id);
  size_t watching() const;

 private:
  void loop();

  std::function<void(const std::string&)> on_exit_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  mutable std::mutex mu_;
  std::map<int, std::string> by_wd_;  // watch descriptor -> container id
  std::map<std::string, int> by_id_;
  std::thread thread_;
};

}  // namespace berth::runtime
