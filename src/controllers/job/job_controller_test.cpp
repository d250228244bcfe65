#include "controllers/job/job_controller.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"
#include "controllers/job/indexed_job_utils.h"
#include "controllers/pod_util.h"

namespace berth::controllers {
namespace {

namespace json = boost::json;
using api::Object;
using client::ObjectPtr;

std::chrono::system_clock::time_point t0() {
  std::chrono::system_clock::time_point t;
  parseRfc3339("2024-03-01T10:00:00Z", &t);
  return t;
}

TEST(IndexedJobUtils, IntervalsParseMergeAndFormat) {
  OrderedIntervals iv = OrderedIntervals::parse("1,3-5,7", 10);
  EXPECT_EQ(iv.total(), 5);
  EXPECT_TRUE(iv.has(4));
  EXPECT_FALSE(iv.has(6));
  EXPECT_EQ(iv.toString(), "1,3-5,7");
  EXPECT_EQ(iv.withOrderedIndexes({0, 2, 6}).toString(), "0-7");
  EXPECT_EQ(iv.withOrderedIndexes({8}).toString(), "1,3-5,7,8");
  EXPECT_EQ(OrderedIntervals().withOrderedIndexes({2, 3}).toString(), "2,3");
  EXPECT_EQ(OrderedIntervals().withOrderedIndexes({2, 3, 4}).toString(), "2-4");
  // Indexes beyond completions are dropped; garbage is skipped.
  EXPECT_EQ(OrderedIntervals::parse("1-9", 4).toString(), "1-3");
  EXPECT_EQ(OrderedIntervals::parse("x,2,5", 4).toString(), "2");
  EXPECT_EQ(OrderedIntervals::parse("", 4).total(), 0);
}

TEST(IndexedJobUtils, NamesEnvAndIndexes) {
  EXPECT_EQ(podGenerateNameWithIndex("pi", 3), "pi-3-");
  std::string long_name(60, 'j');
  std::string gen = podGenerateNameWithIndex(long_name, 12);
  EXPECT_EQ(gen.size(), 58u);
  EXPECT_EQ(gen.substr(gen.size() - 4), "-12-");

  json::object tmpl = json::parse(R"({"spec":{"initContainers":[{"name":"i"}],
      "containers":[{"name":"a","env":[{"name":"JOB_COMPLETION_INDEX","value":"x"}]},{"name":"b"}]}})")
                          .as_object();
  addCompletionIndexEnvVariables(tmpl);
  const json::array& cs = tmpl["spec"].as_object()["containers"].as_array();
  EXPECT_EQ(cs[0].as_object().at("env").as_array().size(), 1u);  // already present
  ASSERT_EQ(cs[1].as_object().at("env").as_array().size(), 1u);
  EXPECT_EQ(api::strAt(cs[1].as_object().at("env").as_array()[0].as_object(),
                       {"valueFrom", "fieldRef", "fieldPath"}),
            "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  EXPECT_EQ(tmpl["spec"]
                .as_object()["initContainers"]
                .as_array()[0]
                .as_object()
                .at("env")
                .as_array()
                .size(),
            1u);

  Object pod;
  pod["metadata"] =
      json::object{{"annotations", json::object{{kJobCompletionIndexAnnotation, "7"}}}};
  EXPECT_EQ(completionIndex(pod), 7);
  pod["metadata"].as_object()["annotations"].as_object()[kJobCompletionIndexAnnotation] = "-1";
  EXPECT_EQ(completionIndex(pod), kUnknownCompletionIndex);
  pod["metadata"].as_object().erase("annotations");
  EXPECT_EQ(completionIndex(pod), kUnknownCompletionIndex);
}

class JobTest : public ::testing::Test {
 protected:
  JobTest()
      : clock_(t0()),
        fake_(clock_),
        informers_(fake_),
        recorder_(fake_, clock_, "job-controller"),
        job_kind_(client::kind("batch", "Job")),
        pod_kind_(client::kind("", "Pod")) {}

  void SetUp() override {
    jc_ = std::make_unique<JobController>(fake_, informers_, recorder_, clock_, 1);
    informers_.forKind(job_kind_).markSynced();
    informers_.forKind(pod_kind_).markSynced();
  }

