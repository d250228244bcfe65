#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "apiserver/registry/registry.h"
#include "controllers/controller_util.h"

namespace berth::controllers {

// Upstream's garbage collector, over ownerReferences: one watch over every
// object keeps a graph of uid -> object and owner uid -> dependents.
//  - Background: once an owner is gone, dependents whose owners are all gone
//    are deleted (dangling references to other, live owners are dropped);
//  - Foreground: an owner with the foregroundDeletion finalizer has its
//    dependents deleted (foreground too), then loses the finalizer;
//  - Orphan: an owner with the orphan finalizer has its reference removed
//    from every dependent, then loses the finalizer.
class GarbageCollector {
 public:
  explicit GarbageCollector(apiserver::Registry& registry);
  ~GarbageCollector();
  Status start();
  void stop();

  // One object in the graph.
  struct Node {
    std::string key;
    std::string uid;
    std::vector<std::string> owner_uids;
    bool deleting = false;
    bool foreground = false;
    bool orphan = false;
  };
  // The graph state of one stored object (key left empty), or nullopt when
  // its value cannot be read.
  static std::optional<Node> readNode(std::string_view value);
  static bool sameGraphState(const Node& a, const Node& b);

 private:
  void onEvent(const storage::Event& ev);
  void sync(const std::string& item);
  void processDependent(const std::string& key);
  void processOwner(const std::string& uid);
  const api::KindInfo* kindForKey(const std::string& key) const;
  static void splitKey(const std::string& key, std::string* ns, std::string* name);

  apiserver::Registry& registry_;
  std::mutex mu_;
  std::map<std::string, Node> by_key_;
  std::map<std::string, std::string> uid_to_key_;
  std::map<std::string, std::set<std::string>> dependents_;  // owner uid -> dependent keys
  WorkQueue queue_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<storage::WatchHandle> watch_;
};

}  // namespace berth::controllers
