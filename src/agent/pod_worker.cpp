#include "agent/pod_worker.h"

#include <set>

#include "agent/eviction.h"
#include "api/kinds/access.h"
#include "api/object.h"
#include "common/error.h"
#include "common/log.h"

namespace berth::agent {

namespace json = boost::json;

namespace {

constexpr char kComponent[] = "agent";
// Queue keys that are not pods ("ns/name" never starts with '!').
constexpr char kSweepKey[] = "!sweep";
constexpr char kUidPrefix[] = "!uid/";

// Whether a pod update matters to the agent: status-only updates (mostly
// its own writes coming back) do not.
bool differs(const json::value* a, const json::value* b) {
  return (a == nullptr) != (b == nullptr) || (a && *a != *b);
}

bool specOrMetadataChanged(const api::Object& a, const api::Object& b) {
  if (differs(a.if_contains("spec"), b.if_contains("spec"))) return true;
  const json::object* ma = api::metadata(a);
  const json::object* mb = api::metadata(b);
  if (!ma || !mb) return ma != mb;
  for (const char* field :
       {"labels", "annotations", "deletionTimestamp", "deletionGracePeriodSeconds", "uid"})
    if (differs(ma->if_contains(field), mb->if_contains(field))) return true;
  return false;
}

}  // namespace

// Informer handlers cannot be removed: they reach the workers through this
// guard, which outlives them and is cleared by stop().
struct PodWorkers::Guard {
  std::mutex mu;
  PodWorkers* self = nullptr;
};

PodWorkers::PodWorkers(client::Client& client, client::Informer& pods, PodSyncer& syncer,
                       PodRuntime& runtime, client::EventRecorder& recorder, Clock& clock,
                       PodWorkerOptions options, Hooks hooks)
    : client_(client),
      pods_(pods),
      syncer_(syncer),
      runtime_(runtime),
      recorder_(recorder),
      clock_(clock),
      options_(options),
      hooks_(std::move(hooks)),
      pod_kind_(client::kind("", "Pod")),
      timers_(clock),
      guard_(std::make_shared<Guard>()) {}

PodWorkers::~PodWorkers() { stop(); }

void PodWorkers::start() {
  {
    std::lock_guard lock(guard_->mu);
    guard_->self = this;
  }
  auto with = [guard = guard_](auto fn) {
    std::lock_guard lock(guard->mu);
    if (guard->self) fn(*guard->self);
  };
  client::EventHandlers handlers;
  handlers.on_add = [with](const client::ObjectPtr& pod) {
    with([&](PodWorkers& w) { w.enqueue(client::keyOf(*pod)); });
  };
  handlers.on_update = [with](const client::ObjectPtr& old_pod, const client::ObjectPtr& pod) {
    if (!specOrMetadataChanged(*old_pod, *pod)) return;
    with([&](PodWorkers& w) { w.enqueue(client::keyOf(*pod)); });
  };
  handlers.on_delete = [with](const client::ObjectPtr& pod) {
    with([&](PodWorkers& w) { w.enqueue(client::keyOf(*pod)); });
  };
  pods_.addHandlers(std::move(handlers));
  scheduleResync();
  if (!options_.run_threads) return;
  timers_.start();
  for (int i = 0; i < options_.workers; ++i)
    workers_.emplace_back([this] {
      std::string key;
      while (queue_.get(&key)) {
        if (terminating(key)) {
          startTerminator(key);
          continue;
        }
        process(key);
        queue_.done(key);
      }
    });
  // The first sweep needs the API's view of the node's pods.
  sweeper_ = std::thread([this] {
    while (!stopping_ && !pods_.waitForSync(std::chrono::milliseconds(100))) {
    }
    if (!stopping_) queue_.add(kSweepKey);
  });
}

void PodWorkers::stop() {
  {
    std::lock_guard lock(guard_->mu);
    if (!guard_->self) return;
    guard_->self = nullptr;
  }
  stopping_ = true;
  if (sweeper_.joinable()) sweeper_.join();
  timers_.stop();
  queue_.shutdown();
  for (auto& t : workers_) t.join();
  workers_.clear();
  std::vector<Terminator> terminators;
  {
    std::lock_guard lock(terminators_mu_);
    terminators.swap(terminators_);
  }
  for (auto& t : terminators) t.thread.join();
}

bool PodWorkers::terminating(const std::string& key) const {
  if (key.empty() || key[0] == '!') return false;
  client::ObjectPtr pod = pods_.get(key);
  return pod && api::metadata(*pod) && api::metadata(*pod)->contains("deletionTimestamp");
}

void PodWorkers::startTerminator(const std::string& key) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard lock(terminators_mu_);
  // Threads of pods that have finished stopping are joined here.
  std::erase_if(terminators_, [](Terminator& t) {
    if (!*t.done) return false;
    t.thread.join();
    return true;
  });
  terminators_.push_back(Terminator{std::thread([this, key, done] {
                                      process(key);
                                      queue_.done(key);
                                      *done = true;
                                    }),
                                    done});
}

void PodWorkers::enqueue(const std::string& key) { queue_.add(key); }

void PodWorkers::step() {
  timers_.runDue(clock_.now());
  if (pods_.hasSynced()) queue_.add(kSweepKey);
  std::string key;
  while (queue_.tryGet(&key)) {
    process(key);
    queue_.done(key);
  }
}

