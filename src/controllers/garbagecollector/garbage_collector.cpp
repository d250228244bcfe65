#include "controllers/garbagecollector/garbage_collector.h"

#include "api/json_scan.h"
#include "api/object.h"
#include "common/log.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;

namespace {
bool hasFinalizer(const Object& obj, std::string_view f) {
  auto* md = api::metadata(obj);
  auto* arr = md ? api::findArray(*md, "finalizers") : nullptr;
  if (!arr) return false;
  for (auto& v : *arr)
    if (v.is_string() && v.get_string() == f) return true;
  return false;
}

void removeFinalizer(Object& obj, std::string_view f) {
  auto& md = api::mutableMetadata(obj);
  auto* arr = md.if_contains("finalizers");
  if (!arr || !arr->is_array()) return;
  json::array out;
  for (auto& v : arr->get_array())
    if (!(v.is_string() && v.get_string() == f)) out.push_back(v);
  if (out.empty()) md.erase("finalizers");
  else md["finalizers"] = std::move(out);
}
}  // namespace

GarbageCollector::GarbageCollector(apiserver::Registry& registry) : registry_(registry) {}

GarbageCollector::~GarbageCollector() { stop(); }

Status GarbageCollector::start() {
  workers_ = std::make_unique<WorkerPool>(queue_, [this](const std::string& item) { sync(item); }, 1);
  storage::WatchOptions wo;
  wo.prefix = "/registry/";
  wo.initial_state = true;
  storage::WatchSink sink;
  sink.on_event = [this](const storage::Event& ev) { onEvent(ev); };
  sink.on_close = [](const Error& e) {
    BERTH_LOG(kWarning, "garbage-collector") << "watch closed: " << e.message;
  };
  auto h = registry_.store().watch(wo, std::move(sink));
  if (!h.ok()) return h.error();
  watch_ = std::move(h).value();
  return okStatus();
}

void GarbageCollector::stop() {
  watch_.reset();
  if (workers_) workers_->stop();
  workers_.reset();
}

void GarbageCollector::onEvent(const storage::Event& ev) {
  if (ev.type == storage::EventType::kBookmark || !ev.kv.value) return;
  const std::string& key = ev.kv.key;
  std::optional<Node> scanned;
  if (ev.type != storage::EventType::kDeleted) {
    scanned = readNode(*ev.kv.value);
    if (!scanned) return;
    scanned->key = key;
  }
  std::lock_guard lock(mu_);
  auto old = by_key_.find(key);
  if (old != by_key_.end()) {
    // Most writes (bindings, status updates) change none of what the
    // collector keeps: nothing to relink or re-check.
    if (scanned && sameGraphState(old->second, *scanned)) return;
    for (auto& o : old->second.owner_uids) {
      auto d = dependents_.find(o);
      if (d != dependents_.end()) {
        d->second.erase(key);
        if (d->second.empty()) dependents_.erase(d);
      }
    }
    if (ev.type == storage::EventType::kDeleted) {
      std::string uid = old->second.uid;
      // Owners waiting in foreground deletion re-check their dependents.
      for (auto& o : old->second.owner_uids) queue_.add("o:" + o);
      uid_to_key_.erase(uid);
      by_key_.erase(old);
      // Owners of this object may now be unblocked; its dependents may be orphans.
      if (dependents_.count(uid)) queue_.add("o:" + uid);
      return;
    }
  }
  if (ev.type == storage::EventType::kDeleted) return;
  Node n = std::move(*scanned);
  for (auto& o : n.owner_uids) dependents_[o].insert(key);
  uid_to_key_[n.uid] = key;
  bool owns = dependents_.count(n.uid) > 0;
  bool check_owner = n.foreground || n.orphan;
  bool has_owners = !n.owner_uids.empty();
  std::vector<std::string> owners = n.owner_uids;
  by_key_[key] = std::move(n);
  if (check_owner || (owns && by_key_[key].deleting)) queue_.add("o:" + by_key_[key].uid);
  if (has_owners) {
    queue_.add("d:" + key);
    // A dependent deleted or created under a foreground owner re-checks it.
    for (auto& o : owners)
      if (auto k = uid_to_key_.find(o); k != uid_to_key_.end() && by_key_[k->second].foreground) queue_.add("o:" + o);
  }
}

