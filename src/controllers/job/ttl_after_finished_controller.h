#pragma once

// The TTL-after-finished controller, after upstream's
// pkg/controller/ttlafterfinished: a finished Job (Complete or Failed) with
// spec.ttlSecondsAfterFinished is deleted, with background propagation (the
// garbage collector removes its pods), once ttl seconds have passed since
// its finishing condition's lastTransitionTime. Before deleting, the Job is
// read fresh from the API and checked again, and the delete carries its UID
// as a precondition, so a Job whose TTL was changed or that was re-created
// under the same name is not deleted by mistake.

#include <chrono>
#include <optional>
#include <string>

#include "client/informer.h"
#include "common/clock.h"
#include "controllers/daemonset/sync_loop.h"

namespace berth::controllers {

class TtlAfterFinishedController {
 public:
  TtlAfterFinishedController(client::Client& client, client::InformerFactory& informers,
                             Clock& clock, int workers = 1);
  ~TtlAfterFinishedController();
  TtlAfterFinishedController(const TtlAfterFinishedController&) = delete;
  TtlAfterFinishedController& operator=(const TtlAfterFinishedController&) = delete;

  void start();
  void stop();

  // processJob for "ns/name". Public for tests.
  Status sync(const std::string& key);

  SyncLoop& loop() { return loop_; }

  // timeLeft: the time until the Job expires (<= 0: expired), or nullopt
  // when it does not need clean-up (no TTL, not finished, being deleted).
  // Error when the finish time cannot be found.
  Result<std::optional<std::chrono::milliseconds>> timeLeft(const api::Object& job) const;

 private:
  void addJob(const client::ObjectPtr& job);
  void updateJob(const client::ObjectPtr& old_job, const client::ObjectPtr& cur_job);
  // processTTL: true when expired; otherwise requeues for the expiry.
  Result<bool> processTtl(const api::Object& job);

  client::Client& client_;
  const api::KindInfo& job_kind_;
  client::Informer& job_informer_;
  Clock& clock_;
  HandlerGate gate_;
  SyncLoop loop_;
};

}  // namespace berth::controllers
