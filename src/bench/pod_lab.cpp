#include "bench/pod_lab.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench/server_process.h"
#include "common/subprocess.h"
#include "runtime/oci/bundle.h"
#include "runtime/oci/runc.h"
#include "runtime/oci/runtime_spec.h"

namespace berth::bench::lab {

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

double msSince(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

// Mounts, paths and the OCI bundle of one floor container: the image's
// layers under an overlay with an upper layer of its own, as the agent's
// container manager builds a container, and a spec from the same builder.
struct FloorContainer {
  std::string id;
  std::string dir;
  bool mounted = false;
};

Status prepareFloorContainer(const Lab& lab, const runtime::Rootfs& rootfs, FloorContainer* c) {
  c->dir = lab.dir + "/floor/" + c->id;
  std::error_code ec;
  for (const char* sub : {"/rootfs", "/upper", "/work"}) fs::create_directories(c->dir + sub, ec);
  if (ec) return makeError(ErrorCode::kInternal, "mkdir " + c->dir + ": " + ec.message());
  std::string lower;
  for (const auto& l : rootfs.lowerdirs) lower += (lower.empty() ? "" : ":") + l;
  std::string data =
      "lowerdir=" + lower + ",upperdir=" + c->dir + "/upper,workdir=" + c->dir + "/work";
  if (::mount("overlay", (c->dir + "/rootfs").c_str(), "overlay", 0, data.c_str()) != 0)
    return makeError(ErrorCode::kInternal, std::string("mount overlay: ") + std::strerror(errno));
  c->mounted = true;
  runtime::ContainerSpec spec;
  spec.id = c->id;
  spec.rootfs = c->dir + "/rootfs";
  spec.args = {"/bin/sleep", "3600"};
  spec.env = {"PATH=/bin"};
  // No network of its own: the lab's (a pod's container joins its
  // sandbox's namespace the same way, by path).
  spec.network_ns = runtime::NamespaceSpec::join("/run/netns/" + lab.netns);
  spec.cgroups_path = lab.cgroup_root + "/floor/" + c->id;
  // As the agent does: no more open files than this process may have.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max != RLIM_INFINITY)
    spec.nofile_limit = std::min<uint64_t>(spec.nofile_limit, nofile.rlim_max);
  BERTH_ASSIGN_OR_RETURN(auto config, runtime::buildRuntimeConfig(spec));
  return runtime::Bundle(c->dir + "/bundle").write(config);
}

void removeFloorContainer(const Lab& lab, FloorContainer* c) {
  runtime::Runc runc(runtime::RuncConfig{kRunc, lab.floor_runc_root});
  (void)runc.remove(c->id, /*force=*/true);
  if (c->mounted) ::umount2((c->dir + "/rootfs").c_str(), MNT_DETACH);
  c->mounted = false;
  std::error_code ec;
  fs::remove_all(c->dir, ec);
}

// Mount points at or below `dir`, deepest first.
std::vector<std::string> mountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mounts");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string source, target;
    fields >> source >> target;
    // /proc/self/mounts escapes blanks and backslashes as octal.
    std::string path;
    for (size_t i = 0; i < target.size(); ++i) {
      if (target[i] == '\\' && i + 3 < target.size()) {
        path += static_cast<char>(std::stoi(target.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        path += target[i];
      }
    }
    if (path == dir || path.rfind(dir + "/", 0) == 0) out.push_back(path);
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

// Kills a process by pid only when its command line names `what` (a pid
// from a pidfile may have been reused).
void killIfNamed(pid_t pid, const std::string& what) {
  if (pid <= 0) return;
  std::string cmdline = readWholeFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  if (cmdline.find(what) != std::string::npos) ::kill(pid, SIGKILL);
}

// Removes a cgroup directory tree bottom-up under every controller; its
// processes may need a moment to exit after SIGKILL, so it retries.
std::vector<std::string> removeCgroups(const std::string& cgroup_root) {
  std::vector<std::string> left;
  // Never a controller's root itself: only the lab's own directory.
  if (cgroup_root.size() < 2 || cgroup_root[0] != '/') return left;
  for (int attempt = 0; attempt < 30; ++attempt) {
    left.clear();
    std::error_code ec;
    for (const auto& controller : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      std::string top = controller.path().string() + cgroup_root;
      if (!fs::is_directory(top, ec)) continue;
      std::vector<std::string> dirs;
      for (auto it = fs::recursive_directory_iterator(top, ec); !ec && it != fs::end(it);
           it.increment(ec))
        if (it->is_directory(ec)) dirs.push_back(it->path().string());
      std::sort(dirs.rbegin(), dirs.rend());
      dirs.push_back(top);
      for (const auto& d : dirs)
        if (::rmdir(d.c_str()) != 0 && errno != ENOENT) left.push_back(d);
    }
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return left;
}

}  // namespace

Interrupts::Interrupts() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR2}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, &old_);
  thread_ = std::thread([this, set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      // SIGUSR2 from the destructor ends the thread.
      if (sig == SIGUSR2 && done_) return;
      if (sig == SIGUSR2) continue;
      int n = ++count_;
      std::fprintf(stderr, "\nberth bench pods: signal %d, %s\n", sig,
                   n == 1 ? "cleaning up (again to skip deleting pods through the API)"
                          : "skipping the API, removing what is left directly");
      std::lock_guard lock(mu_);
      cv_.notify_all();
    }
  });
}