bool GarbageCollector::sameGraphState(const Node& a, const Node& b) {
  return a.uid == b.uid && a.owner_uids == b.owner_uids && a.deleting == b.deleting &&
         a.foreground == b.foreground && a.orphan == b.orphan;
}

std::optional<GarbageCollector::Node> GarbageCollector::readNode(std::string_view value) {
  // Only metadata matters here (uid, ownerReferences, deletionTimestamp,
  // finalizers), and this runs on the store's writer thread for every
  // write: those members are found by scanning and only the small arrays
  // among them parsed; anything unclear falls back to parsing metadata.
  static constexpr std::string_view kKeys[] = {"uid", "ownerReferences", "deletionTimestamp",
                                               "finalizers"};
  std::string_view found[std::size(kKeys)];
  json::error_code ec;
  auto parseArray = [&](std::string_view text) -> std::optional<json::array> {
    if (text.empty()) return json::array();
    json::value v = json::parse(text, ec);
    if (ec || !v.is_array()) return std::nullopt;
    return std::move(v.get_array());
  };
  auto md_text = api::findTopLevelMember(value, "metadata");
  Object md;
  if (md_text && api::findTopLevelMembers(*md_text, kKeys, found) &&
      found[0].find('\\') == std::string_view::npos) {
    if (found[0].size() >= 2 && found[0].front() == '"')
      md["uid"] = found[0].substr(1, found[0].size() - 2);
    auto refs = parseArray(found[1]);
    auto finalizers = parseArray(found[3]);
    if (!refs || !finalizers) return std::nullopt;
    if (!refs->empty()) md["ownerReferences"] = std::move(*refs);
    if (!found[2].empty()) md["deletionTimestamp"] = true;
    if (!finalizers->empty()) md["finalizers"] = std::move(*finalizers);
  } else {
    json::value v = md_text ? json::parse(*md_text, ec) : json::parse(value, ec);
    if (ec || !v.is_object()) return std::nullopt;
    if (md_text) {
      md = std::move(v.get_object());
    } else if (auto* m = api::metadata(v.get_object())) {
      md = *m;
    }
  }
  Object obj{{"metadata", std::move(md)}};
  Node n;
  n.uid = api::uid(obj);
  const Object& m = *api::metadata(obj);
  n.deleting = m.contains("deletionTimestamp");
  if (auto* refs = api::findArray(m, "ownerReferences"))
    for (auto& r : *refs)
      if (r.is_object()) n.owner_uids.push_back(api::getString(r.get_object(), "uid"));
  n.foreground = n.deleting && hasFinalizer(obj, "foregroundDeletion");
  n.orphan = n.deleting && hasFinalizer(obj, "orphan");
  return n;
}

void GarbageCollector::sync(const std::string& item) {
  if (item.compare(0, 2, "d:") == 0) processDependent(item.substr(2));
  else if (item.compare(0, 2, "o:") == 0) processOwner(item.substr(2));
}

const api::KindInfo* GarbageCollector::kindForKey(const std::string& key) const {
  if (key.size() <= 10) return nullptr;
  auto rest = key.substr(10);
  auto res = rest.substr(0, rest.find('/'));
  for (const auto& k : registry_.kinds().all())
    if (k->storageResource() == res) return k.get();
  return nullptr;
}

void GarbageCollector::splitKey(const std::string& key, std::string* ns, std::string* name) {
  // /registry/<res>/<ns>/<name> or /registry/<res>/<name>
  std::vector<std::string> parts;
  size_t i = 10;
  auto first = key.find('/', i);
  if (first == std::string::npos) return;
  std::string rest = key.substr(first + 1);
  auto slash = rest.find('/');
  if (slash == std::string::npos) {
    ns->clear();
    *name = rest;
  } else {
    *ns = rest.substr(0, slash);
    *name = rest.substr(slash + 1);
  }
}

