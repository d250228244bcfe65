#include "agent/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "api/object.h"
#include "common/error.h"
#include "common/file_util.h"
#include "network/netns.h"

namespace berth::agent {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

Error sysError(const std::string& what) {
  return makeError(ErrorCode::kInternal, what + ": " + std::strerror(errno));
}

// A new IPC namespace and (when uts_path is set) a new UTS namespace with
// the pod's hostname, kept by bind mounts of their nsfs files.
Status createIpcUts(const std::string& ipc_path, const std::string& uts_path,
                    const std::string& hostname) {
  for (const auto& p : {ipc_path, uts_path}) {
    if (p.empty()) continue;
    int fd = ::open(p.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0) return sysError("create " + p);
    ::close(fd);
  }
  Status result = okStatus();
  std::thread t([&] {
    int flags = CLONE_NEWIPC | (uts_path.empty() ? 0 : CLONE_NEWUTS);
    if (::unshare(flags) != 0) {
      result = sysError("unshare");
      return;
    }
    if (!uts_path.empty() && ::sethostname(hostname.data(), hostname.size()) != 0) {
      result = sysError("sethostname " + hostname);
      return;
    }
    std::string self = "/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/ns/";
    if (::mount((self + "ipc").c_str(), ipc_path.c_str(), "none", MS_BIND, nullptr) != 0 ||
        (!uts_path.empty() &&
         ::mount((self + "uts").c_str(), uts_path.c_str(), "none", MS_BIND, nullptr) != 0))
      result = sysError("bind namespace files");
  });
  t.join();
  return result;
}

void unmountQuietly(const std::string& path) {
  if (!path.empty()) ::umount2(path.c_str(), MNT_DETACH);
}

json::object toJson(const Sandbox& s) {
  return json::object{{"uid", s.uid},
                      {"dir", s.dir},
                      {"hostNetwork", s.host_network},
                      {"netns", s.netns},
                      {"ipcNs", s.ipc_ns},
                      {"utsNs", s.uts_ns},
                      {"ip", s.ip},
                      {"hosts", s.hosts},
                      {"resolvConf", s.resolv_conf},
                      {"hostnameFile", s.hostname_file},
                      {"shm", s.shm}};
}

Status runCni(const SandboxOptions& o, const std::function<Status()>& fn) {
  if (o.cni_netns.empty()) return fn();
  return network::runInNetns(o.cni_netns, fn);
}

}  // namespace

Result<Sandbox> loadSandbox(const SandboxOptions& o, const std::string& uid) {
  std::ifstream in(o.pods_dir + "/" + uid + "/sandbox.json");
  if (!in) return makeError(ErrorCode::kNotFound, "no sandbox for pod " + uid);
  std::stringstream ss;
  ss << in.rdbuf();
  json::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object())
    return makeError(ErrorCode::kInternal, "corrupt sandbox record of " + uid);
  const auto& m = v.as_object();
  auto str = [&](const char* k) { return api::getString(m, k); };
  Sandbox s;
  s.uid = str("uid");
  s.dir = str("dir");
  s.host_network =
      m.contains("hostNetwork") && m.at("hostNetwork").is_bool() && m.at("hostNetwork").as_bool();
  s.netns = str("netns");
  s.ipc_ns = str("ipcNs");
  s.uts_ns = str("utsNs");
  s.ip = str("ip");
  s.hosts = str("hosts");
  s.resolv_conf = str("resolvConf");
  s.hostname_file = str("hostnameFile");
  s.shm = str("shm");
  return s;
}

