#pragma once

// The lab `berth bench pods` (pod_bench.cpp) runs in, as tests/e2e/lab.sh
// builds one for the end-to-end tests: a network namespace of its own with
// the node IP on a veth pair inside (no route out), a temp directory with the
// agent's data dir and a busybox image packed into its store, a cgroup root
// of its own; and the floor, `runc` of that image's rootfs without the
// agent. removeLab() takes all of it away again.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "runtime/image/image_store.h"

namespace berth::bench::lab {

inline constexpr char kIp[] = "/usr/sbin/ip";
inline constexpr char kNsenter[] = "/usr/bin/nsenter";
inline constexpr char kRunc[] = "/usr/sbin/runc";
inline constexpr char kBusybox[] = "/usr/bin/busybox";
inline constexpr char kCniDir[] = "/usr/lib/cni";
// The lab's addresses exist only inside its namespace.
inline constexpr char kNodeIp[] = "10.124.0.2";
inline constexpr char kPodCidr[] = "10.124.2.0/23";
inline constexpr char kImage[] = "bench/busybox:1";

// SIGINT, SIGTERM and SIGHUP end the bench through its cleanup: they are
// blocked in every thread (the constructor must run before any thread
// starts) and taken by one thread with sigwait, which only raises a flag
// that the bench's waits poll. The destructor restores the signal mask.
class Interrupts {
 public:
  Interrupts();
  ~Interrupts();
  Interrupts(const Interrupts&) = delete;
  Interrupts& operator=(const Interrupts&) = delete;

  // Signals so far: one asks for the cleanup, a second to skip the API.
  int count() const { return count_.load(); }
  bool interrupted() const { return count_.load() > 0; }
  // Sleeps for `d`; false when interrupted (before or during).
  bool sleepFor(std::chrono::duration<double> d);

 private:
  sigset_t old_;
  std::atomic<int> count_{0};
  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

// What the lab consists of, so that removeLab() removes exactly that.
struct Lab {
  std::string dir;          // temp dir; everything on disk lives below
  std::string data_dir;     // the agent server's --data-dir
  std::string netns;        // the lab network namespace's name
  std::string cgroup_root;  // the agent's --cgroup-root (and the floor's parent)
  std::string floor_runc_root;
  bool netns_created = false;
  int host_netns_fd = -1;
  bool entered = false;
};

// Creates the temp dir and the namespace with its veth pair; names are
// unique per bench process.
Status setUpLab(Lab* lab);
// Moves the calling (main) thread into the lab's network namespace: the
// threads it starts from then on (clients, watches) and the processes it
// forks live there too, and reach the API on the lab's 127.0.0.1.
Status enterLab(Lab* lab);
// Back to the namespace the thread came from.
void leaveLab(Lab* lab);
// Packs busybox's tools as kImage into DATA/agent/images; how long it took in *ms.
Status packImage(const Lab& lab, double* ms);
// Times `runc run -d` (the call the agent's shim makes) of `runs` fresh
// containers of `rootfs` one after another (an overlay each, `sleep 3600`,
// the lab's network namespace, a cgroup under the lab's root); only the runc
// calls are timed. Each container goes right after.
Status measureFloor(const Lab& lab, const runtime::Rootfs& rootfs, int runs, Interrupts& interrupts,
                    std::vector<double>* out);
// The same for n containers at once (the floor for n pods created at once):
// each call timed from their common start, *all_ms until the last returned.
Status measureFloorAtOnce(const Lab& lab, const runtime::Rootfs& rootfs, int n,
                          Interrupts& interrupts, std::vector<double>* out, double* all_ms);
// Removes what the lab holds, in dependency order, whatever part of it
// exists: containers left in either runc root (the agent leaves them when it
// stops) and their shims, the lab's network namespace (left first, then
// deleted: its bridge and veths go with it), every mount under the lab's
// directory, the cgroup root under every controller, and the directory.
// Prints what could not be removed; true when nothing was left.
bool removeLab(Lab* lab);
// Runs a tool (argv[0] a path) to completion; its stderr in the error.
Status runTool(const std::vector<std::string>& argv);

}  // namespace berth::bench::lab