  // A Job as the API server stores it: generated selector and labels.
  Object jobObject(std::optional<int64_t> completions, int64_t parallelism,
                   int64_t backoff_limit = 6) {
    Object job;
    job["apiVersion"] = "batch/v1";
    job["kind"] = "Job";
    json::object labels{{"batch.kubernetes.io/controller-uid", "job-uid"},
                        {"batch.kubernetes.io/job-name", "pi"}};
    job["metadata"] = json::object{{"name", "pi"},
                                   {"namespace", "default"},
                                   {"uid", "job-uid"},
                                   {"generation", 1},
                                   {"labels", labels}};
    json::object spec;
    if (completions) spec["completions"] = *completions;
    spec["parallelism"] = parallelism;
    spec["backoffLimit"] = backoff_limit;
    spec["completionMode"] = "NonIndexed";
    spec["suspend"] = false;
    spec["podReplacementPolicy"] = "TerminatingOrFailed";
    spec["selector"] = json::object{
        {"matchLabels", json::object{{"batch.kubernetes.io/controller-uid", "job-uid"}}}};
    spec["template"] = json::object{
        {"metadata", json::object{{"labels", labels}}},
        {"spec",
         json::parse(R"({"restartPolicy":"Never","containers":[{"name":"pi","image":"perl"}]})")}};
    job["spec"] = spec;
    return job;
  }

  ObjectPtr seed(const api::KindInfo& kind, Object obj) {
    ObjectPtr stored = fake_.add(kind, std::move(obj));
    informers_.forKind(kind).injectUpsert(stored);
    return stored;
  }

