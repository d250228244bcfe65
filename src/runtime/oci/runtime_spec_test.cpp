#include "runtime/oci/runtime_spec.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace berth::runtime {
namespace {
namespace json = boost::json;

ContainerSpec minimal() {
  ContainerSpec spec;
  spec.id = "c1";
  spec.rootfs = "/var/lib/berth/c1/rootfs";
  spec.args = {"/bin/sh", "-c", "echo hi"};
  return spec;
}

json::object build(const ContainerSpec& spec) {
  auto config = buildRuntimeConfig(spec);
  EXPECT_TRUE(config.ok()) << (config.ok() ? "" : config.error().message);
  return config.ok() ? *config : json::object{};
}

std::vector<std::string> strings(const json::value& v) {
  std::vector<std::string> out;
  for (const auto& item : v.as_array()) out.emplace_back(item.as_string());
  return out;
}

const json::object* findMount(const json::object& config, std::string_view destination) {
  for (const auto& m : config.at("mounts").as_array()) {
    if (m.at("destination").as_string() == destination) return &m.as_object();
  }
  return nullptr;
}

const json::object* findNamespace(const json::object& config, std::string_view type) {
  for (const auto& ns : config.at("linux").at("namespaces").as_array()) {
    if (ns.at("type").as_string() == type) return &ns.as_object();
  }
  return nullptr;
}

bool has(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// All syscall names an allow rule without argument filters lets through.
std::vector<std::string> unconditionalAllows(const json::object& seccomp) {
  std::vector<std::string> out;
  for (const auto& rule : seccomp.at("syscalls").as_array()) {
    const auto& r = rule.as_object();
    if (r.at("action").as_string() != "SCMP_ACT_ALLOW" || r.contains("args")) continue;
    for (const auto& name : strings(r.at("names"))) out.push_back(name);
  }
  return out;
}

TEST(RuntimeSpecTest, RequiresIdRootfsAndArgs) {
  auto spec = minimal();
  spec.id.clear();
  EXPECT_EQ(buildRuntimeConfig(spec).error().code, ErrorCode::kInvalid);
  spec = minimal();
  spec.rootfs.clear();
  EXPECT_EQ(buildRuntimeConfig(spec).error().code, ErrorCode::kInvalid);
  spec = minimal();
  spec.args.clear();
  EXPECT_EQ(buildRuntimeConfig(spec).error().code, ErrorCode::kInvalid);
}

TEST(RuntimeSpecTest, RootAndProcess) {
  auto spec = minimal();
  spec.readonly_rootfs = true;
  spec.env = {"PATH=/bin", "A=b"};
  spec.cwd = "/work";
  spec.uid = 1000;
  spec.gid = 2000;
  spec.additional_gids = {3000, 4000};
  spec.no_new_privileges = true;
  spec.oom_score_adj = 999;
  auto config = build(spec);
  EXPECT_EQ(config.at("ociVersion").as_string(), "1.0.2");
  EXPECT_EQ(config.at("root").at("path").as_string(), spec.rootfs);
  EXPECT_TRUE(config.at("root").at("readonly").as_bool());
  const auto& process = config.at("process").as_object();
  EXPECT_FALSE(process.at("terminal").as_bool());
  EXPECT_EQ(strings(process.at("args")), spec.args);
  EXPECT_EQ(strings(process.at("env")), spec.env);
  EXPECT_EQ(process.at("cwd").as_string(), "/work");
  EXPECT_EQ(process.at("user").at("uid").to_number<int64_t>(), 1000);
  EXPECT_EQ(process.at("user").at("gid").to_number<int64_t>(), 2000);
  const auto& gids = process.at("user").at("additionalGids").as_array();
  ASSERT_EQ(gids.size(), 2u);
  EXPECT_EQ(gids[1].to_number<int64_t>(), 4000);
  EXPECT_TRUE(process.at("noNewPrivileges").as_bool());
  EXPECT_EQ(process.at("oomScoreAdj").to_number<int64_t>(), 999);
  const auto& rlimit = process.at("rlimits").as_array().at(0).as_object();
  EXPECT_EQ(rlimit.at("type").as_string(), "RLIMIT_NOFILE");
  EXPECT_EQ(rlimit.at("hard").to_number<int64_t>(), 1048576);
  EXPECT_EQ(rlimit.at("soft").to_number<int64_t>(), 1048576);
  spec.nofile_limit = 20000;
  EXPECT_EQ(build(spec).at("process").at("rlimits").at(0).at("hard").to_number<int64_t>(), 20000);
  spec.nofile_limit = 0;
  EXPECT_FALSE(build(spec).at("process").as_object().contains("rlimits"));
}

TEST(RuntimeSpecTest, DefaultsAreWritableRootAndPrivilegeEscalationAllowed) {
  auto config = build(minimal());
  EXPECT_FALSE(config.at("root").at("readonly").as_bool());
  EXPECT_FALSE(config.at("process").at("noNewPrivileges").as_bool());
  EXPECT_EQ(config.at("process").at("cwd").as_string(), "/");
  EXPECT_FALSE(config.at("process").at("user").as_object().contains("additionalGids"));
}

TEST(RuntimeSpecTest, DefaultCapabilitiesAreTheCriSet) {
  auto config = build(minimal());
  const auto& caps = config.at("process").at("capabilities").as_object();
  auto bounding = strings(caps.at("bounding"));
  EXPECT_EQ(bounding.size(), 14u);
  for (const char* cap :
       {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}) {
    EXPECT_TRUE(has(bounding, cap)) << cap;
  }
  EXPECT_FALSE(has(bounding, "CAP_SYS_ADMIN"));
  EXPECT_EQ(strings(caps.at("effective")), bounding);
  EXPECT_EQ(strings(caps.at("permitted")), bounding);
  EXPECT_FALSE(caps.contains("inheritable"));
  EXPECT_FALSE(caps.contains("ambient"));
}

TEST(RuntimeSpecTest, CapabilityAddAndDrop) {
  auto spec = minimal();
  spec.cap_add = {"NET_ADMIN", "cap_sys_time"};
  spec.cap_drop = {"CHOWN", "CAP_KILL"};
  auto bounding = strings(build(spec).at("process").at("capabilities").at("bounding"));
  EXPECT_TRUE(has(bounding, "CAP_NET_ADMIN"));
  EXPECT_TRUE(has(bounding, "CAP_SYS_TIME"));
  EXPECT_FALSE(has(bounding, "CAP_CHOWN"));
  EXPECT_FALSE(has(bounding, "CAP_KILL"));
  EXPECT_TRUE(has(bounding, "CAP_SETUID"));
}

TEST(RuntimeSpecTest, CapabilityAll) {
  auto caps = containerCapabilities({"ALL"}, {"CHOWN"});
  ASSERT_TRUE(caps.ok());
  EXPECT_EQ(caps->size(), allCapabilities().size() - 1);
  EXPECT_TRUE(has(*caps, "CAP_SYS_ADMIN"));
  EXPECT_FALSE(has(*caps, "CAP_CHOWN"));

  caps = containerCapabilities({"NET_BIND_SERVICE"}, {"ALL"});
  ASSERT_TRUE(caps.ok());
  EXPECT_EQ(*caps, std::vector<std::string>{"CAP_NET_BIND_SERVICE"});

  caps = containerCapabilities({}, {"all"});
  ASSERT_TRUE(caps.ok());
  EXPECT_TRUE(caps->empty());

  auto bad = containerCapabilities({"NOT_A_CAP"}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalid);
  EXPECT_NE(bad.error().message.find("CAP_NOT_A_CAP"), std::string::npos);
}

TEST(RuntimeSpecTest, Privileged) {
  auto spec = minimal();
  spec.privileged = true;
  spec.cap_drop = {"ALL"};  // privileged wins, as in the CRI plugin
  auto config = build(spec);
  auto bounding = strings(config.at("process").at("capabilities").at("bounding"));
  EXPECT_EQ(bounding.size(), allCapabilities().size());
  const auto& linux = config.at("linux").as_object();
  EXPECT_TRUE(linux.at("maskedPaths").as_array().empty());
  EXPECT_TRUE(linux.at("readonlyPaths").as_array().empty());
  EXPECT_FALSE(linux.contains("seccomp"));
  const auto& device = linux.at("resources").at("devices").as_array().at(0);
  EXPECT_TRUE(device.at("allow").as_bool());
  EXPECT_EQ(device.at("access").as_string(), "rwm");
  EXPECT_TRUE(has(strings(findMount(config, "/sys")->at("options")), "rw"));
}

TEST(RuntimeSpecTest, UnprivilegedDeniesDevicesAndMasksPaths) {
  auto config = build(minimal());
  const auto& linux = config.at("linux").as_object();
  const auto& device = linux.at("resources").at("devices").as_array().at(0);
  EXPECT_FALSE(device.at("allow").as_bool());
  auto masked = strings(linux.at("maskedPaths"));
  EXPECT_TRUE(has(masked, "/proc/kcore"));
  EXPECT_TRUE(has(masked, "/sys/firmware"));
  EXPECT_EQ(masked.size(), 11u);
  auto readonly = strings(linux.at("readonlyPaths"));
  EXPECT_TRUE(has(readonly, "/proc/sys"));
  EXPECT_TRUE(has(readonly, "/proc/sysrq-trigger"));
  EXPECT_EQ(readonly.size(), 5u);
}

TEST(RuntimeSpecTest, Hostname) {
  auto spec = minimal();
  spec.hostname = "web-0";
  EXPECT_EQ(build(spec).at("hostname").as_string(), "web-0");
  // Joining the sandbox's UTS namespace: the sandbox already set it.
  spec.uts_ns = NamespaceSpec::join("/proc/42/ns/uts");
  EXPECT_FALSE(build(spec).contains("hostname"));
}

TEST(RuntimeSpecTest, DefaultMounts) {
  auto config = build(minimal());
  const auto* proc = findMount(config, "/proc");
  ASSERT_NE(proc, nullptr);
  EXPECT_EQ(proc->at("type").as_string(), "proc");
  const auto* dev = findMount(config, "/dev");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->at("type").as_string(), "tmpfs");
  ASSERT_NE(findMount(config, "/dev/pts"), nullptr);
  EXPECT_EQ(findMount(config, "/dev/pts")->at("type").as_string(), "devpts");
  const auto* shm = findMount(config, "/dev/shm");
  ASSERT_NE(shm, nullptr);
  EXPECT_EQ(shm->at("type").as_string(), "tmpfs");
  EXPECT_TRUE(has(strings(shm->at("options")), "size=65536k"));
  EXPECT_EQ(findMount(config, "/dev/mqueue")->at("type").as_string(), "mqueue");
  const auto* sys = findMount(config, "/sys");
  EXPECT_EQ(sys->at("type").as_string(), "sysfs");
  EXPECT_TRUE(has(strings(sys->at("options")), "ro"));
  const auto* cgroup = findMount(config, "/sys/fs/cgroup");
  ASSERT_NE(cgroup, nullptr);
  EXPECT_EQ(cgroup->at("type").as_string(), "cgroup");
  EXPECT_TRUE(has(strings(cgroup->at("options")), "ro"));
  EXPECT_EQ(config.at("mounts").as_array().size(), 7u);
}

TEST(RuntimeSpecTest, PodSharedShm) {
  auto spec = minimal();
  spec.shm_path = "/run/berth/pods/p1/shm";
  auto config = build(spec);
  const auto* shm = findMount(config, "/dev/shm");
  ASSERT_NE(shm, nullptr);
  EXPECT_EQ(shm->at("type").as_string(), "bind");
  EXPECT_EQ(shm->at("source").as_string(), spec.shm_path);
  EXPECT_TRUE(has(strings(shm->at("options")), "rbind"));
}

TEST(RuntimeSpecTest, BindAndTmpfsMounts) {
  auto spec = minimal();
  spec.binds = {{"/var/lib/vol/a", "/data", true, ""},
                {"/var/lib/vol/b", "/cache", false, "rslave"}};
  spec.tmpfs = {{"/scratch", 16 << 20, "1777"}};
  auto config = build(spec);
  const auto* data = findMount(config, "/data");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->at("source").as_string(), "/var/lib/vol/a");
  EXPECT_EQ(data->at("type").as_string(), "bind");
  auto data_options = strings(data->at("options"));
  EXPECT_TRUE(has(data_options, "rbind"));
  EXPECT_TRUE(has(data_options, "ro"));
  EXPECT_TRUE(has(data_options, "rprivate"));
  auto cache_options = strings(findMount(config, "/cache")->at("options"));
  EXPECT_TRUE(has(cache_options, "rw"));
  EXPECT_TRUE(has(cache_options, "rslave"));
  EXPECT_EQ(config.at("linux").at("rootfsPropagation").as_string(), "rslave");
  const auto* scratch = findMount(config, "/scratch");
  ASSERT_NE(scratch, nullptr);
  EXPECT_EQ(scratch->at("type").as_string(), "tmpfs");
  EXPECT_TRUE(has(strings(scratch->at("options")), "size=16777216"));
  EXPECT_TRUE(has(strings(scratch->at("options")), "mode=1777"));
}