void GarbageCollector::processDependent(const std::string& key) {
  std::vector<std::string> owners;
  std::vector<std::string> absent;
  bool live_owner = false;
  bool foreground_owner = false;
  {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(key);
    if (it == by_key_.end() || it->second.deleting) return;
    owners = it->second.owner_uids;
    for (auto& o : owners) {
      auto k = uid_to_key_.find(o);
      if (k == uid_to_key_.end()) {
        absent.push_back(o);
      } else {
        const Node& owner = by_key_[k->second];
        if (owner.foreground) foreground_owner = true;
        else if (!owner.orphan) live_owner = true;
        else live_owner = true;  // orphaning owners keep their dependents
      }
    }
  }
  const auto* kind = kindForKey(key);
  if (!kind) return;
  std::string ns, name;
  splitKey(key, &ns, &name);
  if (absent.empty() && !foreground_owner) return;
  if (!live_owner && (absent.size() == owners.size() || foreground_owner)) {
    apiserver::DeleteOptions opts;
    opts.propagation = foreground_owner ? apiserver::Propagation::kForeground : apiserver::Propagation::kBackground;
    auto r = registry_.remove(*kind, ns, name, opts);
    if (r.ok())
      BERTH_LOG(kInfo, "garbage-collector") << "deleted dependent key=" << key;
    else if (r.error().code != ErrorCode::kNotFound)
      queue_.addAfter("d:" + key, std::chrono::milliseconds(500));
    return;
  }
  if (!absent.empty()) {
    // Some owners live: drop only the dangling references.
    auto r = registry_.mutate(*kind, ns, name, [&](Object& obj) -> Status {
      auto& md = api::mutableMetadata(obj);
      auto* refs = md.if_contains("ownerReferences");
      if (!refs || !refs->is_array()) return okStatus();
      json::array kept;
      for (auto& ref : refs->get_array()) {
        std::string uid = ref.is_object() ? api::getString(ref.get_object(), "uid") : "";
        if (std::find(absent.begin(), absent.end(), uid) == absent.end()) kept.push_back(ref);
      }
      md["ownerReferences"] = std::move(kept);
      return okStatus();
    });
    if (!r.ok() && r.error().code != ErrorCode::kNotFound)
      queue_.addAfter("d:" + key, std::chrono::milliseconds(500));
  }
}

void GarbageCollector::processOwner(const std::string& uid) {
  std::string owner_key;
  bool foreground = false, orphan = false;
  std::vector<std::string> deps;
  {
    std::lock_guard lock(mu_);
    if (auto d = dependents_.find(uid); d != dependents_.end()) deps.assign(d->second.begin(), d->second.end());
    auto k = uid_to_key_.find(uid);
    if (k == uid_to_key_.end()) {
      // The owner is gone: its dependents are checked for deletion.
      for (auto& d : deps) queue_.add("d:" + d);
      return;
    }
    owner_key = k->second;
    const Node& n = by_key_[owner_key];
    foreground = n.foreground;
    orphan = n.orphan;
  }
  const auto* owner_kind = kindForKey(owner_key);
  if (!owner_kind) return;
  std::string ons, oname;
  splitKey(owner_key, &ons, &oname);
  if (orphan) {
    bool ok = true;
    for (auto& d : deps) {
      const auto* kind = kindForKey(d);
      if (!kind) continue;
      std::string ns, name;
      splitKey(d, &ns, &name);
      auto r = registry_.mutate(*kind, ns, name, [&](Object& obj) -> Status {
        auto& md = api::mutableMetadata(obj);
        auto* refs = md.if_contains("ownerReferences");
        if (!refs || !refs->is_array()) return okStatus();
        json::array kept;
        for (auto& ref : refs->get_array())
          if (!(ref.is_object() && api::getString(ref.get_object(), "uid") == uid)) kept.push_back(ref);
        if (kept.empty()) md.erase("ownerReferences");
        else md["ownerReferences"] = std::move(kept);
        return okStatus();
      });
      if (!r.ok() && r.error().code != ErrorCode::kNotFound) ok = false;
    }
    if (!ok) {
      queue_.addAfter("o:" + uid, std::chrono::milliseconds(500));
      return;
    }
    (void)registry_.mutate(*owner_kind, ons, oname, [](Object& obj) -> Status {
      removeFinalizer(obj, "orphan");
      return okStatus();
    });
    return;
  }
  if (foreground) {
    if (!deps.empty()) {
      for (auto& d : deps) queue_.add("d:" + d);
      return;  // re-checked when dependents disappear
    }
    (void)registry_.mutate(*owner_kind, ons, oname, [](Object& obj) -> Status {
      removeFinalizer(obj, "foregroundDeletion");
      return okStatus();
    });
  }
}

}  // namespace berth::controllers
