#include "controllers/job/ttl_after_finished_controller.h"

#include "api/kinds/access.h"
#include "api/object.h"
#include "common/log.h"
#include "controllers/job/job_controller.h"
#include "controllers/pod_util.h"

namespace berth::controllers {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

namespace {

bool needsCleanup(const Object& job) {
  return api::intAt(job, {"spec", "ttlSecondsAfterFinished"}).has_value() && isJobFinished(job);
}

// jobFinishTime: the lastTransitionTime of the True Complete / Failed
// condition.
Result<std::chrono::system_clock::time_point> jobFinishTime(const Object& job) {
  if (const json::array* conds = api::arrAt(job, {"status", "conditions"}))
    for (const auto& c : *conds) {
      const json::object* co = c.if_object();
      if (!co) continue;
      std::string type = api::strAt(*co, {"type"});
      if ((type != "Complete" && type != "Failed") || api::strAt(*co, {"status"}) != "True")
        continue;
      std::chrono::system_clock::time_point t;
      if (!parseRfc3339(api::strAt(*co, {"lastTransitionTime"}), &t))
        return makeError(ErrorCode::kInternal, "unable to find the time when the Job " +
                                                   api::namespaceOf(job) + "/" + api::name(job) +
                                                   " finished");
      return t;
    }
  return makeError(ErrorCode::kInternal, "unable to find the status of the finished Job " +
                                             api::namespaceOf(job) + "/" + api::name(job));
}

}  // namespace

TtlAfterFinishedController::TtlAfterFinishedController(client::Client& client,
                                                       client::InformerFactory& informers,
                                                       Clock& clock, int workers)
    : client_(client),
      job_kind_(client::kind("batch", "Job")),
      job_informer_(informers.forKind(job_kind_)),
      clock_(clock),
      loop_(
          "ttl-after-finished-controller", [this](const std::string& key) { return sync(key); },
          {&job_informer_}, workers) {
  using C = TtlAfterFinishedController;
  job_informer_.addHandlers(gatedHandlers<C>(gate_, this, &C::addJob, &C::updateJob, nullptr));
}

TtlAfterFinishedController::~TtlAfterFinishedController() { stop(); }

void TtlAfterFinishedController::start() { loop_.start(); }

void TtlAfterFinishedController::stop() {
  gate_.close();
  loop_.stop();
}

void TtlAfterFinishedController::addJob(const ObjectPtr& job) {
  if (!hasDeletionTimestamp(*job) && needsCleanup(*job)) loop_.enqueue(client::keyOf(*job));
}

void TtlAfterFinishedController::updateJob(const ObjectPtr&, const ObjectPtr& cur) { addJob(cur); }

Result<std::optional<std::chrono::milliseconds>> TtlAfterFinishedController::timeLeft(
    const Object& job) const {
  if (hasDeletionTimestamp(job) || !needsCleanup(job))
    return std::optional<std::chrono::milliseconds>();
  BERTH_ASSIGN_OR_RETURN(auto finish_at, jobFinishTime(job));
  auto now = clock_.now();
  if (finish_at > now)
    BERTH_LOG(kInfo, "controllers")
        << "found job finished in the future, likely time skew; cleanup deferred job="
        << client::keyOf(job);
  auto expire_at =
      finish_at + std::chrono::seconds(*api::intAt(job, {"spec", "ttlSecondsAfterFinished"}));
  return std::optional<std::chrono::milliseconds>(
      std::chrono::duration_cast<std::chrono::milliseconds>(expire_at - now));
}

Result<bool> TtlAfterFinishedController::processTtl(const Object& job) {
  BERTH_ASSIGN_OR_RETURN(auto left, timeLeft(job));
  if (!left) return false;
  if (left->count() <= 0) return true;
  loop_.enqueueAfter(client::keyOf(job), *left);
  return false;
}

Status TtlAfterFinishedController::sync(const std::string& key) {
  std::string ns, name;
  client::splitKey(key, &ns, &name);
  ObjectPtr cached = job_informer_.get(ns, name);
  if (!cached) return okStatus();
  BERTH_ASSIGN_OR_RETURN(bool expired, processTtl(*cached));
  if (!expired) return okStatus();
  // The cache may be stale (the TTL changed, the Job was re-created): check
  // a fresh copy before deleting.
  auto fresh = client_.get(job_kind_, ns, name);
  if (!fresh.ok()) {
    if (fresh.error().code == ErrorCode::kNotFound) return okStatus();
    return fresh.error();
  }
  BERTH_ASSIGN_OR_RETURN(expired, processTtl(**fresh));
  if (!expired) return okStatus();
  BERTH_LOG(kInfo, "controllers") << "cleaning up finished job after ttl job=" << key;
  client::DeleteOptions opts;
  opts.propagation = client::Propagation::kBackground;
  opts.precondition_uid = api::uid(**fresh);
  auto res = client_.remove(job_kind_, ns, name, opts);
  if (!res.ok() && res.error().code != ErrorCode::kNotFound) return res.error();
  return okStatus();
}

}  // namespace berth::controllers