TEST(RuntimeSpecTest, SharedPropagationMakesRootfsShared) {
  auto spec = minimal();
  spec.binds = {{"/a", "/a", false, "rslave"}, {"/b", "/b", false, "rshared"}};
  EXPECT_EQ(build(spec).at("linux").at("rootfsPropagation").as_string(), "rshared");
  spec.binds = {{"/a", "/a", false, "sideways"}};
  EXPECT_EQ(buildRuntimeConfig(spec).error().code, ErrorCode::kInvalid);
  spec.binds = {{"/a", "/a", false, ""}};
  EXPECT_FALSE(build(spec).at("linux").as_object().contains("rootfsPropagation"));
}

TEST(RuntimeSpecTest, CallerMountReplacesDefault) {
  auto spec = minimal();
  spec.binds = {{"/host/shm", "/dev/shm/", false, ""}};
  auto config = build(spec);
  int shm_mounts = 0;
  for (const auto& m : config.at("mounts").as_array()) {
    if (m.at("destination").as_string().starts_with("/dev/shm")) ++shm_mounts;
  }
  EXPECT_EQ(shm_mounts, 1);
  EXPECT_EQ(findMount(config, "/dev/shm/")->at("source").as_string(), "/host/shm");

  spec.binds = {{"/host/dev", "/dev", false, ""}};
  config = build(spec);
  EXPECT_EQ(findMount(config, "/dev/pts"), nullptr);
  EXPECT_EQ(findMount(config, "/dev/mqueue"), nullptr);
  EXPECT_EQ(findMount(config, "/dev")->at("source").as_string(), "/host/dev");
}

