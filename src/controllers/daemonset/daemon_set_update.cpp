// The DaemonSet controller's rollout and history, after upstream's
// pkg/controller/daemon/update.go.

#include <algorithm>
#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/daemonset/daemon_set_controller.h"
#include "controllers/daemonset/daemon_util.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

namespace {

std::string hashOf(const Object& obj) {
  return api::strAt(obj, {"metadata", "labels", kControllerRevisionHashLabel});
}

std::optional<int32_t> collisionCountOf(const Object& ds) {
  if (auto c = api::intAt(ds, {"status", "collisionCount"})) return static_cast<int32_t>(*c);
  return std::nullopt;
}

}  // namespace

Status DaemonSetController::rollingUpdate(const Object& ds, const std::vector<ObjectPtr>& nodes,
                                          const std::string& hash) {
  auto by_node_res = getNodesToDaemonPods(ds, false);
  if (!by_node_res.ok()) {
    Error e = by_node_res.error();
    e.message = "couldn't get node to daemon pod mapping for daemon set \"" + api::name(ds) +
                "\": " + e.message;
    return e;
  }
  PodsByNode by_node = std::move(*by_node_res);
  // updatedDesiredNodeCounts: every node that should run a pod is in the
  // map, empty when it has none.
  int64_t desired = 0;
  std::map<std::string, ObjectPtr> node_by_name;
  for (const auto& node : nodes) {
    node_by_name[api::name(*node)] = node;
    if (!nodeShouldRunDaemonPod(*node, ds).should_run) continue;
    ++desired;
    by_node[api::name(*node)];
  }
  auto max_unavailable_res = unavailableCount(ds, desired);
  if (!max_unavailable_res.ok())
    return makeError(ErrorCode::kInvalid,
                     "couldn't get unavailable numbers: invalid value for MaxUnavailable: " +
                         max_unavailable_res.error().message);
  auto max_surge_res = surgeCount(ds, desired);
  if (!max_surge_res.ok())
    return makeError(ErrorCode::kInvalid,
                     "couldn't get unavailable numbers: invalid value for MaxSurge: " +
                         max_surge_res.error().message);
  int64_t max_unavailable = *max_unavailable_res, max_surge = *max_surge_res;
  // An impossible configuration (both 0) falls back to one unavailable.
  if (desired > 0 && max_unavailable == 0 && max_surge == 0) max_unavailable = 1;

  int64_t min_ready = api::intAt(ds, {"spec", "minReadySeconds"}).value_or(0);
  auto now = clock_.now();
  auto available = [&](const ObjectPtr& p) { return isPodAvailable(*p, min_ready, now); };

  // findUpdatedPodsOnNode: at most one new and one old live pod, or not ok.
  auto split = [&](const std::vector<ObjectPtr>& pods, ObjectPtr* new_pod, ObjectPtr* old_pod) {
    *new_pod = nullptr;
    *old_pod = nullptr;
    for (const auto& pod : pods) {
      if (hasDeletionTimestamp(*pod)) continue;
      ObjectPtr* slot = isPodUpdated(*pod, hash, ds) ? new_pod : old_pod;
      if (*slot) return false;
      *slot = pod;
    }
    return true;
  };

  if (max_surge == 0) {
    // Delete just enough old pods to stay within maxUnavailable; the manage
    // loop creates their replacements.
    int64_t num_unavailable = 0;
    std::vector<std::string> allowed_replacements, candidates;
    for (const auto& [node_name, pods] : by_node) {
      ObjectPtr new_pod, old_pod;
      if (!split(pods, &new_pod, &old_pod)) {
        // Excess pods: the manage loop prunes them; count as unavailable.
        ++num_unavailable;
        continue;
      }
      if ((!old_pod && !new_pod) || (old_pod && new_pod)) {
        ++num_unavailable;
      } else if (new_pod) {
        if (!available(new_pod)) ++num_unavailable;
      } else if (!available(old_pod)) {
        // An unavailable old pod is replaced regardless of the budget.
        allowed_replacements.push_back(api::name(*old_pod));
        ++num_unavailable;
      } else if (num_unavailable < max_unavailable) {
        candidates.push_back(api::name(*old_pod));
      }
    }
    int64_t remaining = std::max<int64_t>(0, max_unavailable - num_unavailable);
    remaining = std::min<int64_t>(remaining, static_cast<int64_t>(candidates.size()));
    std::vector<std::string> to_delete = allowed_replacements;
    to_delete.insert(to_delete.end(), candidates.begin(), candidates.begin() + remaining);
    return syncNodes(ds, to_delete, {}, hash);
  }

  // Surging: start a new pod next to an old one (at most maxSurge at a
  // time, always when the old one is unavailable), delete the old one once
  // the new one is available.
  std::vector<std::string> old_to_delete, should_not_run_to_delete, candidate_new_nodes,
      allowed_new_nodes;
  int64_t num_surge = 0, num_available = 0;
  for (const auto& [node_name, pods] : by_node) {
    ObjectPtr new_pod, old_pod;
    if (!split(pods, &new_pod, &old_pod)) {
      ++num_surge;
      continue;
    }
    if (old_pod) {
      if (available(old_pod)) ++num_available;
    } else if (new_pod && available(new_pod)) {
      ++num_available;
    }
    if (!old_pod) continue;  // The manage loop handles this node.
    if (!new_pod) {
      auto nit = node_by_name.find(node_name);
      bool should_run =
          nit != node_by_name.end() && nodeShouldRunDaemonPod(*nit->second, ds).should_run;
      if (!available(old_pod)) {
        if (!should_run) {
          old_to_delete.push_back(api::name(*old_pod));
          continue;
        }
        allowed_new_nodes.push_back(node_name);
        continue;
      }
      if (!should_run) {
        should_not_run_to_delete.push_back(api::name(*old_pod));
        continue;
      }
      if (num_surge >= max_surge) continue;
      candidate_new_nodes.push_back(node_name);
      continue;
    }
    if (!available(new_pod)) {
      ++num_surge;
      continue;
    }
    old_to_delete.push_back(api::name(*old_pod));
  }
  int64_t remaining_surge = std::max<int64_t>(0, max_surge - num_surge);
  // With maxSurge the owner expects full availability: a pod on a node the
  // DaemonSet left goes only once enough pods elsewhere are available.
  if (int64_t deletable = num_available - desired; deletable > 0) {
    deletable = std::min<int64_t>(deletable, static_cast<int64_t>(should_not_run_to_delete.size()));
    for (int64_t i = 0; i < deletable; ++i) old_to_delete.push_back(should_not_run_to_delete[i]);
  }
  remaining_surge =
      std::min<int64_t>(remaining_surge, static_cast<int64_t>(candidate_new_nodes.size()));
  std::vector<std::string> new_nodes = allowed_new_nodes;
  new_nodes.insert(new_nodes.end(), candidate_new_nodes.begin(),
                   candidate_new_nodes.begin() + remaining_surge);
  return syncNodes(ds, old_to_delete, new_nodes, hash);
}