Interrupts::~Interrupts() {
  done_ = true;
  pthread_kill(thread_.native_handle(), SIGUSR2);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

bool Interrupts::sleepFor(std::chrono::duration<double> d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return interrupted(); });
}

Status runTool(const std::vector<std::string>& argv) {
  BERTH_ASSIGN_OR_RETURN(auto r, runSubprocess(argv));
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return makeError(ErrorCode::kInternal,
                     cmd + ": exit " + std::to_string(r.exit_code) + ": " + r.err.substr(0, 500));
  }
  return okStatus();
}

Status setUpLab(Lab* lab) {
  char tmpl[] = "/tmp/berth-bench-pods-XXXXXX";
  if (!::mkdtemp(tmpl)) return makeError(ErrorCode::kInternal, "mkdtemp failed");
  lab->dir = tmpl;
  lab->data_dir = lab->dir + "/data";
  lab->floor_runc_root = lab->dir + "/floor-runc";
  std::string suffix = std::to_string(::getpid());
  lab->netns = "berth-bench-" + suffix;
  lab->cgroup_root = "/berth-bench-" + suffix;
  BERTH_RETURN_IF_ERROR(runTool({kIp, "netns", "add", lab->netns}));
  lab->netns_created = true;
  // The node's address on a veth pair inside the lab: nothing leads out.
  for (std::vector<std::string> cmd :
       {std::vector<std::string>{"link", "set", "lo", "up"},
        {"link", "add", "lab0", "type", "veth", "peer", "name", "lab1"},
        {"addr", "add", std::string(kNodeIp) + "/24", "dev", "lab0"},
        {"link", "set", "lab0", "up"},
        {"link", "set", "lab1", "up"}}) {
    cmd.insert(cmd.begin(), {kIp, "-n", lab->netns});
    BERTH_RETURN_IF_ERROR(runTool(cmd));
  }
  return okStatus();
}