TEST(RuntimeSpecTest, NamespacesNewJoinAndHost) {
  auto spec = minimal();
  auto config = build(spec);
  for (const char* type : {"pid", "ipc", "uts", "mount", "network"}) {
    const auto* ns = findNamespace(config, type);
    ASSERT_NE(ns, nullptr) << type;
    EXPECT_FALSE(ns->contains("path")) << type;
  }
  spec.network_ns = NamespaceSpec::join("/proc/77/ns/net");
  spec.ipc_ns = NamespaceSpec::join("/run/berth/netns/p1-ipc");
  spec.pid_ns = NamespaceSpec::host();
  config = build(spec);
  EXPECT_EQ(findNamespace(config, "network")->at("path").as_string(), "/proc/77/ns/net");
  EXPECT_EQ(findNamespace(config, "ipc")->at("path").as_string(), "/run/berth/netns/p1-ipc");
  EXPECT_EQ(findNamespace(config, "pid"), nullptr);
  EXPECT_EQ(config.at("linux").at("namespaces").as_array().size(), 4u);

  spec.uts_ns = NamespaceSpec{NamespaceSpec::Mode::kJoin, ""};
  EXPECT_EQ(buildRuntimeConfig(spec).error().code, ErrorCode::kInvalid);
  spec = minimal();
  spec.mount_ns = NamespaceSpec::host();
  EXPECT_EQ(buildRuntimeConfig(spec).error().code, ErrorCode::kInvalid);
}

