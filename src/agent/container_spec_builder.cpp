#include "agent/container_spec_builder.h"

#include <algorithm>

#include "agent/pod_dns.h"
#include "agent/qos.h"
#include "api/kinds/access.h"
#include "common/error.h"

namespace berth::agent {

namespace json = boost::json;
using api::arrAt;
using api::asObj;
using api::boolAt;
using api::intAt;
using api::objAt;
using api::strAt;

namespace {

std::vector<std::string> strings(const json::array* a) {
  std::vector<std::string> out;
  if (a)
    for (const auto& v : *a)
      if (v.is_string()) out.emplace_back(v.get_string());
  return out;
}

// A value of the container's securityContext, else the pod's.
std::optional<int64_t> securityInt(const api::Object& pod, const api::Object& c,
                                   const char* field) {
  if (auto v = intAt(c, {"securityContext", field})) return v;
  return intAt(pod, {"spec", "securityContext", field});
}

// The image's User when it is numeric ("1000" or "1000:1000"); names would
// need the image's /etc/passwd.
Status imageUser(const std::string& user, uint32_t* uid, std::optional<uint32_t>* gid) {
  if (user.empty()) return okStatus();
  auto number = [](const std::string& s, uint32_t* out) {
    if (s.empty() || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
    *out = static_cast<uint32_t>(std::stoul(s));
    return true;
  };
  std::string u = user.substr(0, user.find(':'));
  if (!number(u, uid))
    return makeError(ErrorCode::kInvalid,
                     "image user \"" + user + "\" is not numeric; set securityContext.runAsUser");
  if (user.find(':') != std::string::npos) {
    uint32_t g = 0;
    if (!number(user.substr(user.find(':') + 1), &g))
      return makeError(ErrorCode::kInvalid, "image group in \"" + user + "\" is not numeric");
    *gid = g;
  }
  return okStatus();
}

std::string propagation(const std::string& mode) {
  if (mode == "HostToContainer") return "rslave";
  if (mode == "Bidirectional") return "rshared";
  return "";
}

}  // namespace

std::vector<std::string> containerArgv(const api::Object& container,
                                       const runtime::ImageConfig& image) {
  std::vector<std::string> command = strings(arrAt(container, {"command"}));
  std::vector<std::string> args = strings(arrAt(container, {"args"}));
  std::vector<std::string> argv;
  if (!command.empty()) {
    argv = command;
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  argv = image.entrypoint;
  const auto& rest = args.empty() ? image.cmd : args;
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

Result<runtime::ContainerSpec> buildContainerSpec(const BuildInputs& in) {
  const api::Object& pod = *in.pod;
  const api::Object& c = *in.container;
  const runtime::ImageConfig& image = *in.image;
  const std::string name = strAt(c, {"name"});
  runtime::ContainerSpec s;

  s.args = expandAll(containerArgv(c, image), in.env);
  if (s.args.empty())
    return makeError(ErrorCode::kInvalid,
                     "container " + name + " has no command and its image none either");
  s.env = mergeImageEnv(image.env, in.env);
  s.cwd = strAt(c, {"workingDir"});
  if (s.cwd.empty()) s.cwd = image.working_dir.empty() ? "/" : image.working_dir;

  // Identity.
  uint32_t uid = 0;
  std::optional<uint32_t> gid;
  if (auto u = securityInt(pod, c, "runAsUser")) {
    uid = static_cast<uint32_t>(*u);
  } else {
    BERTH_RETURN_IF_ERROR(imageUser(image.user, &uid, &gid));
  }
  const bool non_root =
      boolAt(c, {"securityContext", "runAsNonRoot"})
          .value_or(boolAt(pod, {"spec", "securityContext", "runAsNonRoot"}).value_or(false));
  if (non_root && uid == 0)
    return makeError(ErrorCode::kInvalid,
                     "container has runAsNonRoot and image will run as root (pod: \"" +
                         api::name(pod) + "_" + api::namespaceOf(pod) + "\", container: " + name +
                         ")");
  s.uid = uid;
  if (auto g = securityInt(pod, c, "runAsGroup")) gid = static_cast<uint32_t>(*g);
  s.gid = gid.value_or(0);
  if (const json::array* groups = arrAt(pod, {"spec", "securityContext", "supplementalGroups"}))
    for (const auto& g : *groups)
      if (g.is_int64()) s.additional_gids.push_back(static_cast<uint32_t>(g.as_int64()));
  if (auto fs_group = intAt(pod, {"spec", "securityContext", "fsGroup"}))
    s.additional_gids.push_back(static_cast<uint32_t>(*fs_group));

  // Security.
  s.privileged = boolAt(c, {"securityContext", "privileged"}).value_or(false);
  s.readonly_rootfs = boolAt(c, {"securityContext", "readOnlyRootFilesystem"}).value_or(false);
  if (auto ape = boolAt(c, {"securityContext", "allowPrivilegeEscalation"}); ape && !*ape)
    s.no_new_privileges = true;
  s.cap_add = strings(arrAt(c, {"securityContext", "capabilities", "add"}));
  s.cap_drop = strings(arrAt(c, {"securityContext", "capabilities", "drop"}));
  std::string seccomp = strAt(c, {"securityContext", "seccompProfile", "type"});
  if (seccomp.empty()) seccomp = strAt(pod, {"spec", "securityContext", "seccompProfile", "type"});
  if (seccomp == "RuntimeDefault") {
    s.seccomp = runtime::SeccompMode::kRuntimeDefault;
  } else if (seccomp.empty() || seccomp == "Unconfined") {
    s.seccomp = runtime::SeccompMode::kUnconfined;
  } else {
    return makeError(ErrorCode::kInvalid, "seccomp profile type " + seccomp + " is not supported");
  }

  // Resources.
  ContainerResources r = containerResources(c);
  s.cpu_shares = static_cast<uint64_t>(
      milliCpuToShares(r.cpu_request_milli ? r.cpu_request_milli : r.cpu_limit_milli));
  if (r.cpu_limit_milli > 0) {
    s.cpu_quota = milliCpuToQuota(r.cpu_limit_milli);
    s.cpu_period = kCfsPeriodUs;
  }
  s.memory_limit = r.memory_limit;
  s.oom_score_adj = oomScoreAdjust(pod, c, in.memory_capacity);
  s.cgroups_path = in.cgroup_parent + "/" + name + "-" + std::to_string(in.attempt);

  // Namespaces.
  using NS = runtime::NamespaceSpec;
  s.network_ns = in.paths.netns.empty() ? NS::host() : NS::join(in.paths.netns);
  if (boolAt(pod, {"spec", "hostIPC"}).value_or(false))
    s.ipc_ns = NS::host();
  else if (!in.paths.ipc_ns.empty())
    s.ipc_ns = NS::join(in.paths.ipc_ns);
  if (boolAt(pod, {"spec", "hostNetwork"}).value_or(false))
    s.uts_ns = NS::host();
  else if (!in.paths.uts_ns.empty())
    s.uts_ns = NS::join(in.paths.uts_ns);
  else
    s.hostname = podHostname(pod);
  if (boolAt(pod, {"spec", "hostPID"}).value_or(false)) s.pid_ns = NS::host();
  s.shm_path = in.paths.shm;

  // Mounts: volumes, then the files the kubelet manages (unless a volume
  // already covers that path).
  std::vector<std::string> targets;
  if (const json::array* mounts = arrAt(c, {"volumeMounts"})) {
    for (const auto& m : *mounts) {
      const json::object* mo = asObj(&m);
      if (!mo) continue;
      std::string vol = strAt(*mo, {"name"});
      auto it = in.paths.volumes.find(vol);
      if (it == in.paths.volumes.end())
        return makeError(ErrorCode::kInvalid, "cannot find volume \"" + vol +
                                                  "\" to mount into container \"" + name + "\"");
      std::string source = it->second;
      std::string sub = strAt(*mo, {"subPath"});
      if (!sub.empty()) {
        if (sub.front() == '/' || sub.find("..") != std::string::npos)
          return makeError(ErrorCode::kInvalid, "invalid subPath \"" + sub + "\"");
        source += "/" + sub;
      }
      runtime::BindMount b;
      b.source = source;
      b.destination = strAt(*mo, {"mountPath"});
      b.read_only = boolAt(*mo, {"readOnly"}).value_or(false);
      b.propagation = propagation(strAt(*mo, {"mountPropagation"}));
      targets.push_back(b.destination);
      s.binds.push_back(std::move(b));
    }
  }
  auto covered = [&](const std::string& path) {
    return std::find(targets.begin(), targets.end(), path) != targets.end();
  };
  auto managed = [&](const std::string& source, const std::string& dest, bool ro) {
    if (source.empty() || covered(dest)) return;
    s.binds.push_back(runtime::BindMount{source, dest, ro, ""});
  };
  managed(in.paths.hosts, "/etc/hosts", false);
  managed(in.paths.resolv_conf, "/etc/resolv.conf", false);
  managed(in.paths.hostname_file, "/etc/hostname", false);
  std::string term = strAt(c, {"terminationMessagePath"}, "/dev/termination-log");
  managed(in.paths.termination_log, term, false);
  return s;
}

}  // namespace berth::agent
