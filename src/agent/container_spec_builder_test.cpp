#include "agent/container_spec_builder.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::agent {
namespace {

api::Object parse(const std::string& text) { return boost::json::parse(text).as_object(); }

class SpecBuilderTest : public ::testing::Test {
 protected:
  Result<runtime::ContainerSpec> build(const std::string& pod_text, int container = 0) {
    pod_ = parse(pod_text);
    container_ = pod_["spec"].as_object()["containers"].as_array()[container].as_object();
    BuildInputs in;
    in.pod = &pod_;
    in.container = &container_;
    in.image = &image_;
    in.env = env_;
    in.paths = paths_;
    in.cgroup_parent = "/kubepods/burstable/podu1";
    in.memory_capacity = 8ll << 30;
    in.attempt = 2;
    return buildContainerSpec(in);
  }

  api::Object pod_, container_;
  runtime::ImageConfig image_;
  EnvList env_;
  PodPaths paths_;
};

TEST_F(SpecBuilderTest, CommandAndArgsOverTheImage) {
  image_.entrypoint = {"/entry"};
  image_.cmd = {"default", "cmd"};
  auto argv = [&](const std::string& c) { return containerArgv(parse(c), image_); };
  EXPECT_EQ(argv("{}"), (std::vector<std::string>{"/entry", "default", "cmd"}));
  EXPECT_EQ(argv(R"({"args": ["x"]})"), (std::vector<std::string>{"/entry", "x"}));
  EXPECT_EQ(argv(R"({"command": ["/bin/sh"]})"), (std::vector<std::string>{"/bin/sh"}));
  EXPECT_EQ(argv(R"({"command": ["/bin/sh"], "args": ["-c", "true"]})"),
            (std::vector<std::string>{"/bin/sh", "-c", "true"}));
}

TEST_F(SpecBuilderTest, ProcessIdentityResourcesAndNamespaces) {
  image_.env = {"PATH=/bin", "MODE=image"};
  image_.working_dir = "/app";
  image_.user = "1000:2000";
  env_ = {{"MODE", "pod"}, {"NAME", "web"}};
  paths_.netns = "/run/berth/netns/p";
  paths_.ipc_ns = "/run/berth/ipc/p";
  paths_.hosts = "/pods/u1/etc-hosts";
  paths_.resolv_conf = "/pods/u1/resolv.conf";
  paths_.termination_log = "/pods/u1/c/termination-log";
  paths_.volumes = {{"data", "/pods/u1/volumes/data"}, {"cfg", "/pods/u1/volumes/cfg"}};
  auto s = build(R"J({"metadata": {"name": "web-1", "namespace": "prod", "uid": "u1"},
    "spec": {"securityContext": {"supplementalGroups": [5], "fsGroup": 7},
      "containers": [{"name": "c", "command": ["/bin/sh", "-c", "echo $(NAME)"],
        "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "500m", "memory": "2Gi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                            "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"},
                         {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf", "readOnly": true,
                          "mountPropagation": "HostToContainer"}]}]}})J");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->args, (std::vector<std::string>{"/bin/sh", "-c", "echo web"}));
  EXPECT_EQ(s->env, (std::vector<std::string>{"PATH=/bin", "MODE=pod", "NAME=web"}));
  EXPECT_EQ(s->cwd, "/app");
  EXPECT_EQ(s->uid, 1000u);
  EXPECT_EQ(s->gid, 2000u);
  EXPECT_EQ(s->additional_gids, (std::vector<uint32_t>{5, 7}));
  EXPECT_TRUE(s->no_new_privileges);
  EXPECT_TRUE(s->readonly_rootfs);
  EXPECT_EQ(s->cap_add, (std::vector<std::string>{"NET_ADMIN"}));
  EXPECT_EQ(s->cap_drop, (std::vector<std::string>{"MKNOD"}));
  EXPECT_EQ(s->seccomp, runtime::SeccompMode::kRuntimeDefault);
  EXPECT_EQ(s->cpu_shares, 256u);
  EXPECT_EQ(s->cpu_quota, 50000);
  EXPECT_EQ(s->cpu_period, 100000u);
  EXPECT_EQ(s->memory_limit, 2ll << 30);
  EXPECT_EQ(s->oom_score_adj, 875);  // burstable: 1000 - 1000*1Gi/8Gi
  EXPECT_EQ(s->cgroups_path, "/kubepods/burstable/podu1/c-2");
  EXPECT_EQ(s->network_ns.mode, runtime::NamespaceSpec::Mode::kJoin);
  EXPECT_EQ(s->network_ns.path, "/run/berth/netns/p");
  EXPECT_EQ(s->ipc_ns.path, "/run/berth/ipc/p");
  EXPECT_EQ(s->hostname, "web-1");
  ASSERT_EQ(s->binds.size(), 5u);
  EXPECT_EQ(s->binds[0].destination, "/data");
  EXPECT_EQ(s->binds[1].source, "/pods/u1/volumes/cfg/app.conf");
  EXPECT_TRUE(s->binds[1].read_only);
  EXPECT_EQ(s->binds[1].propagation, "rslave");
  EXPECT_EQ(s->binds[2].destination, "/etc/hosts");
  EXPECT_EQ(s->binds[3].destination, "/etc/resolv.conf");
  EXPECT_EQ(s->binds[4].destination, "/dev/termination-log");
}

TEST_F(SpecBuilderTest, HostNamespacesDefaultsAndErrors) {
  image_.cmd = {"/bin/sh"};
  auto s = build(
      R"J({"metadata": {"name": "h"}, "spec": {"hostNetwork": true, "hostPID": true, "hostIPC": true,
      "containers": [{"name": "c", "securityContext": {"runAsUser": 0}}]}})J");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->network_ns.mode, runtime::NamespaceSpec::Mode::kHost);
  EXPECT_EQ(s->pid_ns.mode, runtime::NamespaceSpec::Mode::kHost);
  EXPECT_EQ(s->ipc_ns.mode, runtime::NamespaceSpec::Mode::kHost);
  EXPECT_EQ(s->uts_ns.mode, runtime::NamespaceSpec::Mode::kHost);
  EXPECT_EQ(s->seccomp, runtime::SeccompMode::kUnconfined);  // the kubelet's default
  EXPECT_EQ(s->cpu_shares, 2u);
  EXPECT_EQ(s->oom_score_adj, 1000);  // best effort

  auto non_root = build(
      R"J({"metadata": {"name": "p", "namespace": "d"}, "spec": {"securityContext": {"runAsNonRoot": true},
      "containers": [{"name": "c"}]}})J");
  ASSERT_FALSE(non_root.ok());
  EXPECT_EQ(non_root.error().message,
            "container has runAsNonRoot and image will run as root (pod: \"p_d\", container: c)");
  image_.user = "nobody";
  EXPECT_FALSE(
      build(R"J({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}})J").ok());
  image_.user = "";
  auto missing = build(R"J({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
      "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}]}})J");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "cannot find volume \"nope\" to mount into container \"c\"");
  image_.cmd = {};
  EXPECT_FALSE(
      build(R"J({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}})J").ok());
  image_.cmd = {"/bin/sh"};
  EXPECT_FALSE(build(R"J({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
      "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "x.json"}}}]}})J")
                   .ok());
}

}  // namespace
}  // namespace berth::agent