TEST(RuntimeSpecTest, CgroupsPathAndResources) {
  auto spec = minimal();
  spec.cgroups_path = "/berth/podabc/web";
  spec.cpu_shares = 512;
  spec.cpu_quota = 50000;
  spec.cpu_period = 100000;
  spec.memory_limit = 64 << 20;
  spec.pids_limit = 50;
  auto config = build(spec);
  const auto& linux = config.at("linux").as_object();
  EXPECT_EQ(linux.at("cgroupsPath").as_string(), "/berth/podabc/web");
  const auto& resources = linux.at("resources").as_object();
  EXPECT_EQ(resources.at("cpu").at("shares").to_number<int64_t>(), 512);
  EXPECT_EQ(resources.at("cpu").at("quota").to_number<int64_t>(), 50000);
  EXPECT_EQ(resources.at("cpu").at("period").to_number<int64_t>(), 100000);
  EXPECT_EQ(resources.at("memory").at("limit").to_number<int64_t>(), 64 << 20);
  EXPECT_EQ(resources.at("memory").at("swap").to_number<int64_t>(), 64 << 20);
  EXPECT_EQ(resources.at("pids").at("limit").to_number<int64_t>(), 50);
}

TEST(RuntimeSpecTest, NoResourcesWhenUnset) {
  auto config = build(minimal());
  const auto& resources = config.at("linux").at("resources").as_object();
  EXPECT_FALSE(resources.contains("cpu"));
  EXPECT_FALSE(resources.contains("memory"));
  EXPECT_FALSE(resources.contains("pids"));
  EXPECT_FALSE(config.at("linux").as_object().contains("cgroupsPath"));
}

