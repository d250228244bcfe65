#include "controllers/cronjob/cronjob_controller.h"

#include <gtest/gtest.h>

#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "controllers/pod_control.h"
#include "controllers/pod_util.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;
using TimePoint = std::chrono::system_clock::time_point;

TimePoint at(const std::string& s) {
  TimePoint t;
  EXPECT_TRUE(parseRfc3339(s, &t)) << s;
  return t;
}

std::string minutesName(const std::string& cj, const std::string& time) {
  return cj + "-" +
         std::to_string(
             std::chrono::duration_cast<std::chrono::minutes>(at(time).time_since_epoch()).count());
}

class CronJobTest : public ::testing::Test {
 protected:
  CronJobTest()
      : clock_(at("2024-03-01T10:00:00Z")),
        fake_(clock_),
        informers_(fake_),
        recorder_(fake_, clock_, "cronjob-controller"),
        cj_kind_(client::kind("batch", "CronJob")),
        job_kind_(client::kind("batch", "Job")) {}

  void SetUp() override {
    cjc_ = std::make_unique<CronJobController>(fake_, informers_, recorder_, clock_);
    informers_.forKind(cj_kind_).markSynced();
    informers_.forKind(job_kind_).markSynced();
  }

  Object cronJob(const std::string& schedule, const std::string& policy = "Allow") {
    Object cj;
    cj["apiVersion"] = "batch/v1";
    cj["kind"] = "CronJob";
    cj["metadata"] = json::object{{"name", "hello"}, {"namespace", "default"}, {"uid", "cj-uid"}};
    json::object spec;
    spec["schedule"] = schedule;
    spec["concurrencyPolicy"] = policy;
    spec["suspend"] = false;
    spec["successfulJobsHistoryLimit"] = 3;
    spec["failedJobsHistoryLimit"] = 1;
    spec["jobTemplate"] =
        json::parse(R"({"metadata":{"labels":{"app":"hello"},"annotations":{"team":"a"}},
        "spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox"}]}}}})");
    cj["spec"] = spec;
    return cj;
  }

  ObjectPtr seed(const api::KindInfo& kind, Object obj) {
    ObjectPtr stored = fake_.add(kind, std::move(obj));
    informers_.forKind(kind).injectUpsert(stored);
    return stored;
  }

  void syncInformers() {
    for (const api::KindInfo* k : {&cj_kind_, &job_kind_}) {
      auto list = fake_.list(*k, "", {});
      ASSERT_TRUE(list.ok());
      std::set<std::string> keys;
      for (const auto& o : list->items) {
        keys.insert(client::keyOf(*o));
        informers_.forKind(*k).injectUpsert(o);
      }
      for (const auto& o : informers_.forKind(*k).list())
        if (!keys.count(client::keyOf(*o))) informers_.forKind(*k).injectDelete(client::keyOf(*o));
    }
  }

  void syncNow() {
    syncInformers();
    Status s = cjc_->sync("default/hello");
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  std::vector<ObjectPtr> jobs() {
    auto list = fake_.list(job_kind_, "default", {});
    return list.ok() ? list->items : std::vector<ObjectPtr>{};
  }
  std::set<std::string> jobNames() {
    std::set<std::string> out;
    for (const auto& j : jobs()) out.insert(api::name(*j));
    return out;
  }
  ObjectPtr getCj() { return fake_.find(cj_kind_, "default", "hello"); }
  std::vector<std::string> activeNames() {
    std::vector<std::string> out;
    if (const json::array* a = api::arrAt(*getCj(), {"status", "active"}))
      for (const auto& r : *a) out.push_back(api::strAt(r.as_object(), {"name"}));
    return out;
  }
  std::chrono::milliseconds requeue() {
    return cjc_->loop().lastDelay("default/hello").value_or(std::chrono::milliseconds(-1));
  }
  void setSpec(const std::string& field, json::value v) {
    Object cj = *getCj();
    cj["spec"].as_object()[field] = std::move(v);
    ASSERT_TRUE(fake_.update(cj_kind_, cj).ok());
  }

  // The Job controller's verdict on a Job.
  void finishJob(const std::string& name, const std::string& type, const std::string& start,
                 const std::string& end) {
    Object j = *fake_.find(job_kind_, "default", name);
    json::object cond{{"type", type}, {"status", "True"}, {"lastTransitionTime", end}};
    json::object st{{"startTime", start}, {"conditions", json::array{cond}}};
    if (type == "Complete") st["completionTime"] = end;
    j["status"] = st;
    ASSERT_TRUE(fake_.update(job_kind_, j, client::Subresource::kStatus).ok());
  }

  // A Job of the CronJob, as an earlier sync would have made it.
  ObjectPtr ownedJob(const std::string& name, const ObjectPtr& cj) {
    Object j;
    j["apiVersion"] = "batch/v1";
    j["kind"] = "Job";
    j["metadata"] = json::object{{"name", name},
                                 {"namespace", "default"},
                                 {"ownerReferences", json::array{newControllerRef(*cj, cj_kind_)}}};
    j["spec"] = json::object();
    return seed(job_kind_, j);
  }

  std::vector<std::string> events() {
    recorder_.flush();
    std::vector<std::string> out;
    auto list = fake_.list(client::kind("", "Event"), "", {});
    if (!list.ok()) return out;
    for (const auto& e : list->items)
      out.push_back(api::strAt(*e, {"reason"}) + ": " + api::strAt(*e, {"message"}));
    return out;
  }
  bool hasEvent(const std::string& prefix) {
    for (const auto& e : events())
      if (e.rfind(prefix, 0) == 0) return true;
    return false;
  }

  FakeClock clock_;
  client::FakeClient fake_;
  client::InformerFactory informers_;
  client::EventRecorder recorder_;
  const api::KindInfo& cj_kind_;
  const api::KindInfo& job_kind_;
  std::unique_ptr<CronJobController> cjc_;
};