Status enterLab(Lab* lab) {
  lab->host_netns_fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int fd = ::open(("/run/netns/" + lab->netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (lab->host_netns_fd < 0 || fd < 0)
    return makeError(ErrorCode::kInternal, std::string("open netns: ") + std::strerror(errno));
  int rc = ::setns(fd, CLONE_NEWNET);
  int err = errno;
  ::close(fd);
  if (rc != 0) return makeError(ErrorCode::kInternal, std::string("setns: ") + std::strerror(err));
  lab->entered = true;
  return okStatus();
}

void leaveLab(Lab* lab) {
  if (lab->entered && lab->host_netns_fd >= 0) {
    if (::setns(lab->host_netns_fd, CLONE_NEWNET) == 0) lab->entered = false;
  }
  if (lab->host_netns_fd >= 0) ::close(lab->host_netns_fd);
  lab->host_netns_fd = -1;
}

Status packImage(const Lab& lab, double* ms) {
  auto t0 = SteadyClock::now();
  std::string src = lab.dir + "/image";
  std::error_code ec;
  fs::create_directories(src + "/bin", ec);
  fs::create_directories(src + "/tmp", ec);
  fs::copy_file(kBusybox, src + "/bin/busybox", ec);
  if (ec) return makeError(ErrorCode::kInternal, "copy busybox: " + ec.message());
  for (const char* tool : {"sh", "sleep", "cat", "echo", "ls", "true", "false", "kill", "ps"}) {
    fs::create_symlink("busybox", src + "/bin/" + tool, ec);
    if (ec) return makeError(ErrorCode::kInternal, "symlink: " + ec.message());
  }
  BERTH_ASSIGN_OR_RETURN(auto store, runtime::ImageStore::open(lab.data_dir + "/agent/images"));
  runtime::ImageConfigOverrides overrides;
  overrides.env = {"PATH=/bin"};
  overrides.cmd = {"/bin/sh"};
  BERTH_RETURN_IF_ERROR(store->pack(src, kImage, overrides));
  *ms = msSince(t0);
  return okStatus();
}

namespace {

// `runc run -d` of a prepared floor container; how long the call took.
Status runFloorContainer(const Lab& lab, const FloorContainer& c, int dev_null, double* ms) {
  std::string err_path = c.dir + "/runc.err";
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  auto t0 = SteadyClock::now();
  auto r = runtime::runProcess({kRunc, "--root", lab.floor_runc_root, "run", "-d", "--bundle",
                                c.dir + "/bundle", "--pid-file", c.dir + "/init.pid", c.id},
                               dev_null, err_fd);
  *ms = msSince(t0);
  if (err_fd >= 0) ::close(err_fd);
  if (!r.ok()) return r.error();
  if (r->exit_code != 0)
    return makeError(ErrorCode::kInternal, "runc run: exit " + std::to_string(r->exit_code) + ": " +
                                               readWholeFile(err_path).substr(0, 500));
  // Running, not merely started: runc state says so.
  auto state = runtime::Runc(runtime::RuncConfig{kRunc, lab.floor_runc_root}).state(c.id);
  if (!state.ok() || state->status != "running")
    return makeError(ErrorCode::kInternal, "floor container " + c.id + " is not running");
  return okStatus();
}

}  // namespace

Status measureFloor(const Lab& lab, const runtime::Rootfs& rootfs, int runs, Interrupts& interrupts,
                    std::vector<double>* out) {
  std::error_code ec;
  fs::create_directories(lab.floor_runc_root, ec);
  int dev_null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  Status st = okStatus();
  for (int i = 0; i < runs && st.ok() && !interrupts.interrupted(); ++i) {
    FloorContainer c;
    c.id = "bench-floor-run-" + std::to_string(i);
    st = prepareFloorContainer(lab, rootfs, &c);
    double ms = 0;
    if (st.ok()) st = runFloorContainer(lab, c, dev_null, &ms);
    if (st.ok()) out->push_back(ms);
    removeFloorContainer(lab, &c);
  }
  ::close(dev_null);
  return st;
}

Status measureFloorAtOnce(const Lab& lab, const runtime::Rootfs& rootfs, int n,
                          Interrupts& interrupts, std::vector<double>* out, double* all_ms) {
  std::error_code ec;
  fs::create_directories(lab.floor_runc_root, ec);
  std::vector<FloorContainer> cs(static_cast<size_t>(n));
  Status st = okStatus();
  for (int i = 0; i < n && st.ok() && !interrupts.interrupted(); ++i) {
    cs[i].id = "bench-floor-" + std::to_string(n) + "-" + std::to_string(i);
    st = prepareFloorContainer(lab, rootfs, &cs[i]);
  }
  int dev_null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  std::vector<double> ms(cs.size(), -1);
  std::vector<Status> results(cs.size(), okStatus());
  if (st.ok() && !interrupts.interrupted()) {
    // Every runc call starts at once; each is timed from that common start.
    std::mutex mu;
    std::condition_variable cv;
    bool go = false;
    std::chrono::steady_clock::time_point t0;
    std::vector<std::thread> threads;
    for (size_t i = 0; i < cs.size(); ++i)
      threads.emplace_back([&, i] {
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return go; });
        }
        double own = 0;
        results[i] = runFloorContainer(lab, cs[i], dev_null, &own);
        ms[i] = msSince(t0);
      });
    {
      std::lock_guard lock(mu);
      t0 = SteadyClock::now();
      go = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
    *all_ms = msSince(t0);
    for (size_t i = 0; i < cs.size() && st.ok(); ++i) st = results[i];
    if (st.ok()) *out = ms;
  }
  ::close(dev_null);
  for (auto& c : cs)
    if (!c.dir.empty()) removeFloorContainer(lab, &c);
  return st;
}

