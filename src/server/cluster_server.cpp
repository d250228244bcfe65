#include "server/cluster_server.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/kind.h"
#include "apiserver/api_server.h"
#include "apiserver/pod_log.h"
#include "apiserver/registry/registry.h"
#include "apiserver/timers.h"
#include "common/log.h"
#include "controllers/bootstrap/bootstrap.h"
#include "controllers/garbagecollector/garbage_collector.h"
#include "controllers/namespace/namespace_controller.h"
#include "server/transport.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/watch_cache.h"

namespace berth::server {

struct ClusterServer::Impl {
  ServerConfig config;
  TransportCredentials creds;
  std::shared_ptr<storage::SqliteStore> backend;
  std::shared_ptr<storage::WatchCache> cache;
  std::unique_ptr<apiserver::Timers> timers;
  std::unique_ptr<apiserver::Registry> registry;
  std::unique_ptr<apiserver::ApiServer> api;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<controllers::NamespaceController> namespaces;
  std::unique_ptr<controllers::GarbageCollector> gc;
  std::unique_ptr<ControlPlane> control_plane;
  std::string kubeconfig_path;
  int port = 0;
  bool stopped = false;
  // Compaction as upstream's apiserver does it: every interval, compact to
  // the revision seen one interval earlier.
  int64_t last_seen_revision = 0;

  void scheduleCompaction() {
    timers->after(std::chrono::minutes(5), [this] {
      int64_t target = last_seen_revision;
      last_seen_revision = cache->currentRevision();
      if (target > cache->compactedRevision()) {
        auto st = cache->compact(target);
        if (!st.ok()) BERTH_LOG(kWarning, "server") << "compaction failed: " << st.error().message;
      }
      scheduleCompaction();
    });
  }
};

namespace {

// pods/log reaches node agents with a client certificate of the API
// server's own (kube-apiserver --kubelet-client-certificate), issued from
// the cluster CA at every start; agents trust that CA's clients.
Result<std::shared_ptr<apiserver::AgentProxy>> startAgentProxy(const std::string& data_dir,
                                                               const std::string& ca_pem) {
  std::string key_path = data_dir + "/pki/ca.key";  // auth::ensureClusterCredentials
  std::ifstream in(key_path, std::ios::binary);
  if (!in) return makeError(ErrorCode::kInternal, "cannot read " + key_path);
  std::ostringstream key;
  key << in.rdbuf();
  BERTH_ASSIGN_OR_RETURN(auto cert, apiserver::issueAgentClientCertificate({ca_pem, key.str()}));
  apiserver::AgentProxyOptions options;
  options.client_cert_pem = std::move(cert.cert_pem);
  options.client_key_pem = std::move(cert.key_pem);
  auto proxy = std::make_shared<apiserver::AgentProxy>(std::move(options));
  BERTH_RETURN_IF_ERROR(proxy->start());
  return proxy;
}

}  // namespace

Status parseServerFlags(const std::vector<std::string>& args, ServerConfig* config) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= args.size()) return makeError(ErrorCode::kBadRequest, "flag needs an argument: " + flag);
      return args[++i];
    };
    auto seconds = [&]() -> Result<std::chrono::seconds> {
      BERTH_ASSIGN_OR_RETURN(std::string v, value());
      auto d = parseGoDuration(v);
      if (!d.ok()) return makeError(ErrorCode::kBadRequest, "invalid value for " + flag + ": " + d.error().message);
      if (*d < std::chrono::seconds(1))
        return makeError(ErrorCode::kBadRequest, "invalid value for " + flag + ": at least 1s");
      return std::chrono::duration_cast<std::chrono::seconds>(*d);
    };
    // A finite number >= 0 (and <= max when given), as upstream's flag
    // validation.
    auto number = [&](double max) -> Result<double> {
      BERTH_ASSIGN_OR_RETURN(std::string v, value());
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !std::isfinite(d) || d < 0 || d > max)
        return makeError(ErrorCode::kBadRequest, "invalid value for " + flag + ": " + v);
      return d;
    };
    ControlPlaneOptions& cp = config->control_plane_options;
    if (flag == "--data-dir") {
      BERTH_ASSIGN_OR_RETURN(config->data_dir, value());
    } else if (flag == "--listen") {
      BERTH_ASSIGN_OR_RETURN(config->listen, value());
    } else if (flag == "--advertise-address") {
      BERTH_ASSIGN_OR_RETURN(config->advertise_address, value());
    } else if (flag == "--service-cidr") {
      BERTH_ASSIGN_OR_RETURN(config->service_cidr, value());
    } else if (flag == "--no-control-plane") {
      config->control_plane = false;
    } else if (flag == "--node-monitor-period") {
      BERTH_ASSIGN_OR_RETURN(cp.node_monitor_period, seconds());
    } else if (flag == "--node-monitor-grace-period") {
      BERTH_ASSIGN_OR_RETURN(cp.node_monitor_grace_period, seconds());
    } else if (flag == "--node-eviction-rate") {
      BERTH_ASSIGN_OR_RETURN(cp.node_eviction_rate, number(1e9));
    } else if (flag == "--secondary-node-eviction-rate") {
      BERTH_ASSIGN_OR_RETURN(cp.secondary_node_eviction_rate, number(1e9));
    } else if (flag == "--unhealthy-zone-threshold") {
      BERTH_ASSIGN_OR_RETURN(cp.unhealthy_zone_threshold, number(1));
    } else if (flag == "--large-cluster-size-threshold") {
      BERTH_ASSIGN_OR_RETURN(double n, number(1e9));
      if (n != static_cast<int>(n))
        return makeError(ErrorCode::kBadRequest, "invalid value for " + flag + ": not an integer");
      cp.large_cluster_size_threshold = static_cast<int>(n);
    } else if (flag == "--scheduler-strategy") {
      BERTH_ASSIGN_OR_RETURN(std::string v, value());
      auto st = scheduler::parseScoringStrategy(v);
      if (!st.ok()) return makeError(ErrorCode::kBadRequest, "invalid value for " + flag + ": " + st.error().message);
      cp.scoring_strategy = *st;
    } else {
      return makeError(ErrorCode::kBadRequest, "unknown flag " + flag);
    }
  }
  return okStatus();
}