TEST_F(CronJobTest, StartsAJobAtTheScheduledTime) {
  ObjectPtr cj = seed(cj_kind_, cronJob("*/5 * * * *"));
  syncNow();
  EXPECT_TRUE(jobs().empty());
  // Next run at 10:05, plus the 100ms delta.
  EXPECT_EQ(requeue(), std::chrono::milliseconds(5 * 60 * 1000 + 100));

  clock_.set(at("2024-03-01T10:05:02Z"));
  syncNow();
  std::string name = minutesName("hello", "2024-03-01T10:05:00Z");
  ASSERT_EQ(jobNames(), (std::set<std::string>{name}));
  ObjectPtr job = fake_.find(job_kind_, "default", name);
  EXPECT_EQ(api::strAt(*job, {"metadata", "annotations", kCronJobScheduledTimestampAnnotation}),
            "2024-03-01T10:05:00Z");
  EXPECT_EQ(api::strAt(*job, {"metadata", "annotations", "team"}), "a");
  EXPECT_EQ(api::strAt(*job, {"metadata", "labels", "app"}), "hello");
  EXPECT_EQ(controllerUid(*job), "cj-uid");
  EXPECT_EQ(api::strAt(*job, {"spec", "template", "spec", "restartPolicy"}), "OnFailure");
  EXPECT_EQ(activeNames(), (std::vector<std::string>{name}));
  const json::object& ref = api::arrAt(*getCj(), {"status", "active"})->at(0).as_object();
  EXPECT_EQ(api::strAt(ref, {"kind"}), "Job");
  EXPECT_EQ(api::strAt(ref, {"apiVersion"}), "batch/v1");
  EXPECT_EQ(api::strAt(ref, {"uid"}), api::uid(*job));
  EXPECT_EQ(api::strAt(*getCj(), {"status", "lastScheduleTime"}), "2024-03-01T10:05:00Z");
  EXPECT_TRUE(hasEvent("SuccessfulCreate: Created job " + name));
  EXPECT_EQ(requeue(), std::chrono::milliseconds((4 * 60 + 58) * 1000 + 100));

  // The same scheduled time never starts a second Job.
  syncNow();
  EXPECT_EQ(jobs().size(), 1u);
}

