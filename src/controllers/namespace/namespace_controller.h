#pragma once

#include <memory>
#include <string>

#include "apiserver/registry/registry.h"
#include "controllers/controller_util.h"

namespace berth::controllers {

// Upstream's namespace controller and its two companions that fill a new
// namespace, in one watch over namespaces:
//  - a Terminating namespace is emptied (every namespaced kind deleted),
//    then its "kubernetes" finalizer is removed and it disappears;
//  - every active namespace gets the `default` ServiceAccount and the
//    `kube-root-ca.crt` ConfigMap (the cluster CA), re-created if deleted.
class NamespaceController {
 public:
  NamespaceController(apiserver::Registry& registry, std::string ca_pem);
  ~NamespaceController();
  Status start();
  void stop();

 private:
  void sync(const std::string& ns);
  // Deletes everything in ns; returns true when nothing remains.
  bool emptyNamespace(const std::string& ns);
  void ensureContents(const std::string& ns);

  apiserver::Registry& registry_;
  std::string ca_pem_;
  WorkQueue queue_;
  std::unique_ptr<WorkerPool> workers_;
  std::vector<std::unique_ptr<storage::WatchHandle>> watches_;
};

}  // namespace berth::controllers