PodWorkers::Stats PodWorkers::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void PodWorkers::process(const std::string& key) {
  if (key == kSweepKey) return sweep();
  if (key.rfind(kUidPrefix, 0) == 0) return cleanupUid(key.substr(sizeof(kUidPrefix) - 1));
  syncPod(key);
}

void PodWorkers::retryLater(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    stats_.errors++;
  }
  schedule(clock_.now() + options_.retry_delay, key);
}

void PodWorkers::schedule(std::chrono::system_clock::time_point at, const std::string& key) {
  timers_.schedule(at, [this, key] { queue_.add(key); });
}

void PodWorkers::scheduleResync() {
  timers_.schedule(clock_.now() + options_.resync_period, [this] {
    for (const auto& pod : pods_.list()) queue_.add(client::keyOf(*pod));
    queue_.add(kSweepKey);
    scheduleResync();
  });
}

void PodWorkers::cleanupUid(const std::string& uid) {
  Status s = syncer_.cleanup(uid);
  if (!s.ok())
    BERTH_LOG(kWarning, kComponent)
        << "pod cleanup failed uid=" << uid << " error=" << s.error().message;
  {
    std::lock_guard lock(mu_);
    stats_.cleanups++;
    written_.erase(uid);
  }
  if (hooks_.removed) hooks_.removed(uid);
}

void PodWorkers::sweep() {
  // Uids the runtime holds that no pod of the API (nor a pod key being
  // handled) accounts for.
  std::set<std::string> wanted;
  for (const auto& pod : pods_.list()) wanted.insert(api::uid(*pod));
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, uid] : uids_) wanted.insert(uid);
  }
  for (const auto& uid : runtime_.podUids())
    if (!wanted.count(uid)) {
      BERTH_LOG(kInfo, kComponent) << "cleaning up a pod the API does not have uid=" << uid;
      queue_.add(kUidPrefix + uid);
    }
}

void PodWorkers::syncPod(const std::string& key) {
  client::ObjectPtr pod = pods_.get(key);
  std::string known;
  {
    std::lock_guard lock(mu_);
    if (auto it = uids_.find(key); it != uids_.end()) known = it->second;
  }
  const std::string uid = pod ? api::uid(*pod) : "";
  if (!known.empty() && known != uid) {
    // The pod left the API (or a new pod took its name): whatever is left
    // of the old one goes now.
    cleanupUid(known);
    std::lock_guard lock(mu_);
    uids_.erase(key);
  }
  if (!pod) return;
  {
    std::lock_guard lock(mu_);
    uids_[key] = uid;
    stats_.syncs++;
  }

  if (hooks_.eviction && !api::metadata(*pod)->contains("deletionTimestamp")) {
    if (auto message = hooks_.eviction(*pod)) {
      // The kubelet's evictPod: kill at once, then the Failed status.
      syncer_.killAll(uid);
      recorder_.record(*pod, "Warning", "Evicted", *message);
      if (!writeStatus(*pod, evictedStatus(*pod, *message, clock_.now())).ok()) retryLater(key);
      return;
    }
  }
  Stopwatch timer;
  SyncOutcome outcome = syncer_.sync(*pod);
  const double sync_ms = timer.lap();
  for (const auto& e : outcome.events) recorder_.record(*pod, e.type, e.reason, e.message);
  if (hooks_.synced) hooks_.synced(*pod, outcome);

  // The status first, then (for a deleted pod that has stopped) the final
  // delete: controllers see how the pod ended.
  if (!writeStatus(*pod, outcome.status).ok()) return retryLater(key);
  BERTH_LOG(kDebug, kComponent) << "pod synced pod=" << key << " sync_ms=" << sync_ms
                                << " report_ms=" << timer.lap();
  if (outcome.terminated) {
    client::DeleteOptions opts;
    opts.grace_period_seconds = 0;
    opts.precondition_uid = uid;
    auto removed = client_.remove(pod_kind_, api::namespaceOf(*pod), api::name(*pod), opts);
    if (!removed.ok() && removed.error().code != ErrorCode::kNotFound &&
        removed.error().code != ErrorCode::kConflict) {
      BERTH_LOG(kWarning, kComponent)
          << "pod delete failed pod=" << key << " error=" << removed.error().message;
      return retryLater(key);
    }
    std::lock_guard lock(mu_);
    stats_.deletions++;
    return;
  }
  if (outcome.resync_at) schedule(*outcome.resync_at, key);
}

Status PodWorkers::writeStatus(const api::Object& pod, const json::object& status) {
  const std::string uid = api::uid(pod);
  {
    std::lock_guard lock(mu_);
    // Unchanged against the API's copy, or against what we wrote last (the
    // informer may not have seen our write yet).
    const json::value* current = api::at(pod, {"status"});
    if (current && current->is_object() && current->get_object() == status) return okStatus();
    if (auto it = written_.find(uid); it != written_.end() && it->second == status)
      return okStatus();
  }
  json::object body{{"status", status}};
  auto patched =
      client_.patch(pod_kind_, api::namespaceOf(pod), api::name(pod), client::PatchType::kMerge,
                    json::serialize(body), client::Subresource::kStatus);
  if (!patched.ok()) {
    if (patched.error().code == ErrorCode::kNotFound) return okStatus();  // gone already
    BERTH_LOG(kWarning, kComponent) << "pod status failed pod=" << api::namespaceOf(pod) << "/"
                                    << api::name(pod) << " error=" << patched.error().message;
    return patched.error();
  }
  std::lock_guard lock(mu_);
  written_[uid] = status;
  stats_.status_patches++;
  return okStatus();
}

}  // namespace berth::agent