TEST_F(CronJobTest, ForbidSkipsWhileAJobRuns) {
  seed(cj_kind_, cronJob("*/5 * * * *", "Forbid"));
  clock_.set(at("2024-03-01T10:05:00Z"));
  syncNow();
  ASSERT_EQ(jobs().size(), 1u);
  clock_.set(at("2024-03-01T10:10:00Z"));
  syncNow();
  EXPECT_EQ(jobs().size(), 1u);
  EXPECT_TRUE(hasEvent(
      "JobAlreadyActive: Not starting job because prior execution is running and concurrency "
      "policy is Forbid"));
  // Once it finished, it leaves the active list and the 10:10 run, no
  // longer blocked, starts at once.
  finishJob(minutesName("hello", "2024-03-01T10:05:00Z"), "Complete", "2024-03-01T10:05:00Z",
            "2024-03-01T10:11:00Z");
  clock_.set(at("2024-03-01T10:11:00Z"));
  syncNow();
  EXPECT_EQ(activeNames(),
            (std::vector<std::string>{minutesName("hello", "2024-03-01T10:10:00Z")}));
  EXPECT_TRUE(hasEvent("SawCompletedJob: Saw completed job: " +
                       minutesName("hello", "2024-03-01T10:05:00Z") + ", status: Complete"));
  EXPECT_EQ(jobs().size(), 2u);
  // 10:15: the 10:10 Job still runs.
  clock_.set(at("2024-03-01T10:15:00Z"));
  syncNow();
  EXPECT_EQ(jobs().size(), 2u);
}

TEST_F(CronJobTest, ReplaceDeletesTheRunningJob) {
  seed(cj_kind_, cronJob("*/5 * * * *", "Replace"));
  clock_.set(at("2024-03-01T10:05:00Z"));
  syncNow();
  std::string first = minutesName("hello", "2024-03-01T10:05:00Z");
  clock_.set(at("2024-03-01T10:10:00Z"));
  syncNow();
  std::string second = minutesName("hello", "2024-03-01T10:10:00Z");
  EXPECT_EQ(jobNames(), (std::set<std::string>{second}));
  EXPECT_EQ(activeNames(), (std::vector<std::string>{second}));
  EXPECT_TRUE(hasEvent("SuccessfulDelete: Deleted job " + first));
}

TEST_F(CronJobTest, AllowRunsConcurrently) {
  seed(cj_kind_, cronJob("*/5 * * * *"));
  clock_.set(at("2024-03-01T10:05:00Z"));
  syncNow();
  clock_.set(at("2024-03-01T10:10:00Z"));
  syncNow();
  EXPECT_EQ(jobs().size(), 2u);
  EXPECT_EQ(activeNames().size(), 2u);
}

TEST_F(CronJobTest, LastSuccessfulTimeAndHistoryLimits) {
  ObjectPtr cj = seed(cj_kind_, cronJob("0 * * * *"));
  setSpec("successfulJobsHistoryLimit", 1);
  setSpec("failedJobsHistoryLimit", 1);
  for (const char* n : {"hello-1", "hello-2", "hello-3", "hello-4", "hello-5"}) ownedJob(n, cj);
  finishJob("hello-1", "Complete", "2024-03-01T07:00:00Z", "2024-03-01T07:01:00Z");
  finishJob("hello-2", "Complete", "2024-03-01T08:00:00Z", "2024-03-01T08:01:00Z");
  finishJob("hello-3", "Complete", "2024-03-01T09:00:00Z", "2024-03-01T09:01:00Z");
  finishJob("hello-4", "Failed", "2024-03-01T06:00:00Z", "2024-03-01T06:05:00Z");
  finishJob("hello-5", "Failed", "2024-03-01T09:30:00Z", "2024-03-01T09:35:00Z");
  clock_.set(at("2024-03-01T09:40:00Z"));
  syncNow();
  // The newest of each kind is kept.
  EXPECT_EQ(jobNames(), (std::set<std::string>{"hello-3", "hello-5"}));
  EXPECT_EQ(api::strAt(*getCj(), {"status", "lastSuccessfulTime"}), "2024-03-01T09:01:00Z");
  int deleted = 0;
  for (const auto& e : events())
    if (e.rfind("SuccessfulDelete: Deleted job hello-", 0) == 0) ++deleted;
  EXPECT_EQ(deleted, 3);
}

TEST_F(CronJobTest, StartingDeadlineSkipsOldMissesAndRunsTheLatest) {
  Object cj = cronJob("0 * * * *");
  cj["spec"].as_object()["startingDeadlineSeconds"] = 600;
  seed(cj_kind_, cj);
  // Created at 10:00; the controller comes back at 13:05: 11:00 and 12:00
  // are too old, 13:00 is within the deadline.
  clock_.set(at("2024-03-01T13:05:00Z"));
  syncNow();
  EXPECT_EQ(jobNames(), (std::set<std::string>{minutesName("hello", "2024-03-01T13:00:00Z")}));
  // At 14:20 the 14:00 run is past its deadline: nothing starts.
  clock_.set(at("2024-03-01T14:20:00Z"));
  syncNow();
  EXPECT_EQ(jobs().size(), 1u);
  EXPECT_EQ(requeue(), std::chrono::milliseconds(40 * 60 * 1000 + 100));
}

