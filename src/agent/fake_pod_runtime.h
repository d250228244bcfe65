#pragma once

// A PodRuntime for unit tests of the pod syncer and the pod workers:
// containers run until the test says they exit; stopping one makes it exit
// 137 (SIGKILL), unless the test made stops fail. Thread-safe (pod workers
// in run mode sync several pods at once).

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/pod_syncer.h"
#include "api/kinds/access.h"
#include "api/object.h"
#include "common/error.h"

namespace berth::agent {

// Containers that run until the test says they exit.
class FakeRuntime : public PodRuntime {
 public:
  explicit FakeRuntime(Clock& clock) : clock_(clock) {}
  Result<std::string> ensureSandbox(const api::Object& pod) override {
    std::lock_guard lock(mu);
    if (fail_sandbox) return makeError(ErrorCode::kInternal, "CNI failed");
    sandboxes++;
    sandbox_uids.insert(api::uid(pod));
    return std::string("10.244.1.7");
  }
  Status destroySandbox(const api::Object& pod) override {
    std::lock_guard lock(mu);
    destroyed++;
    sandbox_uids.erase(api::uid(pod));
    return okStatus();
  }
  Status releaseNetwork(const api::Object& pod) override {
    std::lock_guard lock(mu);
    released.insert(api::uid(pod));
    return okStatus();
  }
  Result<RuntimeContainer> startContainer(const api::Object& pod, const api::Object& c, int attempt,
                                          const std::string&) override {
    std::lock_guard lock(mu);
    RuntimeContainer r;
    r.name = api::strAt(c, {"name"});
    r.attempt = attempt;
    r.state.id = r.name + "-" + std::to_string(attempt);
    r.state.running = true;
    r.state.started_at = formatRfc3339(clock_.now());
    r.state.image_id = "sha256:abc";
    all.push_back(r);
    uid_of[r.state.id] = api::uid(pod);
    return r;
  }
  std::vector<RuntimeContainer> containers(const std::string& uid) override {
    std::lock_guard lock(mu);
    std::vector<RuntimeContainer> out;
    for (const auto& c : all)
      if (uid_of[c.state.id] == uid) out.push_back(c);
    return out;
  }
  // Pods with a sandbox or a running container.
  std::vector<std::string> podUids() override {
    std::lock_guard lock(mu);
    std::set<std::string> uids = sandbox_uids;
    for (const auto& c : all)
      if (c.state.running) uids.insert(uid_of[c.state.id]);
    return {uids.begin(), uids.end()};
  }
  Status stopContainer(const std::string& id, std::chrono::milliseconds grace) override {
    if (stopping) stopping(id);  // outside the lock: it may block
    std::lock_guard lock(mu);
    last_grace = grace;
    if (fail_stops) return makeError(ErrorCode::kTimeout, "container " + id + " did not stop");
    exit(id, 137, 9);
    return okStatus();
  }
  Status runHook(const api::Object& container, const std::string& id, const std::string&,
                 const api::Object& handler, std::chrono::milliseconds timeout) override {
    std::lock_guard lock(mu);
    hooks.push_back(api::strAt(container, {"name"}) + "/" + id + ":" +
                    (handler.contains("exec") ? "exec" : "http"));
    hook_timeout = timeout;
    if (fail_hooks) return makeError(ErrorCode::kInternal, "command 'false' exited with 1: ");
    return okStatus();
  }
  void exit(const std::string& id, int code, int signal = 0) {
    std::lock_guard lock(mu);
    for (auto& c : all)
      if (c.state.id == id) {
        c.state.running = false;
        c.state.exit_code = code;
        c.state.signal = signal;
        c.state.reason = code == 0 ? "Completed" : "Error";
        c.state.finished_at = formatRfc3339(clock_.now());
      }
  }

  Clock& clock_;
  std::recursive_mutex mu;
  std::vector<RuntimeContainer> all;
  std::map<std::string, std::string> uid_of;  // container id -> pod uid
  std::set<std::string> sandbox_uids;
  std::set<std::string> released;  // pods whose network went back
  int sandboxes = 0, destroyed = 0;
  bool fail_sandbox = false;
  std::chrono::milliseconds last_grace{0};
  std::vector<std::string> hooks;
  bool fail_hooks = false;
  bool fail_stops = false;  // stops time out: the containers keep running
  // Called as a stop begins (the test may block it).
  std::function<void(const std::string& id)> stopping;
  std::chrono::milliseconds hook_timeout{0};
};

}  // namespace berth::agent
