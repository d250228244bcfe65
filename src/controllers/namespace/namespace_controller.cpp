#include "controllers/namespace/namespace_controller.h"

#include <set>

#include "api/object.h"
#include "common/log.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;

namespace {
const char kRootCaName[] = "kube-root-ca.crt";
const char kRootCaDescription[] =
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "
    "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
    "Kubernetes clusters.";

// "/registry/<res>/<ns>/<name>" -> ns
std::string namespaceFromKey(const std::string& key) {
  auto a = key.find('/', 10);
  if (a == std::string::npos) return "";
  auto b = key.find('/', a + 1);
  if (b == std::string::npos) return "";
  return key.substr(a + 1, b - a - 1);
}
}  // namespace

NamespaceController::NamespaceController(apiserver::Registry& registry, std::string ca_pem)
    : registry_(registry), ca_pem_(std::move(ca_pem)) {}

NamespaceController::~NamespaceController() { stop(); }

Status NamespaceController::start() {
  workers_ = std::make_unique<WorkerPool>(queue_, [this](const std::string& ns) { sync(ns); }, 1);
  auto watchPrefix = [&](const std::string& prefix, bool namespaces) -> Status {
    storage::WatchOptions wo;
    wo.prefix = prefix;
    wo.initial_state = true;
    storage::WatchSink sink;
    sink.on_event = [this, namespaces](const storage::Event& ev) {
      if (ev.type == storage::EventType::kBookmark) return;
      if (namespaces) {
        queue_.add(ev.kv.key.substr(std::string("/registry/namespaces/").size()));
      } else if (ev.type == storage::EventType::kDeleted) {
        // A deleted default ServiceAccount or root CA ConfigMap is re-created.
        auto ns = namespaceFromKey(ev.kv.key);
        if (!ns.empty()) queue_.add(ns);
      }
    };
    sink.on_close = [](const Error&) {};
    auto h = registry_.store().watch(wo, std::move(sink));
    if (!h.ok()) return h.error();
    watches_.push_back(std::move(h).value());
    return okStatus();
  };
  BERTH_RETURN_IF_ERROR(watchPrefix("/registry/namespaces/", true));
  BERTH_RETURN_IF_ERROR(watchPrefix("/registry/serviceaccounts/", false));
  BERTH_RETURN_IF_ERROR(watchPrefix("/registry/configmaps/", false));
  return okStatus();
}

void NamespaceController::stop() {
  watches_.clear();
  if (workers_) workers_->stop();
  workers_.reset();
}

void NamespaceController::sync(const std::string& ns) {
  const auto* ns_kind = registry_.kinds().byKind("", "v1", "Namespace");
  if (!ns_kind) return;
  auto obj = registry_.get(*ns_kind, "", ns);
  if (!obj.ok()) return;
  bool terminating = api::metadata(*obj) && api::metadata(*obj)->contains("deletionTimestamp");
  if (!terminating) {
    ensureContents(ns);
    return;
  }
  if (!emptyNamespace(ns)) {
    queue_.addAfter(ns, std::chrono::milliseconds(500));
    return;
  }
  auto res = registry_.mutate(*ns_kind, "", ns, [](Object& o) -> Status {
    api::ensureObject(o, "spec").erase("finalizers");
    return okStatus();
  }, apiserver::Subresource::kFinalize);
  if (!res.ok() && res.error().code != ErrorCode::kNotFound) {
    queue_.addAfter(ns, std::chrono::milliseconds(500));
    return;
  }
  apiserver::DeleteOptions opts;
  auto del = registry_.remove(*ns_kind, "", ns, opts);
  if (!del.ok() && del.error().code != ErrorCode::kNotFound) queue_.addAfter(ns, std::chrono::milliseconds(500));
  else if (del.ok() && !del->deleted) queue_.addAfter(ns, std::chrono::milliseconds(500));
  else BERTH_LOG(kInfo, "namespace-controller") << "namespace deleted name=" << ns;
}

bool NamespaceController::emptyNamespace(const std::string& ns) {
  bool empty = true;
  std::set<std::string> seen;
  for (const auto& k : registry_.kinds().all()) {
    if (!k->namespaced) continue;
    const auto& sk = registry_.storageKind(*k);
    if (!seen.insert(sk.storageResource()).second) continue;
    apiserver::ListParams params;
    auto page = registry_.list(sk, ns, params);
    if (!page.ok()) {
      empty = false;
      continue;
    }
    for (auto& kv : page->items) {
      empty = false;
      auto* attrs = static_cast<const apiserver::ObjectAttrs*>(kv.decoded.get());
      if (!attrs) continue;
      apiserver::DeleteOptions opts;
      opts.propagation = apiserver::Propagation::kBackground;
      (void)registry_.remove(sk, ns, attrs->name, opts);
    }
  }
  return empty;
}

void NamespaceController::ensureContents(const std::string& ns) {
  const auto* sa_kind = registry_.kinds().byKind("", "v1", "ServiceAccount");
  const auto* cm_kind = registry_.kinds().byKind("", "v1", "ConfigMap");
  apiserver::WriteOptions opts;
  if (sa_kind && !registry_.getRaw(*sa_kind, ns, "default").ok()) {
    Object sa{{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", Object{{"name", "default"}}}};
    auto r = registry_.create(*sa_kind, ns, std::move(sa), opts);
    if (!r.ok() && r.error().code != ErrorCode::kAlreadyExists)
      BERTH_LOG(kWarning, "namespace-controller") << "create default serviceaccount ns=" << ns
                                                  << " error=" << r.error().message;
  }
  if (cm_kind && !ca_pem_.empty() && !registry_.getRaw(*cm_kind, ns, kRootCaName).ok()) {
    Object cm{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", Object{{"name", kRootCaName},
                                  {"annotations", Object{{"kubernetes.io/description", kRootCaDescription}}}}},
              {"data", Object{{"ca.crt", ca_pem_}}}};
    auto r = registry_.create(*cm_kind, ns, std::move(cm), opts);
    if (!r.ok() && r.error().code != ErrorCode::kAlreadyExists)
      BERTH_LOG(kWarning, "namespace-controller") << "create root ca configmap ns=" << ns
                                                  << " error=" << r.error().message;
  }
}

}  // namespace berth::controllers