Result<std::vector<ObjectPtr>> DaemonSetController::controlledHistories(const Object& ds) {
  BERTH_ASSIGN_OR_RETURN(api::LabelSelector selector,
                         api::LabelSelector::fromObject(api::at(ds, {"spec", "selector"})));
  std::vector<ObjectPtr> histories = history_informer_.listNamespace(api::namespaceOf(ds));
  ControllerRefManager cm(client_, ds, ds_kind_, std::move(selector), canAdopt(ds));
  return cm.claim(cr_kind_, histories);
}

Result<DaemonSetController::History> DaemonSetController::constructHistory(const Object& ds) {
  BERTH_ASSIGN_OR_RETURN(std::vector<ObjectPtr> histories, controlledHistories(ds));
  History out;
  std::vector<ObjectPtr> current;
  Object wanted;
  wanted["data"] = templatePatch(ds);
  for (ObjectPtr h : histories) {
    if (hashOf(*h).empty()) {
      // Label a revision that lacks it with its name rather than a hash,
      // so collisions cannot matter.
      Object to_update = *h;
      api::ensureObject(api::mutableMetadata(to_update), "labels")[kControllerRevisionHashLabel] =
          api::name(*h);
      BERTH_ASSIGN_OR_RETURN(h, client_.update(cr_kind_, to_update));
    }
    if (equalRevision(wanted, *h))
      current.push_back(h);
    else
      out.old.push_back(h);
  }
  int64_t max_old = 0;
  for (const auto& h : out.old) max_old = std::max(max_old, revisionNumber(*h));
  int64_t cur_revision = max_old + 1;
  if (current.empty()) {
    BERTH_ASSIGN_OR_RETURN(out.cur, snapshot(ds, cur_revision));
    return out;
  }
  BERTH_ASSIGN_OR_RETURN(out.cur, dedupCurHistories(ds, current));
  if (revisionNumber(*out.cur) < cur_revision) {
    // A rollback to an older template: it becomes the newest revision.
    Object to_update = *out.cur;
    to_update["revision"] = cur_revision;
    BERTH_ASSIGN_OR_RETURN(out.cur, client_.update(cr_kind_, to_update));
  }
  return out;
}