  void syncInformers() {
    auto pods = fake_.list(pod_kind_, "", {});
    ASSERT_TRUE(pods.ok());
    for (const auto& p : pods->items)
      if (api::strAt(*p, {"status", "phase"}).empty()) {
        Object q = *p;
        q["status"] = json::object{{"phase", "Pending"}};
        ASSERT_TRUE(fake_.update(pod_kind_, q, client::Subresource::kStatus).ok());
      }
    for (const api::KindInfo* k : {&job_kind_, &pod_kind_}) {
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
    Status s = jc_->sync("default/pi");
    ASSERT_TRUE(s.ok()) << s.error().message;
    syncInformers();
  }

  std::vector<ObjectPtr> pods() {
    auto list = fake_.list(pod_kind_, "default", {});
    return list.ok() ? list->items : std::vector<ObjectPtr>{};
  }
  std::vector<ObjectPtr> activePods() {
    std::vector<ObjectPtr> out;
    for (const auto& p : pods())
      if (isPodActive(*p)) out.push_back(p);
    return out;
  }
  ObjectPtr getJob() { return fake_.find(job_kind_, "default", "pi"); }
  int64_t status(const char* field) { return api::intAt(*getJob(), {"status", field}).value_or(0); }
  std::string conditionsOf() {
    std::string out;
    if (const json::array* conds = api::arrAt(*getJob(), {"status", "conditions"}))
      for (const auto& c : *conds)
        out += (out.empty() ? "" : ",") + api::strAt(c.as_object(), {"type"}) + "=" +
               api::strAt(c.as_object(), {"status"}) + "/" + api::strAt(c.as_object(), {"reason"});
    return out;
  }

  // The agent finishes a pod: terminated containers, phase.
  void finishPod(const ObjectPtr& pod, const std::string& phase) {
    Object p = *fake_.find(pod_kind_, "default", api::name(*pod));
    json::object term{{"exitCode", phase == "Succeeded" ? 0 : 1},
                      {"finishedAt", formatRfc3339(clock_.now())}};
    p["status"] = json::object{
        {"phase", phase},
        {"containerStatuses",
         json::array{json::object{{"name", "pi"}, {"state", json::object{{"terminated", term}}}}}}};
    ASSERT_TRUE(fake_.update(pod_kind_, p, client::Subresource::kStatus).ok());
  }
  void setReady(const ObjectPtr& pod) {
    Object p = *fake_.find(pod_kind_, "default", api::name(*pod));
    p["status"] = json::object{
        {"phase", "Running"},
        {"conditions",
         json::array{json::object{{"type", "Ready"},
                                  {"status", "True"},
                                  {"lastTransitionTime", formatRfc3339(clock_.now())}}}}};
    ASSERT_TRUE(fake_.update(pod_kind_, p, client::Subresource::kStatus).ok());
  }
  void setSpec(const std::string& field, json::value v) {
    Object job = *getJob();
    job["spec"].as_object()[field] = std::move(v);
    ASSERT_TRUE(fake_.update(job_kind_, job).ok());
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
  size_t writes(const std::string& verb, const std::string& resource) {
    size_t n = 0;
    for (const auto& a : fake_.writes())
      if (a.verb == verb && a.resource == resource) ++n;
    return n;
  }

  FakeClock clock_;
  client::FakeClient fake_;
  client::InformerFactory informers_;
  client::EventRecorder recorder_;
  const api::KindInfo& job_kind_;
  const api::KindInfo& pod_kind_;
  std::unique_ptr<JobController> jc_;
};

TEST_F(JobTest, CreatesParallelismPodsWithTrackingFinalizer) {
  seed(job_kind_, jobObject(3, 2));
  ASSERT_TRUE(jc_->sync("default/pi").ok());
  auto ps = pods();
  ASSERT_EQ(ps.size(), 2u);
  for (const auto& p : ps) {
    EXPECT_TRUE(hasJobTrackingFinalizer(*p));
    EXPECT_EQ(api::strAt(*p, {"metadata", "generateName"}), "pi-");
    EXPECT_EQ(controllerUid(*p), "job-uid");
    EXPECT_EQ(api::strAt(*p, {"metadata", "labels", "batch.kubernetes.io/job-name"}), "pi");
  }
  ObjectPtr job = getJob();
  EXPECT_EQ(status("active"), 2);
  EXPECT_EQ(api::intAt(*job, {"status", "ready"}).value_or(-1), 0);
  EXPECT_EQ(api::intAt(*job, {"status", "terminating"}).value_or(-1), 0);
  EXPECT_EQ(api::strAt(*job, {"status", "startTime"}), "2024-03-01T10:00:00Z");
  ASSERT_NE(api::objAt(*job, {"status", "uncountedTerminatedPods"}), nullptr);
  EXPECT_TRUE(api::objAt(*job, {"status", "uncountedTerminatedPods"})->empty());
  EXPECT_EQ(jc_->expectations().get("default/pi")->add, 2);
  EXPECT_TRUE(hasEvent("SuccessfulCreate: Created pod: pi-"));

  // The Job's status update arrives, the pods have not yet: another sync
  // creates nothing more.
  informers_.forKind(job_kind_).injectUpsert(getJob());
  ASSERT_TRUE(jc_->sync("default/pi").ok());
  EXPECT_EQ(pods().size(), 2u);
}

TEST_F(JobTest, CountsSucceededPodsOnceAndCompletes) {
  seed(job_kind_, jobObject(2, 1));
  syncNow();
  ASSERT_EQ(pods().size(), 1u);
  finishPod(pods()[0], "Succeeded");
  syncNow();
  // Counted, finalizer gone, the next pod started.
  EXPECT_EQ(status("succeeded"), 1);
  EXPECT_EQ(status("active"), 1);
  ObjectPtr first = nullptr;
  for (const auto& p : pods())
    if (api::strAt(*p, {"status", "phase"}) == "Succeeded") first = p;
  ASSERT_NE(first, nullptr);
  EXPECT_FALSE(hasJobTrackingFinalizer(*first));
  EXPECT_EQ(api::arrAt(*getJob(), {"status", "uncountedTerminatedPods", "succeeded"}), nullptr);
  // A resync counts nothing twice.
  syncNow();
  EXPECT_EQ(status("succeeded"), 1);

  for (const auto& p : activePods()) finishPod(p, "Succeeded");
  clock_.advance(std::chrono::seconds(42));
  syncNow();
  EXPECT_EQ(status("succeeded"), 2);
  EXPECT_EQ(status("active"), 0);
  EXPECT_EQ(conditionsOf(),
            "SuccessCriteriaMet=True/CompletionsReached,Complete=True/CompletionsReached");
  EXPECT_EQ(api::strAt(*getJob(), {"status", "completionTime"}), "2024-03-01T10:00:42Z");
  EXPECT_TRUE(isJobFinished(*getJob()));
  EXPECT_TRUE(hasEvent("Completed: Job completed"));
  for (const auto& p : pods()) EXPECT_FALSE(hasJobTrackingFinalizer(*p));
  // A finished Job is left alone.
  fake_.clearActions();
  syncNow();
  EXPECT_EQ(writes("update", "jobs") + writes("create", "pods"), 0u);
}

TEST_F(JobTest, FailedPodsBackOffExponentiallyThenTheJobFails) {
  seed(job_kind_, jobObject(1, 1, 2));
  syncNow();
  finishPod(pods()[0], "Failed");
  syncNow();
  EXPECT_EQ(status("failed"), 1);
  // 10s back-off before the replacement.
  EXPECT_TRUE(activePods().empty());
  EXPECT_EQ(jc_->loop().lastDelay("default/pi").value_or(std::chrono::milliseconds(0)),
            std::chrono::seconds(10));
  clock_.advance(std::chrono::seconds(4));
  syncNow();
  EXPECT_TRUE(activePods().empty());
  EXPECT_EQ(jc_->loop().lastDelay("default/pi").value_or(std::chrono::milliseconds(0)),
            std::chrono::seconds(6));
  clock_.advance(std::chrono::seconds(7));
  syncNow();
  ASSERT_EQ(activePods().size(), 1u);
  // Second failure: 20s.
  finishPod(activePods()[0], "Failed");
  syncNow();
  EXPECT_EQ(status("failed"), 2);
  EXPECT_EQ(jc_->loop().lastDelay("default/pi").value_or(std::chrono::milliseconds(0)),
            std::chrono::seconds(20));
  clock_.advance(std::chrono::seconds(21));
  syncNow();
  ASSERT_EQ(activePods().size(), 1u);
  // Third failure exceeds backoffLimit 2.
  finishPod(activePods()[0], "Failed");
  syncNow();
  EXPECT_EQ(status("failed"), 3);
  EXPECT_EQ(conditionsOf(),
            "FailureTarget=True/BackoffLimitExceeded,Failed=True/BackoffLimitExceeded");
  EXPECT_TRUE(hasEvent("BackoffLimitExceeded: Job has reached the specified backoff limit"));
  EXPECT_EQ(api::at(*getJob(), {"status", "completionTime"}), nullptr);
}

TEST_F(JobTest, ActiveDeadlineFailsTheJobAndRemovesItsPods) {
  Object job = jobObject(1, 1);
  job["spec"].as_object()["activeDeadlineSeconds"] = 30;
  seed(job_kind_, job);
  syncNow();
  ASSERT_EQ(activePods().size(), 1u);
  EXPECT_EQ(jc_->loop().lastDelay("default/pi").value_or(std::chrono::milliseconds(0)),
            std::chrono::seconds(30));
  setReady(activePods()[0]);
  clock_.advance(std::chrono::seconds(31));
  syncNow();
  // The pod is deleted and counted as failed; Failed waits for it to go.
  EXPECT_EQ(status("failed"), 1);
  EXPECT_EQ(conditionsOf(), "FailureTarget=True/DeadlineExceeded");
  EXPECT_EQ(writes("delete", "pods"), 1u);
  EXPECT_TRUE(pods().empty());
  syncNow();
  EXPECT_EQ(conditionsOf(), "FailureTarget=True/DeadlineExceeded,Failed=True/DeadlineExceeded");
  EXPECT_EQ(status("active"), 0);
  EXPECT_TRUE(hasEvent("DeadlineExceeded: Job was active longer than specified deadline"));
}

TEST_F(JobTest, IndexedJobUsesLowestPendingIndexesAndCompletes) {
  Object job = jobObject(3, 2);
  job["spec"].as_object()["completionMode"] = "Indexed";
  seed(job_kind_, job);
  syncNow();
  auto ps = activePods();
  ASSERT_EQ(ps.size(), 2u);
  std::set<int> indexes;
  for (const auto& p : ps) {
    int ix = completionIndex(*p);
    indexes.insert(ix);
    EXPECT_EQ(api::strAt(*p, {"metadata", "labels", kJobCompletionIndexAnnotation}),
              std::to_string(ix));
    EXPECT_EQ(api::strAt(*p, {"spec", "hostname"}), "pi-" + std::to_string(ix));
    EXPECT_EQ(api::strAt(*p, {"metadata", "generateName"}), "pi-" + std::to_string(ix) + "-");
    const json::array* env =
        api::arrAt(api::arrAt(*p, {"spec", "containers"})->at(0).as_object(), {"env"});
    ASSERT_NE(env, nullptr);
    EXPECT_EQ(api::strAt(env->at(0).as_object(), {"name"}), kJobCompletionIndexEnvName);
  }
  EXPECT_EQ(indexes, (std::set<int>{0, 1}));
  for (const auto& p : ps)
    if (completionIndex(*p) == 1) finishPod(p, "Succeeded");
  syncNow();
  EXPECT_EQ(api::strAt(*getJob(), {"status", "completedIndexes"}), "1");
  EXPECT_EQ(status("succeeded"), 1);
  indexes.clear();
  for (const auto& p : activePods()) indexes.insert(completionIndex(*p));
  EXPECT_EQ(indexes, (std::set<int>{0, 2}));
  for (const auto& p : activePods()) finishPod(p, "Succeeded");
  syncNow();
  EXPECT_EQ(api::strAt(*getJob(), {"status", "completedIndexes"}), "0-2");
  EXPECT_EQ(status("succeeded"), 3);
  EXPECT_TRUE(isJobFinished(*getJob()));
  EXPECT_EQ(jobFinishedType(*getJob()), "Complete");
}

TEST_F(JobTest, IndexedJobRemovesDuplicateIndexes) {
  Object job = jobObject(2, 2);
  job["spec"].as_object()["completionMode"] = "Indexed";
  ObjectPtr stored = seed(job_kind_, job);
  for (const char* name : {"dup-a", "dup-b"}) {
    Object p;
    p["apiVersion"] = "v1";
    p["kind"] = "Pod";
    p["metadata"] =
        json::object{{"name", name},
                     {"namespace", "default"},
                     {"labels", *api::objAt(*stored, {"spec", "template", "metadata", "labels"})},
                     {"annotations", json::object{{kJobCompletionIndexAnnotation, "0"}}},
                     {"finalizers", json::array{kJobTrackingFinalizer}},
                     {"ownerReferences", json::array{newControllerRef(*stored, job_kind_)}}};
    p["spec"] = json::parse(R"({"containers":[{"name":"pi","image":"perl"}]})");
    p["status"] = json::object{{"phase", "Running"}};
    seed(pod_kind_, p);
  }
  syncNow();
  // One of the two index-0 pods goes (finalizer first); nothing is created
  // in the same sync.
  EXPECT_EQ(writes("delete", "pods"), 1u);
  EXPECT_EQ(writes("create", "pods"), 0u);
  syncNow();
  std::set<int> indexes;
  for (const auto& p : activePods()) indexes.insert(completionIndex(*p));
  EXPECT_EQ(indexes, (std::set<int>{0, 1}));
}

TEST_F(JobTest, SuspendAndResume) {
  Object job = jobObject(2, 2);
  job["spec"].as_object()["suspend"] = true;
  seed(job_kind_, job);
  syncNow();
  EXPECT_TRUE(pods().empty());
  EXPECT_EQ(conditionsOf(), "Suspended=True/JobSuspended");
  EXPECT_EQ(api::at(*getJob(), {"status", "startTime"}), nullptr);
  EXPECT_TRUE(hasEvent("Suspended: Job suspended"));

  clock_.advance(std::chrono::seconds(5));
  setSpec("suspend", false);
  syncNow();
  EXPECT_EQ(activePods().size(), 2u);
  EXPECT_EQ(conditionsOf(), "Suspended=False/JobResumed");
  EXPECT_EQ(api::strAt(*getJob(), {"status", "startTime"}), "2024-03-01T10:00:05Z");
  EXPECT_TRUE(hasEvent("Resumed: Job resumed"));

  // Suspending again deletes the running pods, their finalizers first.
  setSpec("suspend", true);
  syncNow();
  EXPECT_TRUE(activePods().empty());
  EXPECT_EQ(writes("delete", "pods"), 2u);
  EXPECT_EQ(conditionsOf(), "Suspended=True/JobSuspended");
  EXPECT_EQ(status("active"), 0);
  // Their finalizers were removed before the deletion: suspension is not
  // a failure.
  EXPECT_EQ(status("failed"), 0);
}

TEST_F(JobTest, WorkQueueJobWithoutCompletionsWaitsForAllPods) {
  seed(job_kind_, jobObject(std::nullopt, 2));
  syncNow();
  ASSERT_EQ(activePods().size(), 2u);
  auto ps = activePods();
  finishPod(ps[0], "Succeeded");
  syncNow();
  // One success: no new pods, but not complete while the other runs.
  EXPECT_EQ(activePods().size(), 1u);
  EXPECT_EQ(writes("create", "pods"), 2u);
  EXPECT_FALSE(isJobFinished(*getJob()));
  finishPod(ps[1], "Succeeded");
  syncNow();
  EXPECT_EQ(status("succeeded"), 2);
  EXPECT_EQ(jobFinishedType(*getJob()), "Complete");
}

TEST_F(JobTest, ParallelismDecreaseDeletesSurplusPods) {
  seed(job_kind_, jobObject(std::nullopt, 3));
  syncNow();
  ASSERT_EQ(activePods().size(), 3u);
  setReady(activePods()[0]);
  setSpec("parallelism", 1);
  syncNow();
  EXPECT_EQ(writes("delete", "pods"), 2u);
  EXPECT_EQ(activePods().size(), 1u);
  // The ready pod is kept (not-ready ones go first).
  EXPECT_TRUE(isPodReady(*activePods()[0]));
  EXPECT_EQ(status("ready"), 1);
}

TEST_F(JobTest, AdoptsOrphansWithTheFinalizer) {
  ObjectPtr stored = seed(job_kind_, jobObject(1, 1));
  Object p;
  p["apiVersion"] = "v1";
  p["kind"] = "Pod";
  p["metadata"] =
      json::object{{"name", "stray"},
                   {"namespace", "default"},
                   {"labels", *api::objAt(*stored, {"spec", "template", "metadata", "labels"})}};
  p["spec"] = json::parse(R"({"containers":[{"name":"pi","image":"perl"}]})");
  p["status"] = json::object{{"phase", "Running"}};
  seed(pod_kind_, p);
  syncNow();
  ObjectPtr stray = fake_.find(pod_kind_, "default", "stray");
  EXPECT_EQ(controllerUid(*stray), "job-uid");
  EXPECT_TRUE(hasJobTrackingFinalizer(*stray));
  EXPECT_EQ(writes("create", "pods"), 0u);
  EXPECT_EQ(status("active"), 1);
}

TEST_F(JobTest, OrphanPodsLoseTheirFinalizer) {
  ObjectPtr stored = seed(job_kind_, jobObject(1, 1));
  auto podWith = [&](const std::string& name, const json::array& owners) {
    Object p;
    p["apiVersion"] = "v1";
    p["kind"] = "Pod";
    p["metadata"] = json::object{{"name", name},
                                 {"namespace", "default"},
                                 {"finalizers", json::array{kJobTrackingFinalizer}},
                                 {"ownerReferences", owners}};
    p["spec"] = json::parse(R"({"containers":[{"name":"pi","image":"perl"}]})");
    return seed(pod_kind_, p);
  };
  json::object gone_ref = newControllerRef(*stored, job_kind_);
  gone_ref["name"] = "gone";
  gone_ref["uid"] = "gone-uid";
  podWith("of-gone", json::array{gone_ref});
  podWith("of-running", json::array{newControllerRef(*stored, job_kind_)});
  json::object rs_ref{{"apiVersion", "apps/v1"},
                      {"kind", "ReplicaSet"},
                      {"name", "x"},
                      {"uid", "x"},
                      {"controller", true}};
  podWith("of-rs", json::array{rs_ref});
  podWith("orphan", json::array{});
  for (const char* name : {"of-gone", "of-running", "of-rs", "orphan"})
    ASSERT_TRUE(jc_->syncOrphanPod(std::string("default/") + name).ok());
  EXPECT_FALSE(hasJobTrackingFinalizer(*fake_.find(pod_kind_, "default", "of-gone")));
  EXPECT_TRUE(hasJobTrackingFinalizer(*fake_.find(pod_kind_, "default", "of-running")));
  EXPECT_TRUE(hasJobTrackingFinalizer(*fake_.find(pod_kind_, "default", "of-rs")));
  EXPECT_FALSE(hasJobTrackingFinalizer(*fake_.find(pod_kind_, "default", "orphan")));
  // The handlers queued the orphans for that loop.
  EXPECT_GT(jc_->orphanLoop().queue().size(), 0u);
}

TEST_F(JobTest, RestartsOfOnFailurePodsCountAgainstTheBackoffLimit) {
  Object job = jobObject(1, 1, 2);
  job["spec"].as_object()["template"].as_object()["spec"].as_object()["restartPolicy"] =
      "OnFailure";
  seed(job_kind_, job);
  syncNow();
  Object p = *activePods()[0];
  p["status"] =
      json::parse(R"({"phase":"Running","containerStatuses":[{"name":"pi","restartCount":2}]})");
  ASSERT_TRUE(fake_.update(pod_kind_, p, client::Subresource::kStatus).ok());
  syncNow();
  EXPECT_EQ(
      api::strAt(api::arrAt(*getJob(), {"status", "conditions"})->at(0).as_object(), {"reason"}),
      "BackoffLimitExceeded");
  EXPECT_EQ(writes("delete", "pods"), 1u);
}

TEST_F(JobTest, UnknownCompletionModeIsSkipped) {
  Object job = jobObject(1, 1);
  job["spec"].as_object()["completionMode"] = "Sideways";
  seed(job_kind_, job);
  ASSERT_TRUE(jc_->sync("default/pi").ok());
  EXPECT_TRUE(pods().empty());
  EXPECT_TRUE(
      hasEvent("UnknownCompletionMode: Skipped Job sync because completion mode is unknown"));
}

TEST_F(JobTest, DeletedJobIsForgotten) {
  seed(job_kind_, jobObject(1, 1));
  ASSERT_TRUE(jc_->sync("default/pi").ok());
  informers_.forKind(job_kind_).injectDelete("default/pi");
  EXPECT_TRUE(jc_->sync("default/pi").ok());
  EXPECT_FALSE(jc_->expectations().get("default/pi").has_value());
  EXPECT_FALSE(jc_->sync("nonamespace").ok());
}

// The controller with running informers and workers: a Job completes once
// its pod succeeds, without any sync called by hand.
TEST(JobControllerRunning, AJobCompletes) {
  FakeClock clock(t0());
  client::FakeClient fake(clock);
  const api::KindInfo& pod_kind = client::kind("", "Pod");
  const api::KindInfo& job_kind = client::kind("batch", "Job");
  std::mutex mu;
  std::condition_variable cv;
  auto notify = [&](const client::Event&) {
    std::lock_guard lock(mu);
    cv.notify_all();
  };
  auto pod_watch = fake.watch(pod_kind, "", {}, notify);
  auto job_watch = fake.watch(job_kind, "", {}, notify);
  ASSERT_TRUE(pod_watch.ok() && job_watch.ok());
  auto first_pod = [&]() -> ObjectPtr {
    auto list = fake.list(pod_kind, "default", {});
    return list.ok() && !list->items.empty() ? list->items.front() : nullptr;
  };
  {
    client::InformerFactory informers(fake);
    client::EventRecorder recorder(fake, clock, "job-controller");
    JobController jc(fake, informers, recorder, clock, 2);
    informers.start();
    jc.start();
    Object job;
    json::object labels{{"batch.kubernetes.io/controller-uid", "u1"}};
    job["metadata"] = json::object{{"name", "pi"}, {"namespace", "default"}, {"uid", "u1"}};
    job["spec"] =
        json::object{{"completions", 1},
                     {"parallelism", 1},
                     {"backoffLimit", 6},
                     {"selector", json::object{{"matchLabels", labels}}},
                     {"template", json::object{{"metadata", json::object{{"labels", labels}}},
                                               {"spec", json::parse(R"({"restartPolicy":"Never",
                                                             "containers":[{"name":"pi","image":"perl"}]})")}}}};
    fake.add(job_kind, job);
    {
      std::unique_lock lock(mu);
      ASSERT_TRUE(
          cv.wait_for(lock, std::chrono::seconds(30), [&] { return first_pod() != nullptr; }));
    }
    // The agent runs it to success.
    Object pod = *first_pod();
    pod["status"] = json::object{{"phase", "Succeeded"}};
    ASSERT_TRUE(fake.update(pod_kind, pod, client::Subresource::kStatus).ok());
    {
      std::unique_lock lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] {
        ObjectPtr j = fake.find(job_kind, "default", "pi");
        return j && jobFinishedType(*j) == "Complete";
      }));
    }
    jc.stop();
    informers.stop();
  }
  (*pod_watch)->stop();
  (*job_watch)->stop();
  ObjectPtr done = fake.find(job_kind, "default", "pi");
  EXPECT_EQ(api::intAt(*done, {"status", "succeeded"}).value_or(0), 1);
  EXPECT_FALSE(hasJobTrackingFinalizer(*first_pod()));
}

}  // namespace
}  // namespace berth::controllers