bool removeLab(Lab* lab) {
  if (lab->dir.empty()) {
    leaveLab(lab);
    return true;
  }
  bool clean = true;
  // Containers still running (the agent leaves them when it stops).
  for (const std::string& root : {lab->data_dir + "/agent/runtime/runc", lab->floor_runc_root}) {
    if (!fs::exists(root)) continue;
    runtime::Runc runc(runtime::RuncConfig{kRunc, root});
    auto list = runc.list();
    if (!list.ok()) continue;
    for (const auto& c : *list) {
      (void)runc.kill(c.id, SIGKILL, /*all=*/true);
      (void)runc.remove(c.id, /*force=*/true);
    }
  }
  // Shims exit once their container has; any still there are killed.
  std::error_code ec;
  std::string containers = lab->data_dir + "/agent/runtime/containers";
  if (fs::is_directory(containers, ec))
    for (const auto& c : fs::directory_iterator(containers, ec)) {
      std::string pid_text = readWholeFile(c.path().string() + "/state/shim.pid");
      if (!pid_text.empty()) killIfNamed(static_cast<pid_t>(std::atol(pid_text.c_str())), "shim");
    }
  leaveLab(lab);
  for (const auto& m : mountsUnder(lab->dir))
    if (::umount2(m.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      std::fprintf(stderr, "cleanup: cannot unmount %s: %s\n", m.c_str(), std::strerror(errno));
      clean = false;
    }
  if (lab->netns_created) {
    Status st = runTool({kIp, "netns", "del", lab->netns});
    if (!st.ok()) {
      std::fprintf(stderr, "cleanup: %s\n", st.error().message.c_str());
      clean = false;
    }
    lab->netns_created = false;
  }
  for (const auto& d : removeCgroups(lab->cgroup_root)) {
    std::fprintf(stderr, "cleanup: cannot remove cgroup %s\n", d.c_str());
    clean = false;
  }
  auto mounts_left = mountsUnder(lab->dir);
  if (mounts_left.empty()) {
    fs::remove_all(lab->dir, ec);
    if (ec) {
      std::fprintf(stderr, "cleanup: remove %s: %s\n", lab->dir.c_str(), ec.message().c_str());
      clean = false;
    }
  } else {
    std::fprintf(stderr, "cleanup: %zu mounts left under %s, so it stays (first: %s)\n",
                 mounts_left.size(), lab->dir.c_str(), mounts_left.front().c_str());
    clean = false;
  }
  lab->dir.clear();
  return clean;
}

}  // namespace berth::bench::lab