TEST(RuntimeSpecTest, RuntimeDefaultSeccomp) {
  auto config = build(minimal());
  const auto& seccomp = config.at("linux").at("seccomp").as_object();
  EXPECT_EQ(seccomp.at("defaultAction").as_string(), "SCMP_ACT_ERRNO");
  EXPECT_EQ(strings(seccomp.at("architectures")),
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  auto allowed = unconditionalAllows(seccomp);
  for (const char* name : {"read", "write", "execve", "openat", "arch_prctl", "chroot"}) {
    EXPECT_TRUE(has(allowed, name)) << name;  // chroot: CAP_SYS_CHROOT is a default cap
  }
  for (const char* name : {"mount", "unshare", "setns", "reboot", "kexec_load", "bpf", "clone",
                           "clone3", "init_module"}) {
    EXPECT_FALSE(has(allowed, name)) << name;
  }
  bool clone_masked = false, clone3_enosys = false;
  for (const auto& rule : seccomp.at("syscalls").as_array()) {
    auto names = strings(rule.at("names"));
    if (names == std::vector<std::string>{"clone"}) {
      const auto& arg = rule.at("args").as_array().at(0);
      clone_masked = arg.at("op").as_string() == "SCMP_CMP_MASKED_EQ" &&
                     arg.at("value").to_number<uint64_t>() == 0x7E020000 &&
                     arg.at("valueTwo").to_number<uint64_t>() == 0;
    }
    if (names == std::vector<std::string>{"clone3"}) {
      clone3_enosys = rule.at("action").as_string() == "SCMP_ACT_ERRNO" &&
                      rule.at("errnoRet").to_number<int64_t>() == 38;
    }
  }
  EXPECT_TRUE(clone_masked);
  EXPECT_TRUE(clone3_enosys);
}

TEST(RuntimeSpecTest, SeccompFollowsCapabilities) {
  auto profile = runtimeDefaultSeccomp({"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"});
  auto allowed = unconditionalAllows(profile);
  EXPECT_TRUE(has(allowed, "mount"));
  EXPECT_TRUE(has(allowed, "clone"));
  EXPECT_TRUE(has(allowed, "clone3"));
  EXPECT_TRUE(has(allowed, "kcmp"));
  EXPECT_FALSE(has(allowed, "chroot"));
  for (const auto& rule : profile.at("syscalls").as_array()) {
    EXPECT_NE(rule.at("action").as_string(), "SCMP_ACT_ERRNO");  // no clone3 ENOSYS rule
  }
}

TEST(RuntimeSpecTest, UnconfinedHasNoSeccomp) {
  auto spec = minimal();
  spec.seccomp = SeccompMode::kUnconfined;
  EXPECT_FALSE(build(spec).at("linux").as_object().contains("seccomp"));
}

}  // namespace
}  // namespace berth::runtime
