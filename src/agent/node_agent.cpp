#include "agent/node_agent.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "agent/eviction.h"
#include "agent/image_gc.h"
#include "agent/image_manager.h"
#include "agent/node/machine.h"
#include "agent/node/node_api.h"
#include "agent/pod_status.h"
#include "agent/pod_syncer.h"
#include "agent/pod_worker.h"
#include "agent/probe/probe_manager.h"
#include "agent/qos.h"
#include "agent/real_pod_runtime.h"
#include "agent/server/agent_server.h"
#include "api/kinds/access.h"
#include "client/event_recorder.h"
#include "client/informer.h"
#include "common/error.h"
#include "common/log.h"
#include "runtime/image/image_store.h"
#include "runtime/image/puller.h"
#include "runtime/image/reference.h"
#include "runtime/image/registry_client.h"
#include "runtime/oci/exec.h"
#include "runtime/pod/container_manager.h"
#include "runtime/pod/exit_watcher.h"

namespace berth::agent {

namespace json = boost::json;
using client::ObjectPtr;

namespace {

constexpr char kComponent[] = "agent";
constexpr char kAgentVersion[] = "v1.32.2-berth";
// The node's full status goes out at least this often even when only the
// heartbeat moved (upstream's nodeStatusReportFrequency is 5 m with leases).
constexpr std::chrono::minutes kStatusReportPeriod{1};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A ConfigMap or Secret from an informer's cache.
NamespacedLookup lookupIn(client::Informer& informer) {
  return [&informer](const std::string& ns,
                     const std::string& name) -> Result<std::shared_ptr<const api::Object>> {
    return std::shared_ptr<const api::Object>(informer.get(ns, name));
  };
}

// The status with every condition's lastHeartbeatTime taken out: what
// decides whether a node status patch is due before the report period.
json::object withoutHeartbeats(json::object status) {
  if (auto* conds = status.if_contains("conditions"); conds && conds->is_array())
    for (auto& c : conds->as_array())
      if (c.is_object()) c.as_object().erase("lastHeartbeatTime");
  return status;
}

}  // namespace

struct NodeAgent::Impl : public server::ContainerLogSource {
  Impl(client::Client& c, NodeAgentOptions o)
      : client(c),
        options(std::move(o)),
        clock(RealClock::instance()),
        node_kind(client::kind("", "Node")),
        pod_informer(c, client::kind("", "Pod"), "",
                     client::ListOptions{"", "spec.nodeName=" + options.node_name, 0, "", ""}),
        config_maps(c, client::kind("", "ConfigMap")),
        secrets(c, client::kind("", "Secret")),
        recorder(c, clock, "kubelet", options.node_name),
        exits([this](const std::string& id) { containerExited(id); }) {}

  Status open();
  void nodeLoop();
  bool registerNode();
  bool postStatus(bool force);
  node::NodeReport report();
  void containerExited(const std::string& id);
  void synced(const api::Object& pod, const SyncOutcome& outcome);
  Result<int64_t> pull(const std::string& image, const api::Object& pod);
  void enqueuePodsUsing(const std::string& ns);
  ProbeVerdict verdict(const std::string& uid, const api::Object& container, const std::string& id);
  void startProbes();
  void reclaim();
  std::optional<std::string> pendingEviction(const api::Object& pod);
  api::Object nodeRef();
  Status startServer();
  Result<server::ContainerLogRef> containerLog(const std::string& ns, const std::string& pod,
                                               const std::string& container,
                                               bool previous) override;

  client::Client& client;
  NodeAgentOptions options;
  Clock& clock;
  const api::KindInfo& node_kind;
  client::Informer pod_informer;
  client::Informer config_maps;
  client::Informer secrets;
  client::EventRecorder recorder;
  runtime::ExitWatcher exits;