TEST_F(CronJobTest, TooManyMissedStartsWarnsAndRunsTheLatest) {
  seed(cj_kind_, cronJob("* * * * *"));
  clock_.set(at("2024-03-01T13:00:30Z"));
  syncNow();
  EXPECT_EQ(jobNames(), (std::set<std::string>{minutesName("hello", "2024-03-01T13:00:00Z")}));
  EXPECT_TRUE(hasEvent("TooManyMissedTimes: too many missed start times."));
}

TEST_F(CronJobTest, SuspendedCronJobsStartNothing) {
  Object cj = cronJob("*/5 * * * *");
  cj["spec"].as_object()["suspend"] = true;
  seed(cj_kind_, cj);
  clock_.set(at("2024-03-01T10:06:00Z"));
  syncNow();
  EXPECT_TRUE(jobs().empty());
  EXPECT_EQ(requeue(), std::chrono::milliseconds(-1));
  setSpec("suspend", false);
  syncNow();
  EXPECT_EQ(jobs().size(), 1u);
}

TEST_F(CronJobTest, BadSchedulesAndZonesAreReported) {
  seed(cj_kind_, cronJob("61 * * * *"));
  syncNow();
  EXPECT_TRUE(
      hasEvent("UnparseableSchedule: unparseable schedule: \"61 * * * *\" : end of range (61) "
               "above maximum (59)"));
  EXPECT_EQ(requeue(), std::chrono::milliseconds(-1));
  setSpec("schedule", "0 0 30 2 *");
  syncNow();
  EXPECT_TRUE(hasEvent(
      "InvalidSchedule: invalid schedule: 0 0 30 2 * : time difference between two schedules"));
  setSpec("schedule", "* * * * *");
  setSpec("timeZone", "Nowhere/Town");
  syncNow();
  EXPECT_TRUE(hasEvent(
      "UnknownTimeZone: invalid timeZone: \"Nowhere/Town\": unknown time zone Nowhere/Town"));
  EXPECT_TRUE(jobs().empty());
}

TEST_F(CronJobTest, TimeZoneShapesScheduleAndAnnotation) {
  if (!TimeZone::load("America/New_York").ok()) GTEST_SKIP() << "no zoneinfo on this machine";
  Object cj = cronJob("0 9 * * *");
  cj["spec"].as_object()["timeZone"] = "America/New_York";
  seed(cj_kind_, cj);
  syncNow();
  // 09:00 EST is 14:00 UTC; now is 10:00 UTC.
  EXPECT_EQ(requeue(), std::chrono::milliseconds(4 * 3600 * 1000 + 100));
  clock_.set(at("2024-03-01T14:00:30Z"));
  syncNow();
  ASSERT_EQ(jobs().size(), 1u);
  EXPECT_EQ(api::name(*jobs()[0]), minutesName("hello", "2024-03-01T14:00:00Z"));
  EXPECT_EQ(
      api::strAt(*jobs()[0], {"metadata", "annotations", kCronJobScheduledTimestampAnnotation}),
      "2024-03-01T09:00:00-05:00");
}

TEST_F(CronJobTest, ActiveListFollowsTheJobs) {
  ObjectPtr cj = seed(cj_kind_, cronJob("0 0 1 1 *"));
  ObjectPtr stray = ownedJob("hello-stray", cj);
  // An active entry whose Job is gone.
  Object with_active = *getCj();
  json::object ghost{{"kind", "Job"},
                     {"namespace", "default"},
                     {"name", "hello-ghost"},
                     {"uid", "ghost-uid"},
                     {"apiVersion", "batch/v1"}};
  with_active["status"] = json::object{{"active", json::array{ghost}}};
  ASSERT_TRUE(fake_.update(cj_kind_, with_active, client::Subresource::kStatus).ok());
  syncNow();
  EXPECT_TRUE(activeNames().empty());
  EXPECT_TRUE(hasEvent("MissingJob: Active job went missing: hello-ghost"));
  // A running Job of ours that the status does not list.
  EXPECT_TRUE(hasEvent(
      "UnexpectedJob: Saw a job that the controller did not create or forgot: hello-stray"));
}

