#include "agent/real_pod_runtime.h"

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "agent/container_env.h"
#include "agent/container_spec_builder.h"
#include "agent/probe/probe_manager.h"
#include "agent/probe/probers.h"
#include "agent/qos.h"
#include "agent/volumes/atomic_writer.h"
#include "agent/volumes/projection.h"
#include "api/kinds/access.h"
#include "common/error.h"
#include "runtime/oci/cgroups.h"
#include "runtime/oci/exec.h"

namespace berth::agent {

namespace fs = std::filesystem;
namespace json = boost::json;
using api::strAt;

namespace {

// The runtime's RFC 3339 time with nanoseconds as metav1.Time (seconds).
std::string toSeconds(const std::string& rfc3339_nano) {
  return rfc3339_nano.empty() ? "" : rfc3339_nano.substr(0, 19) + "Z";
}

Attempt attemptOf(const runtime::ContainerInfo& info) {
  Attempt a;
  a.id = info.id;
  a.image_id = info.image_id;
  if (info.state == runtime::ContainerState::kRunning) {
    a.running = true;
    a.started_at = toSeconds(info.created_at);
    return a;
  }
  a.running = false;
  a.exit_code = info.exit.exit_code;
  a.signal = info.exit.signal;
  a.reason = info.exit.reason;
  if (info.state == runtime::ContainerState::kUnknown) {
    a.exit_code = 255;
    a.reason = "Unknown";
  }
  a.message = info.exit.message;
  a.started_at = toSeconds(info.exit.started_at);
  a.finished_at = toSeconds(info.exit.finished_at);
  return a;
}

// Whether `dir` is the root of a mount (its device differs from its parent's).
bool isMountPoint(const std::string& dir) {
  struct stat self {
  }, parent{};
  if (::stat(dir.c_str(), &self) != 0) return false;
  if (::stat((dir + "/..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

// A tmpfs over `dir` (created if missing) unless one is there already.
Status ensureTmpfs(const std::string& dir, const char* options) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return makeError(ErrorCode::kInternal, "create " + dir + ": " + ec.message());
  if (isMountPoint(dir)) return okStatus();
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options) != 0)
    return makeError(ErrorCode::kInternal, "mount tmpfs at " + dir + ": " + std::strerror(errno));
  return okStatus();
}

}  // namespace

int minOomScoreAdj() {
  std::ifstream status("/proc/self/status");
  std::string line;
  constexpr int kCapSysResource = 24;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    uint64_t caps = std::stoull(line.substr(7), nullptr, 16);
    if (caps >> kCapSysResource & 1) return -1000;
    break;
  }
  int own = 0;
  std::ifstream("/proc/self/oom_score_adj") >> own;
  return own;
}

Result<std::string> RealPodRuntime::ensureSandbox(const api::Object& pod) {
  BERTH_ASSIGN_OR_RETURN(auto sandbox, agent::ensureSandbox(options_.sandbox, pod));
  BERTH_RETURN_IF_ERROR(ensureVolumes(pod, sandbox));
  return sandbox.ip;
}

std::map<std::string, std::string> RealPodRuntime::volumePaths(const api::Object& pod,
                                                               const Sandbox& sandbox) {
  std::map<std::string, std::string> out;
  if (const json::array* vols = api::arrAt(pod, {"spec", "volumes"}))
    for (const auto& v : *vols) {
      const json::object* vo = api::asObj(&v);
      if (!vo) continue;
      const std::string name = strAt(*vo, {"name"});
      const json::object* host = api::objAt(*vo, {"hostPath"});
      out[name] = host ? strAt(*host, {"path"}) : sandbox.dir + "/volumes/" + name;
    }
  return out;
}

Status RealPodRuntime::ensureVolumes(const api::Object& pod, const Sandbox& sandbox) {
  const std::string ns = api::namespaceOf(pod);
  auto lookup = [&](const NamespacedLookup& f) -> volumes::ObjectLookup {
    return [&, f](const std::string& name) { return f(ns, name); };
  };
  const json::array* vols = api::arrAt(pod, {"spec", "volumes"});
  if (!vols) return okStatus();
  const auto paths = volumePaths(pod, sandbox);
  for (const auto& v : *vols) {
    const json::object* vo = api::asObj(&v);
    if (!vo) continue;
    const std::string name = strAt(*vo, {"name"});
    const std::string& dir = paths.at(name);
    std::error_code ec;
    if (api::objAt(*vo, {"hostPath"})) continue;  // the node's own path
    if (const json::object* empty = api::objAt(*vo, {"emptyDir"})) {
      if (strAt(*empty, {"medium"}) == "Memory") {
        BERTH_RETURN_IF_ERROR(ensureTmpfs(dir, "mode=0777"));
      } else {
        fs::create_directories(dir, ec);
        if (ec) return makeError(ErrorCode::kInternal, "create " + dir + ": " + ec.message());
        fs::permissions(dir, fs::perms::all, ec);
      }
      continue;
    }
    Result<volumes::Payload> payload = volumes::Payload{};
    if (const json::object* cm = api::objAt(*vo, {"configMap"})) {
      auto obj = options_.config_maps(ns, strAt(*cm, {"name"}));
      if (!obj.ok()) return obj.error();
      payload = volumes::configMapPayload(*cm, obj->get());
    } else if (const json::object* sec = api::objAt(*vo, {"secret"})) {
      auto obj = options_.secrets(ns, strAt(*sec, {"secretName"}));
      if (!obj.ok()) return obj.error();
      payload = volumes::secretPayload(*sec, obj->get());
      // Secrets live in memory only, as upstream's secret volumes do.
      BERTH_RETURN_IF_ERROR(ensureTmpfs(dir, "mode=0755"));
    } else if (const json::object* dapi = api::objAt(*vo, {"downwardAPI"})) {
      payload = volumes::downwardApiPayload(
          *dapi, pod, options_.allocatable,
          static_cast<int>(api::intAt(*dapi, {"defaultMode"}).value_or(0644)));
    } else if (const json::object* proj = api::objAt(*vo, {"projected"})) {
      payload =
          volumes::projectedPayload(*proj, pod, options_.allocatable, lookup(options_.config_maps),
                                    lookup(options_.secrets), nullptr);
    } else {
      return makeError(ErrorCode::kInvalid,
                       "volume " + name + ": this volume type is not supported");
    }
    if (!payload.ok()) return payload.error();
    BERTH_RETURN_IF_ERROR(volumes::AtomicWriter(dir, clock_).write(*payload));
  }
  return okStatus();
}

Status RealPodRuntime::destroySandbox(const api::Object& pod) {
  const std::string uid = api::uid(pod);
  for (const auto& c : containers_.list(uid)) {
    if (c.state == runtime::ContainerState::kRunning)
      (void)containers_.stop(c.id, std::chrono::seconds(0));
    (void)containers_.remove(c.id);
  }
  // The pod's cgroup, whichever QoS class it had (a stub pod from a sweep
  // does not say).
  if (auto cg = runtime::CgroupV1::detect(); cg.ok())
    for (const char* qos : {"", "/burstable", "/besteffort"})
      (void)cg->removeTree(options_.cgroup_root + qos + "/pod" + uid);
  auto sandbox = loadSandbox(options_.sandbox, uid);
  if (!sandbox.ok()) return okStatus();
  // Volumes mounted as tmpfs go before the directory does.
  std::error_code ec;
  for (auto it = fs::directory_iterator(sandbox->dir + "/volumes", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    ::umount2(it->path().c_str(), MNT_DETACH);
  return agent::destroySandbox(options_.sandbox, *sandbox);
}

Status RealPodRuntime::releaseNetwork(const api::Object& pod) {
  auto sandbox = loadSandbox(options_.sandbox, api::uid(pod));
  if (!sandbox.ok()) return okStatus();
  return agent::releaseNetwork(options_.sandbox, &*sandbox);
}

Result<RuntimeContainer> RealPodRuntime::startContainer(const api::Object& pod,
                                                        const api::Object& container, int attempt,
                                                        const std::string& pod_ip) {
  const std::string uid = api::uid(pod);
  const std::string name = strAt(container, {"name"});
  BERTH_ASSIGN_OR_RETURN(auto sandbox, loadSandbox(options_.sandbox, uid));
  // The volumes were written by this sync's ensureSandbox.
  auto vols = volumePaths(pod, sandbox);
  const std::string image = strAt(container, {"image"});
  BERTH_ASSIGN_OR_RETURN(auto rootfs, images_.prepare(image));
  const std::string ns = api::namespaceOf(pod);
  EnvSources sources;
  sources.config_maps = [&](const std::string& n) { return options_.config_maps(ns, n); };
  sources.secrets = [&](const std::string& n) { return options_.secrets(ns, n); };
  sources.node = options_.allocatable;
  api::Object with_ip = pod;
  if (!pod_ip.empty()) {
    auto& status = with_ip["status"].is_object() ? with_ip["status"].as_object()
                                                 : (with_ip["status"] = json::object()).as_object();
    status["podIP"] = pod_ip;
  }
  BERTH_ASSIGN_OR_RETURN(auto env, makeEnvironment(with_ip, container, sources));

  BuildInputs in;
  in.pod = &with_ip;
  in.container = &container;
  in.image = &rootfs.config;
  in.env = std::move(env);
  in.paths.netns = sandbox.netns;
  in.paths.ipc_ns = sandbox.ipc_ns;
  in.paths.uts_ns = sandbox.uts_ns;
  in.paths.hosts = sandbox.hosts;
  in.paths.resolv_conf = sandbox.resolv_conf;
  in.paths.hostname_file = sandbox.hostname_file;
  in.paths.shm = sandbox.shm;
  in.paths.volumes = std::move(vols);
  const std::string cdir = sandbox.dir + "/containers/" + name;
  std::error_code ec;
  fs::create_directories(cdir, ec);
  in.paths.termination_log = cdir + "/termination-log-" + std::to_string(attempt);
  { std::ofstream(in.paths.termination_log).flush(); }
  in.cgroup_parent = options_.cgroup_root + podCgroupParent(pod, "");
  in.memory_capacity = options_.memory_capacity;
  in.attempt = attempt;
  BERTH_ASSIGN_OR_RETURN(auto spec, buildContainerSpec(in));
  spec.oom_score_adj = std::max(spec.oom_score_adj, options_.min_oom_score_adj);
  // The agent cannot hand containers more open files than it may have.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max != RLIM_INFINITY)
    spec.nofile_limit = std::min<uint64_t>(spec.nofile_limit, nofile.rlim_max);

  runtime::ContainerConfig cc;
  cc.pod_uid = uid;
  cc.name = name;
  cc.attempt = attempt;
  cc.image = image;
  cc.spec = std::move(spec);
  cc.log_path = sandbox.dir + "/logs/" + name + "/" + std::to_string(attempt) + ".log";
  BERTH_ASSIGN_OR_RETURN(auto info, containers_.start(cc));
  return RuntimeContainer{name, attempt, attemptOf(info)};
}

std::vector<RuntimeContainer> RealPodRuntime::containers(const std::string& pod_uid) {
  std::vector<RuntimeContainer> out;
  for (const auto& c : containers_.list(pod_uid))
    out.push_back(RuntimeContainer{c.name, c.attempt, attemptOf(c)});
  return out;
}

Status RealPodRuntime::runHook(const api::Object& container, const std::string& id,
                               const std::string& pod_ip, const api::Object& handler,
                               std::chrono::milliseconds timeout) {
  if (const json::object* exec = api::objAt(handler, {"exec"})) {
    runtime::ExecOptions o;
    if (const json::array* cmd = api::arrAt(*exec, {"command"}))
      for (const auto& a : *cmd) o.args.push_back(api::asStr(&a));
    o.timeout = timeout;
    o.max_output_bytes = 10 * 1024;
    BERTH_ASSIGN_OR_RETURN(auto r, runtime::execInContainer(containers_.runc(), id, o));
    std::string cmd;
    for (const auto& a : o.args) cmd += (cmd.empty() ? "" : " ") + a;
    if (r.timed_out) return makeError(ErrorCode::kInternal, "command '" + cmd + "' timed out");
    if (r.exit_code != 0)
      return makeError(ErrorCode::kInternal, "command '" + cmd + "' exited with " +
                                                 std::to_string(r.exit_code) + ": " + r.err +
                                                 r.out);
    return okStatus();
  }
  if (const json::object* http = api::objAt(handler, {"httpGet"})) {
    BERTH_ASSIGN_OR_RETURN(probe::HttpProbe p, probe::httpProbeOf(*http, container, pod_ip));
    probe::ProbeOutcome out = probe::probeHttp(p, timeout);
    if (out.result == probe::ProbeResult::kFailure || out.result == probe::ProbeResult::kUnknown)
      return makeError(ErrorCode::kInternal, "HTTP lifecycle hook (" + p.path +
                                                 ") for Container \"" + strAt(container, {"name"}) +
                                                 "\" failed - error: " + out.output);
    return okStatus();
  }
  if (const json::object* sleep = api::objAt(handler, {"sleep"})) {
    auto d = std::chrono::seconds(api::intAt(*sleep, {"seconds"}).value_or(0));
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(d, timeout));
    return okStatus();
  }
  return makeError(ErrorCode::kBadRequest, "a lifecycle hook needs exec, httpGet or sleep");
}

std::vector<std::string> RealPodRuntime::podUids() {
  std::set<std::string> uids;
  for (const auto& c : containers_.list()) uids.insert(c.pod_uid);
  std::error_code ec;
  for (auto it = fs::directory_iterator(options_.sandbox.pods_dir, ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    if (it->is_directory()) uids.insert(it->path().filename().string());
  return {uids.begin(), uids.end()};
}

Status RealPodRuntime::stopContainer(const std::string& id, std::chrono::milliseconds grace) {
  return containers_.stop(id, grace);
}

}  // namespace berth::agent