Result<Sandbox> ensureSandbox(const SandboxOptions& o, const api::Object& pod) {
  const std::string uid = api::uid(pod);
  if (uid.empty()) return makeError(ErrorCode::kInvalid, "pod has no uid");
  if (auto existing = loadSandbox(o, uid); existing.ok()) return existing;

  Sandbox s;
  s.uid = uid;
  s.dir = o.pods_dir + "/" + uid;
  s.host_network = api::boolAt(pod, {"spec", "hostNetwork"}).value_or(false);
  bool ok = false;
  struct Undo {
    const SandboxOptions& o;
    Sandbox& s;
    bool& ok;
    ~Undo() {
      if (!ok) (void)destroySandbox(o, s);
    }
  } undo{o, s, ok};
  std::error_code ec;
  fs::create_directories(s.dir + "/ns", ec);
  if (ec) return makeError(ErrorCode::kInternal, "create " + s.dir + ": " + ec.message());

  const std::string hostname = podHostname(pod);
  if (s.host_network) {
    s.ip = o.node_ip;
  } else {
    BERTH_ASSIGN_OR_RETURN(s.netns, network::createNetns(o.netns_dir, "pod-" + uid));
    network::CniAttachment attachment;
    BERTH_RETURN_IF_ERROR(runCni(o, [&]() -> Status {
      auto a = network::cniAdd(o.cni, uid, s.netns);
      if (!a.ok()) return a.error();
      attachment = *a;
      return okStatus();
    }));
    s.ip = attachment.ip;
    s.uts_ns = s.dir + "/ns/uts";
  }
  s.ipc_ns = s.dir + "/ns/ipc";
  // A hostNetwork pod keeps the node's UTS namespace (and hostname); its
  // IPC namespace is still the pod's own (hostIPC is the spec builder's).
  BERTH_RETURN_IF_ERROR(createIpcUts(s.ipc_ns, s.uts_ns, hostname));

  s.shm = s.dir + "/shm";
  fs::create_directories(s.shm, ec);
  std::string shm_opts = "mode=1777,size=" + std::to_string(o.shm_bytes);
  if (::mount("shm", s.shm.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_opts.c_str()) !=
      0)
    return sysError("mount the pod's shm");

  s.hosts = s.dir + "/etc-hosts";
  BERTH_RETURN_IF_ERROR(
      writeFileAtomic(s.hosts, podHostsFile(pod, s.ip, o.dns.domain, o.host_hosts)));
  s.resolv_conf = s.dir + "/resolv.conf";
  ResolvConf resolv = podResolvConf(pod, o.host_resolv, o.dns, &s.dns_warning);
  BERTH_RETURN_IF_ERROR(writeFileAtomic(s.resolv_conf, formatResolvConf(resolv)));
  s.hostname_file = s.dir + "/hostname";
  BERTH_RETURN_IF_ERROR(writeFileAtomic(s.hostname_file, hostname + "\n"));
  BERTH_RETURN_IF_ERROR(writeFileAtomic(s.dir + "/sandbox.json", json::serialize(toJson(s))));
  ok = true;
  return s;
}

Status releaseNetwork(const SandboxOptions& o, Sandbox* s) {
  if (s->netns.empty()) return okStatus();
  BERTH_RETURN_IF_ERROR(
      runCni(o, [&]() -> Status { return network::cniDel(o.cni, s->uid, s->netns); }));
  BERTH_RETURN_IF_ERROR(network::deleteNetns(s->netns));
  s->netns.clear();
  return writeFileAtomic(s->dir + "/sandbox.json", json::serialize(toJson(*s)));
}

Status destroySandbox(const SandboxOptions& o, const Sandbox& s) {
  Status result = okStatus();
  if (!s.netns.empty()) {
    // DEL frees the address even when the namespace is already gone.
    Status del = runCni(o, [&]() -> Status { return network::cniDel(o.cni, s.uid, s.netns); });
    if (!del.ok()) result = del;
    (void)network::deleteNetns(s.netns);
  }
  unmountQuietly(s.ipc_ns);
  unmountQuietly(s.uts_ns);
  unmountQuietly(s.shm);
  std::error_code ec;
  if (!s.dir.empty()) fs::remove_all(s.dir, ec);
  return result;
}

}  // namespace berth::agent