Result<ObjectPtr> DaemonSetController::snapshot(const Object& ds, int64_t revision) {
  std::optional<int32_t> collision = collisionCountOf(ds);
  json::value tmpl = api::at(ds, {"spec", "template"}) ? *api::at(ds, {"spec", "template"})
                                                       : json::value(json::object());
  std::string hash = computeTemplateHash(tmpl, collision);
  std::string name = api::name(ds) + "-" + hash;
  Object cr;
  cr["apiVersion"] = "apps/v1";
  cr["kind"] = "ControllerRevision";
  json::object meta;
  meta["name"] = name;
  meta["namespace"] = api::namespaceOf(ds);
  json::object labels;
  if (const json::object* l = api::objAt(ds, {"spec", "template", "metadata", "labels"}))
    labels = *l;
  labels[kControllerRevisionHashLabel] = hash;
  meta["labels"] = std::move(labels);
  if (const json::object* a = api::objAt(ds, {"metadata", "annotations"})) meta["annotations"] = *a;
  meta["ownerReferences"] = json::array{newControllerRef(ds, ds_kind_)};
  cr["metadata"] = std::move(meta);
  cr["data"] = templatePatch(ds);
  cr["revision"] = revision;

  auto created = client_.create(cr_kind_, cr);
  if (created.ok() || created.error().code != ErrorCode::kAlreadyExists) return created;
  BERTH_ASSIGN_OR_RETURN(ObjectPtr existing, client_.get(cr_kind_, api::namespaceOf(ds), name));
  // Created by an earlier sync whose result was not observed yet.
  if (equalRevision(*existing, cr)) return existing;
  // A hash collision with another template: bump status.collisionCount so
  // the next sync computes another name.
  BERTH_ASSIGN_OR_RETURN(ObjectPtr cur_ds,
                         client_.get(ds_kind_, api::namespaceOf(ds), api::name(ds)));
  std::optional<int32_t> cur_collision = collisionCountOf(*cur_ds);
  if (cur_collision != collision)
    return makeError(ErrorCode::kConflict,
                     "found a stale collision count (" + std::to_string(collision.value_or(0)) +
                         ", expected " + std::to_string(cur_collision.value_or(0)) +
                         ") of DaemonSet \"" + api::name(ds) +
                         "\" while processing; will retry until it is updated");
  Object to_update = *cur_ds;
  api::ensureObject(to_update, "status")["collisionCount"] = cur_collision.value_or(0) + 1;
  auto updated = client_.update(ds_kind_, to_update, client::Subresource::kStatus);
  if (!updated.ok()) return updated.error();
  BERTH_LOG(kInfo, "controllers") << "hash collision for daemon set key=" << client::keyOf(ds)
                                  << " collision_count=" << cur_collision.value_or(0) + 1;
  return created.error();
}

Result<ObjectPtr> DaemonSetController::dedupCurHistories(const Object& ds,
                                                         const std::vector<ObjectPtr>& cur) {
  if (cur.size() == 1) return cur.front();
  ObjectPtr keep;
  int64_t max_revision = 0;
  for (const auto& h : cur)
    if (revisionNumber(*h) >= max_revision) {
      keep = h;
      max_revision = revisionNumber(*h);
    }
  // Relabel pods to the kept revision's hash before deleting duplicates.
  BERTH_ASSIGN_OR_RETURN(std::vector<ObjectPtr> pods, getDaemonPods(ds));
  std::string keep_hash = hashOf(*keep);
  for (const auto& pod : pods) {
    if (hashOf(*pod) == keep_hash) continue;
    json::object labels;
    labels[kControllerRevisionHashLabel] = keep_hash;
    json::object patch{{"metadata", json::object{{"labels", labels}}}};
    auto res = client_.patch(client::kind("", "Pod"), api::namespaceOf(*pod), api::name(*pod),
                             client::PatchType::kMerge, json::serialize(patch));
    if (!res.ok()) return res.error();
  }
  for (const auto& h : cur) {
    if (api::name(*h) == api::name(*keep)) continue;
    auto res = client_.remove(cr_kind_, api::namespaceOf(*h), api::name(*h));
    if (!res.ok()) return res.error();
  }
  return keep;
}

Status DaemonSetController::cleanupHistory(const Object& ds, const std::vector<ObjectPtr>& old) {
  int64_t to_keep = api::intAt(ds, {"spec", "revisionHistoryLimit"}).value_or(10);
  int64_t to_kill = static_cast<int64_t>(old.size()) - to_keep;
  if (to_kill <= 0) return okStatus();
  // Deleted terminal pods count: their revisions are still live.
  BERTH_ASSIGN_OR_RETURN(PodsByNode by_node, getNodesToDaemonPods(ds, true));
  std::set<std::string> live_hashes;
  for (const auto& [node, pods] : by_node)
    for (const auto& pod : pods)
      if (std::string h = hashOf(*pod); !h.empty()) live_hashes.insert(h);
  std::vector<ObjectPtr> sorted = old;
  std::stable_sort(sorted.begin(), sorted.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    return revisionNumber(*a) < revisionNumber(*b);
  });
  for (const auto& h : sorted) {
    if (to_kill <= 0) break;
    if (live_hashes.count(hashOf(*h))) continue;
    auto res = client_.remove(cr_kind_, api::namespaceOf(*h), api::name(*h));
    if (!res.ok() && res.error().code != ErrorCode::kNotFound) return res.error();
    --to_kill;
  }
  return okStatus();
}

}  // namespace berth::controllers