ClusterServer::ClusterServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ClusterServer::~ClusterServer() { stop(); }

int ClusterServer::port() const { return impl_->port; }
const std::string& ClusterServer::kubeconfigPath() const { return impl_->kubeconfig_path; }
const std::string& ClusterServer::adminToken() const { return impl_->creds.admin_token; }
const std::string& ClusterServer::nodeToken() const { return impl_->creds.node_token; }
const std::string& ClusterServer::caPem() const { return impl_->creds.ca_pem; }
apiserver::Registry& ClusterServer::registry() { return *impl_->registry; }
client::Client* ClusterServer::client() {
  return impl_->control_plane ? &impl_->control_plane->client() : nullptr;
}

Result<std::unique_ptr<ClusterServer>> ClusterServer::start(const ServerConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  if (impl->config.advertise_address.empty())
    impl->config.advertise_address = controllers::defaultAdvertiseAddress();
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return makeError(ErrorCode::kInternal, "cannot create data dir " + config.data_dir + ": " + ec.message());
  ::chmod(config.data_dir.c_str(), 0700);

  BERTH_ASSIGN_OR_RETURN(impl->creds, prepareCredentials(impl->config));

  storage::SqliteStoreOptions so;
  BERTH_ASSIGN_OR_RETURN(auto backend, storage::SqliteStore::open(config.data_dir + "/state.db", so));
  impl->backend = std::move(backend);
  const api::KindRegistry& kinds = api::KindRegistry::builtin();
  storage::WatchCacheOptions wo;
  wo.decorate = [&kinds](storage::KeyValue kv) { return apiserver::Registry::decorate(kinds, std::move(kv)); };
  BERTH_ASSIGN_OR_RETURN(auto cache, storage::WatchCache::create(impl->backend, wo));
  impl->cache = std::move(cache);
  impl->timers = std::make_unique<apiserver::Timers>();
  apiserver::Registry::Options ro;
  ro.service_cidr = config.service_cidr;
  impl->registry = std::make_unique<apiserver::Registry>(kinds, impl->cache, RealClock::instance(), ro);
  apiserver::ApiServer::Options api_options;
  BERTH_ASSIGN_OR_RETURN(api_options.agent_proxy, startAgentProxy(config.data_dir, impl->creds.ca_pem));
  impl->api = std::make_unique<apiserver::ApiServer>(*impl->registry, *impl->timers, std::move(api_options));

  BERTH_ASSIGN_OR_RETURN(impl->transport, startTransport(impl->config, impl->creds, *impl->api));
  impl->port = impl->transport->port();

  controllers::BootstrapConfig bc;
  bc.advertise_address = impl->config.advertise_address;
  bc.port = impl->port;
  BERTH_RETURN_IF_ERROR(controllers::bootstrapCluster(*impl->registry, bc));
  impl->namespaces = std::make_unique<controllers::NamespaceController>(*impl->registry, impl->creds.ca_pem);
  BERTH_RETURN_IF_ERROR(impl->namespaces->start());
  impl->gc = std::make_unique<controllers::GarbageCollector>(*impl->registry);
  BERTH_RETURN_IF_ERROR(impl->gc->start());
  if (config.control_plane) {
    BERTH_ASSIGN_OR_RETURN(impl->control_plane,
                           ControlPlane::start(*impl->registry, RealClock::instance(), config.control_plane_options));
  }

  BERTH_ASSIGN_OR_RETURN(impl->kubeconfig_path, writeAdminKubeconfig(impl->config, impl->creds, impl->port));
  impl->last_seen_revision = impl->cache->currentRevision();
  impl->scheduleCompaction();
  impl->api->setReady(true);
  return std::unique_ptr<ClusterServer>(new ClusterServer(std::move(impl)));
}

void ClusterServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->api) impl_->api->setReady(false);
  // Stop taking requests and end streams first, then the controllers, then
  // the store (its destructor finishes the last group commit).
  if (impl_->transport) impl_->transport->stop();
  if (impl_->timers) impl_->timers->stop();
  if (impl_->control_plane) impl_->control_plane->stop();
  if (impl_->gc) impl_->gc->stop();
  if (impl_->namespaces) impl_->namespaces->stop();
  impl_->transport.reset();
  impl_->control_plane.reset();
  impl_->gc.reset();
  impl_->namespaces.reset();
  impl_->api.reset();
  impl_->registry.reset();
  impl_->cache.reset();
  impl_->backend.reset();
  impl_->timers.reset();
}

}  // namespace berth::server