TEST_F(CronJobTest, AnExistingJobOfOursIsAdoptedIntoTheActiveList) {
  ObjectPtr cj = seed(cj_kind_, cronJob("*/5 * * * *"));
  std::string name = minutesName("hello", "2024-03-01T10:05:00Z");
  // Created by an earlier sync whose status update was lost; not in the
  // cache yet.
  Object j;
  j["apiVersion"] = "batch/v1";
  j["kind"] = "Job";
  j["metadata"] = json::object{{"name", name},
                               {"namespace", "default"},
                               {"ownerReferences", json::array{newControllerRef(*cj, cj_kind_)}}};
  j["spec"] = json::object();
  fake_.add(job_kind_, j);
  clock_.set(at("2024-03-01T10:05:01Z"));
  ASSERT_TRUE(cjc_->sync("default/hello").ok());
  EXPECT_EQ(activeNames(), (std::vector<std::string>{name}));
  EXPECT_FALSE(hasEvent("SuccessfulCreate"));
  EXPECT_EQ(api::strAt(*getCj(), {"status", "lastScheduleTime"}), "2024-03-01T10:05:00Z");
}

TEST_F(CronJobTest, HandlersRequeueOnScheduleChangesAndJobEvents) {
  ObjectPtr cj = seed(cj_kind_, cronJob("*/5 * * * *"));
  std::string key;
  while (cjc_->loop().queue().size() > 0) {
    cjc_->loop().queue().get(&key);
    cjc_->loop().queue().done(key);
  }
  Object changed = *cj;
  changed["spec"].as_object()["schedule"] = "0 * * * *";
  api::mutableMetadata(changed)["resourceVersion"] = "99";
  informers_.forKind(cj_kind_).injectUpsert(std::make_shared<const Object>(changed));
  // Requeued for 11:00, not now.
  EXPECT_EQ(cjc_->loop().queue().size(), 0u);
  EXPECT_EQ(requeue(), std::chrono::milliseconds(3600 * 1000 + 100));
  ownedJob("hello-x", cj);
  EXPECT_EQ(cjc_->loop().queue().size(), 1u);
}

TEST(CronJobSchedules, MostRecentScheduleTime) {
  Object cj;
  cj["metadata"] = json::object{{"creationTimestamp", "2024-03-01T10:00:00Z"}};
  cj["spec"] = json::object();
  auto sched = CronSchedule::parse("*/10 * * * *");
  ASSERT_TRUE(sched.ok());
  MostRecent none = mostRecentScheduleTime(cj, at("2024-03-01T10:05:00Z"), *sched, true);
  EXPECT_FALSE(none.most_recent.has_value());
  EXPECT_EQ(none.missed, MostRecent::kNone);
  MostRecent one = mostRecentScheduleTime(cj, at("2024-03-01T10:15:00Z"), *sched, true);
  ASSERT_TRUE(one.most_recent.has_value());
  EXPECT_EQ(formatRfc3339(*one.most_recent), "2024-03-01T10:10:00Z");
  EXPECT_EQ(one.missed, MostRecent::kFew);
  MostRecent many = mostRecentScheduleTime(cj, at("2024-03-02T10:15:00Z"), *sched, true);
  ASSERT_TRUE(many.most_recent.has_value());
  EXPECT_EQ(formatRfc3339(*many.most_recent), "2024-03-02T10:10:00Z");
  EXPECT_EQ(many.missed, MostRecent::kMany);
  cj["status"] = json::object{{"lastScheduleTime", "2024-03-02T10:00:00Z"}};
  MostRecent after_last = mostRecentScheduleTime(cj, at("2024-03-02T10:15:00Z"), *sched, true);
  EXPECT_EQ(after_last.missed, MostRecent::kFew);
  auto d = nextScheduleTimeDuration(cj, at("2024-03-02T10:15:00Z"), *sched);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, std::chrono::milliseconds(5 * 60 * 1000 + 100));
  EXPECT_EQ(cronJobName("hello", at("2024-03-01T10:05:00Z")), "hello-28488125");
}

}  // namespace
}  // namespace berth::controllers