  node::MachineInfo machine;
  std::unique_ptr<runtime::ImageStore> images;
  std::unique_ptr<runtime::RegistryClient> registry;
  std::unique_ptr<runtime::Puller> puller;
  std::unique_ptr<ImageManager> image_manager;
  std::unique_ptr<runtime::ContainerManager> containers;
  std::unique_ptr<RealPodRuntime> pod_runtime;
  std::unique_ptr<PodSyncer> syncer;
  std::unique_ptr<PodWorkers> workers;
  std::unique_ptr<probe::ProbeManager> probes;
  std::unique_ptr<server::AgentServer> agent_server;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool is_registered = false;
  std::string node_uid;
  node::NodeConditions conditions;
  ObjectPtr lease;
  json::object last_status;  // without heartbeats
  std::chrono::system_clock::time_point last_status_at;
  std::map<std::string, std::string> pod_of_container;  // container id -> pod key
  // Container ids the probe manager follows, and the probe kinds each
  // container's spec has (for a container it does not follow yet).
  std::set<std::string> probed;
  // Pods chosen for eviction, until they are Failed (pod key -> message).
  std::map<std::string, std::string> evictions;
  ImageGc image_gc;
  std::thread node_thread;
};

Status NodeAgent::Impl::open() {
  if (options.node_name.empty()) return makeError(ErrorCode::kBadRequest, "node name is required");
  if (options.node_ip.empty()) return makeError(ErrorCode::kBadRequest, "node IP is required");
  BERTH_ASSIGN_OR_RETURN(machine, node::readMachineInfo());
  BERTH_ASSIGN_OR_RETURN(images, runtime::ImageStore::open(options.data_dir + "/images"));
  registry = std::make_unique<runtime::RegistryClient>();
  puller = std::make_unique<runtime::Puller>(*images, *registry);
  ImageSource source;
  source.present = [this](const std::string& image) { return images->find(image).ok(); };
  source.pull = [this](const std::string& image, const api::Object& pod) {
    return pull(image, pod);
  };
  source.validate = [](const std::string& image) -> Status {
    auto ref = runtime::parseReference(image);
    if (!ref.ok()) return ref.error();
    return okStatus();
  };
  image_manager = std::make_unique<ImageManager>(std::move(source), clock);

  runtime::ContainerManagerConfig cm;
  cm.root = options.data_dir + "/runtime";
  cm.runc_binary = options.runc_binary;
  cm.self_exe = options.self_exe;
  BERTH_ASSIGN_OR_RETURN(containers, runtime::ContainerManager::open(cm, *images));

  RealPodRuntimeOptions ro;
  ro.sandbox.pods_dir = options.data_dir + "/pods";
  ro.sandbox.netns_dir = options.data_dir + "/netns";
  ro.sandbox.cni.plugin_dir = options.cni_plugin_dir;
  ro.sandbox.cni.bridge = options.bridge;
  ro.sandbox.cni.subnet = options.pod_cidr;
  ro.sandbox.cni.data_dir = options.data_dir + "/cni";
  ro.sandbox.node_ip = options.node_ip;
  ro.sandbox.host_resolv = parseResolvConf(readFile(options.host_resolv_conf));
  ro.sandbox.dns = options.dns;
  ro.cgroup_root = options.cgroup_root;
  ro.memory_capacity = static_cast<int64_t>(machine.memory_bytes);
  ro.min_oom_score_adj = minOomScoreAdj();
  {
    // resourceFieldRef of a container without limits reports the node's allocatable.
    node::NodeReport r = report();
    node::NodeResources alloc =
        node::allocatableOf(machine, r.usage, options.max_pods, r.thresholds);
    ro.allocatable.cpu = alloc.cpu;
    ro.allocatable.memory = alloc.memory;
    ro.allocatable.ephemeral_storage = alloc.ephemeral_storage;
  }
  ro.config_maps = lookupIn(config_maps);
  ro.secrets = lookupIn(secrets);
  pod_runtime = std::make_unique<RealPodRuntime>(ro, *images, *containers, clock);
  startProbes();
  syncer = std::make_unique<PodSyncer>(
      *pod_runtime, clock, options.node_ip, image_manager.get(),
      [this](const std::string& uid, const api::Object& container, const std::string& id) {
        return verdict(uid, container, id);
      });

  PodWorkerOptions wo;
  wo.workers = options.workers;
  wo.resync_period = options.resync_period;
  PodWorkers::Hooks hooks;
  hooks.synced = [this](const api::Object& pod, const SyncOutcome& o) { synced(pod, o); };
  hooks.removed = [this](const std::string& uid) { probes->removePod(uid); };
  hooks.eviction = [this](const api::Object& pod) { return pendingEviction(pod); };
  workers = std::make_unique<PodWorkers>(client, pod_informer, *syncer, *pod_runtime, recorder,
                                         clock, wo, std::move(hooks));
  BERTH_RETURN_IF_ERROR(exits.start());
  BERTH_RETURN_IF_ERROR(startServer());

  // ConfigMap and Secret changes reach env-less volumes at the next sync:
  // the pods of that namespace sync now.
  client::EventHandlers refs;
  refs.on_update = [this](const ObjectPtr&, const ObjectPtr& obj) {
    enqueuePodsUsing(api::namespaceOf(*obj));
  };
  refs.on_add = [this](const ObjectPtr& obj) {
    if (pod_informer.hasSynced()) enqueuePodsUsing(api::namespaceOf(*obj));
  };
  config_maps.addHandlers(refs);
  secrets.addHandlers(refs);
  config_maps.start();
  secrets.start();
  workers->start();
  pod_informer.start();
  node_thread = std::thread([this] { nodeLoop(); });
  return okStatus();
}

void NodeAgent::Impl::enqueuePodsUsing(const std::string& ns) {
  for (const auto& pod : pod_informer.listNamespace(ns)) workers->enqueue(client::keyOf(*pod));
}

Result<int64_t> NodeAgent::Impl::pull(const std::string& image, const api::Object& pod) {
  // imagePullSecrets, as the kubelet's MakeDockerKeyring reads them.
  runtime::DockerKeyring keyring;
  if (const json::array* refs = api::arrAt(pod, {"spec", "imagePullSecrets"}))
    for (const auto& ref : *refs) {
      const std::string name = api::strAt(ref.as_object(), {"name"});
      if (ObjectPtr secret = secrets.get(api::namespaceOf(pod), name))
        (void)keyring.addSecret(*secret);
    }
  BERTH_ASSIGN_OR_RETURN(auto record, puller->pull(image, keyring));
  return record.size;
}

Status NodeAgent::Impl::startServer() {
  if (options.ca_pem.empty()) return okStatus();
  server::AgentServerOptions so;
  so.listen = options.node_ip + ":" + std::to_string(options.kubelet_port);
  so.client_ca_pem = options.ca_pem;
  so.serving_ips = {options.node_ip};
  so.source = this;
  so.clock = &clock;
  agent_server = std::make_unique<server::AgentServer>(std::move(so));
  BERTH_ASSIGN_OR_RETURN(int port, agent_server->start());
  options.kubelet_port = port;  // what daemonEndpoints reports
  return okStatus();
}

Result<server::ContainerLogRef> NodeAgent::Impl::containerLog(const std::string& ns,
                                                              const std::string& pod_name,
                                                              const std::string& container,
                                                              bool previous) {
  ObjectPtr pod = pod_informer.get(ns, pod_name);
  if (!pod) return makeError(ErrorCode::kNotFound, "pods \"" + pod_name + "\" not found");
  const std::string uid = api::uid(*pod);
  // The container's attempts, newest first.
  std::vector<runtime::ContainerInfo> attempts;
  for (auto& c : containers->list(uid))
    if (c.name == container) attempts.push_back(std::move(c));
  std::sort(attempts.begin(), attempts.end(),
            [](const auto& a, const auto& b) { return a.attempt > b.attempt; });
  const std::string where = "container \"" + container + "\" in pod \"" + pod_name + "\"";
  if (previous) {
    if (attempts.size() < 2)
      return makeError(ErrorCode::kBadRequest, "previous terminated " + where + " not found");
    return server::ContainerLogRef{attempts[1].log_path, false};
  }
  if (attempts.empty())
    return makeError(ErrorCode::kBadRequest, where + " is waiting to start: ContainerCreating");
  return server::ContainerLogRef{attempts[0].log_path,
                                 attempts[0].state == runtime::ContainerState::kRunning};
}

void NodeAgent::Impl::startProbes() {
  auto exec_runner = [this](const std::string& id) -> probe::ExecRunner {
    return [this, id](const std::vector<std::string>& command, std::chrono::milliseconds timeout,
                      size_t max_output) -> Result<probe::ExecRun> {
      runtime::ExecOptions o;
      o.args = command;
      o.timeout = timeout;
      o.max_output_bytes = max_output;
      BERTH_ASSIGN_OR_RETURN(auto r, runtime::execInContainer(containers->runc(), id, o));
      return probe::ExecRun{r.exit_code, r.out, r.err, r.timed_out};
    };
  };
  probe::ProbeManager::Callbacks callbacks;
  callbacks.resync = [this](const std::string& key) { workers->enqueue(key); };
  callbacks.event = [this](const std::string& key, const std::string& type,
                           const std::string& reason, const std::string& message) {
    if (ObjectPtr pod = pod_informer.get(key)) recorder.record(*pod, type, reason, message);
  };
  probes = std::make_unique<probe::ProbeManager>(clock, probe::makeProbeRunner(exec_runner),
                                                 std::move(callbacks), 4);
  probes->start();
}

ProbeVerdict NodeAgent::Impl::verdict(const std::string& uid, const api::Object& container,
                                      const std::string& id) {
  bool followed = false;
  {
    std::lock_guard lock(mu);
    followed = probed.count(id) > 0;
  }
  ProbeVerdict v;
  if (!followed) {
    // Just started: the probes' initial results, before the manager has it.
    v.started = !container.contains("startupProbe");
    v.ready = v.started && !container.contains("readinessProbe");
    return v;
  }
  const std::string name = api::strAt(container, {"name"});
  probe::ContainerProbes p = probes->state(uid, name, id);
  v.ready = p.ready;
  v.started = p.started;
  v.liveness_failed = p.liveness_failed;
  v.startup_failed = p.startup_failed;
  return v;
}

void NodeAgent::Impl::synced(const api::Object& pod, const SyncOutcome& outcome) {
  const std::string key = client::keyOf(pod);
  const std::string uid = api::uid(pod);
  // The probes follow the running containers.
  std::vector<probe::ProbeTarget> targets;
  for (const auto& c : outcome.running) {
    probe::ProbeTarget t;
    t.pod_key = key;
    t.pod_uid = uid;
    t.pod_ip = outcome.pod_ip;
    t.container_name = c.name;
    t.container_id = c.state.id;
    for (const char* list : {"initContainers", "containers"})
      if (const json::array* cs = api::arrAt(pod, {"spec", list}))
        for (const auto& spec : *cs)
          if (spec.is_object() && api::strAt(spec.as_object(), {"name"}) == c.name)
            t.container = spec.as_object();
    if (!parseRfc3339(c.state.started_at, &t.started_at)) t.started_at = clock.now();
    targets.push_back(std::move(t));
  }
  probes->updatePod(uid, targets);
  if (api::metadata(pod) && api::metadata(pod)->contains("deletionTimestamp"))
    probes->stopLivenessAndStartup(uid);
  {
    std::lock_guard lock(mu);
    for (const auto& t : targets) probed.insert(t.container_id);
  }
  for (const auto& c : outcome.running) {
    {
      std::lock_guard lock(mu);
      if (!pod_of_container.emplace(c.state.id, key).second) continue;
    }
    Status s = exits.watch(c.state.id, containers->stateDir(c.state.id));
    if (!s.ok())
      BERTH_LOG(kWarning, kComponent)
          << "cannot watch container exit id=" << c.state.id << " error=" << s.error().message;
  }
}

void NodeAgent::Impl::containerExited(const std::string& id) {
  std::string key;
  {
    std::lock_guard lock(mu);
    auto it = pod_of_container.find(id);
    if (it == pod_of_container.end()) return;
    key = it->second;
    pod_of_container.erase(it);
    probed.erase(id);
  }
  exits.unwatch(id);
  workers->enqueue(key);
}

api::Object NodeAgent::Impl::nodeRef() {
  std::lock_guard lock(mu);
  return api::Object{{"apiVersion", "v1"},
                     {"kind", "Node"},
                     {"metadata", json::object{{"name", options.node_name}, {"uid", node_uid}}}};
}

std::optional<std::string> NodeAgent::Impl::pendingEviction(const api::Object& pod) {
  const std::string key = client::keyOf(pod);
  std::lock_guard lock(mu);
  auto it = evictions.find(key);
  if (it == evictions.end()) return std::nullopt;
  if (api::strAt(pod, {"status", "phase"}) == "Failed") {
    evictions.erase(it);  // done
    return std::nullopt;
  }
  return it->second;
}

// The kubelet's housekeeping at each status period: image garbage
// collection above the disk threshold, then node-pressure eviction of at
// most one pod (the next period shows whether that was enough).
void NodeAgent::Impl::reclaim() {
  auto usage = node::readMachineUsage(options.data_dir);
  if (!usage.ok()) return;
  const auto now = clock.now();
  ImageGcOutcome gc = image_gc.garbageCollect(
      usage->fs_capacity_bytes, usage->fs_available_bytes, imagesFromRecords(images->list()),
      inUseImageIds(containers->list()), now,
      [this](const ImageInfo& image) { return removeFromStore(*images, image); });
  if (!gc.events.empty() || !gc.removed.empty()) {
    api::Object node = nodeRef();
    for (const auto& [reason, message] : gc.events)
      recorder.record(node, "Warning", reason, message);
    if (!gc.removed.empty()) {
      BERTH_LOG(kInfo, kComponent)
          << "image gc removed=" << gc.removed.size() << " freed=" << gc.freed;
      usage = node::readMachineUsage(options.data_dir);
      if (!usage.ok()) return;
    }
  }
  node::EvictionThresholds thresholds;
  node::Pressure pressure = node::evaluatePressure(*usage, thresholds);
  if (!pressure.memory && !pressure.disk) return;
  // The active pods with their working sets.
  std::vector<ObjectPtr> pods;
  std::vector<PodUsage> usages;
  for (const auto& pod : pod_informer.list()) {
    const std::string phase = api::strAt(*pod, {"status", "phase"});
    if (phase == "Succeeded" || phase == "Failed") continue;
    pods.push_back(pod);
  }
  const std::string memory_root = "/sys/fs/cgroup/memory";
  for (const auto& pod : pods) {
    PodUsage u;
    u.key = client::keyOf(*pod);
    u.pod = pod.get();
    auto ws = cgroupMemoryWorkingSet(memory_root + options.cgroup_root + podCgroupParent(*pod, ""));
    if (ws.ok()) u.memory_working_set = *ws;
    usages.push_back(std::move(u));
  }
  auto decision = chooseEviction(*usage, thresholds, usages);
  if (!decision) return;
  BERTH_LOG(kWarning, kComponent) << "evicting pod=" << decision->pod_key
                                  << " resource=" << decision->resource;
  {
    std::lock_guard lock(mu);
    evictions[decision->pod_key] = decision->message;
  }
  workers->enqueue(decision->pod_key);
}

node::NodeReport NodeAgent::Impl::report() {
  node::NodeReport r;
  r.machine = machine;
  if (auto usage = node::readMachineUsage(options.data_dir); usage.ok()) r.usage = *usage;
  r.max_pods = options.max_pods;
  r.internal_ip = options.node_ip;
  r.hostname = options.node_name;
  r.runtime_version = "runc://1";
  r.kubelet_version = kAgentVersion;
  r.kubelet_port = options.kubelet_port;
  return r;
}

bool NodeAgent::Impl::registerNode() {
  json::object labels{{"kubernetes.io/hostname", options.node_name},
                      {"kubernetes.io/os", "linux"},
                      {"kubernetes.io/arch", "amd64"},
                      {"beta.kubernetes.io/os", "linux"},
                      {"beta.kubernetes.io/arch", "amd64"}};
  for (const auto& [k, v] : options.labels) labels[k] = v;
  api::Object node{{"apiVersion", "v1"},
                   {"kind", "Node"},
                   {"metadata", json::object{{"name", options.node_name}, {"labels", labels}}},
                   {"spec", json::object{{"podCIDR", options.pod_cidr},
                                         {"podCIDRs", json::array{options.pod_cidr}}}}};
  auto created = client.create(node_kind, node);
  std::string uid;
  if (created.ok()) {
    uid = api::uid(**created);
  } else if (created.error().code == ErrorCode::kAlreadyExists) {
    // This node from an earlier run: take it over.
    auto existing = client.get(node_kind, "", options.node_name);
    if (!existing.ok()) return false;
    uid = api::uid(**existing);
  } else {
    BERTH_LOG(kWarning, kComponent) << "register node failed node=" << options.node_name
                                    << " error=" << created.error().message;
    return false;
  }
  {
    std::lock_guard lock(mu);
    node_uid = uid;
    conditions.reset(clock.now());
  }
  if (!postStatus(true)) return false;
  BERTH_LOG(kInfo, kComponent) << "node registered node=" << options.node_name
                               << " ip=" << options.node_ip;
  return true;
}

bool NodeAgent::Impl::postStatus(bool force) {
  node::NodeReport r = report();
  const auto now = clock.now();
  json::object status;
  {
    std::lock_guard lock(mu);
    status = node::realNodeStatus(r, conditions.update(node::realNodeHealth(r, ""), now));
    json::object compare = withoutHeartbeats(status);
    if (!force && compare == last_status && now - last_status_at < kStatusReportPeriod) return true;
  }
  json::object body{{"status", status}};
  auto patched = client.patch(node_kind, "", options.node_name, client::PatchType::kMerge,
                              json::serialize(body), client::Subresource::kStatus);
  if (!patched.ok()) {
    BERTH_LOG(kWarning, kComponent)
        << "node status failed node=" << options.node_name << " error=" << patched.error().message;
    return false;
  }
  std::lock_guard lock(mu);
  last_status = withoutHeartbeats(std::move(status));
  last_status_at = now;
  return true;
}

void NodeAgent::Impl::nodeLoop() {
  using steady = std::chrono::steady_clock;
  auto next_lease = steady::now();
  auto next_status = steady::now() + options.status_update_interval;
  for (;;) {
    {
      std::unique_lock lock(mu);
      if (stopping) return;
    }
    bool ok = true;
    if (!is_registered) {
      ok = registerNode();
      if (ok) {
        std::lock_guard lock(mu);
        is_registered = true;
        cv.notify_all();
      }
    }
    if (is_registered && steady::now() >= next_lease) {
      std::string uid;
      ObjectPtr cached;
      {
        std::lock_guard lock(mu);
        uid = node_uid;
        cached = lease;
      }
      auto renewed =
          node::renewLease(client, options.node_name, uid,
                           static_cast<int>(options.lease_duration.count()), clock.now(), cached);
      if (renewed.ok()) {
        std::lock_guard lock(mu);
        lease = *renewed;
        next_lease = steady::now() + options.lease_renew_interval;
      } else {
        BERTH_LOG(kWarning, kComponent) << "lease renewal failed node=" << options.node_name
                                        << " error=" << renewed.error().message;
        ok = false;
      }
    }
    if (is_registered && steady::now() >= next_status) {
      if (postStatus(false)) {
        next_status = steady::now() + options.status_update_interval;
        reclaim();
      } else {
        ok = false;
      }
    }
    std::unique_lock lock(mu);
    auto wake = ok ? std::min(next_lease, next_status) : steady::now() + std::chrono::seconds(1);
    cv.wait_until(lock, wake, [&] { return stopping; });
  }
}

Result<std::unique_ptr<NodeAgent>> NodeAgent::start(client::Client& client,
                                                    NodeAgentOptions options) {
  if (options.self_exe.empty()) {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) options.self_exe.assign(buf, static_cast<size_t>(n));
  }
  auto impl = std::make_unique<Impl>(client, std::move(options));
  Status s = impl->open();
  if (!s.ok()) {
    std::unique_ptr<NodeAgent> partial(new NodeAgent(std::move(impl)));
    partial->stop();
    return s.error();
  }
  return std::unique_ptr<NodeAgent>(new NodeAgent(std::move(impl)));
}

NodeAgent::NodeAgent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NodeAgent::~NodeAgent() { stop(); }

void NodeAgent::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->node_thread.joinable()) impl_->node_thread.join();
  if (impl_->agent_server) impl_->agent_server->stop();
  // A pod stopping within its grace period does not hold the shutdown up:
  // its containers keep running, and the next agent goes on with them.
  if (impl_->containers) impl_->containers->cancelWaits();
  if (impl_->workers) impl_->workers->stop();
  if (impl_->probes) impl_->probes->stop();
  impl_->exits.stop();
  impl_->pod_informer.stop();
  impl_->config_maps.stop();
  impl_->secrets.stop();
  impl_->recorder.flush();
}

bool NodeAgent::registered() const {
  std::lock_guard lock(impl_->mu);
  return impl_->is_registered;
}

const NodeAgentOptions& NodeAgent::options() const { return impl_->options; }

}  // namespace berth::agent
