#include "controllers/job/ttl_after_finished_controller.h"

#include <gtest/gtest.h>

#include "api/kinds/access.h"
#include "api/object.h"
#include "client/fake_client.h"

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

class TtlTest : public ::testing::Test {
 protected:
  TtlTest()
      : clock_(t0()), fake_(clock_), informers_(fake_), job_kind_(client::kind("batch", "Job")) {}

  void SetUp() override {
    ttl_ = std::make_unique<TtlAfterFinishedController>(fake_, informers_, clock_);
    informers_.forKind(job_kind_).markSynced();
  }

  Object job(std::optional<int64_t> ttl, const char* finished = "Complete",
             const std::string& finished_at = "2024-03-01T10:00:00Z") {
    Object j;
    j["apiVersion"] = "batch/v1";
    j["kind"] = "Job";
    j["metadata"] = json::object{{"name", "pi"}, {"namespace", "default"}};
    json::object spec;
    if (ttl) spec["ttlSecondsAfterFinished"] = *ttl;
    j["spec"] = spec;
    if (finished) {
      json::object cond{
          {"type", finished}, {"status", "True"}, {"lastTransitionTime", finished_at}};
      j["status"] = json::object{{"conditions", json::array{cond}}};
    }
    return j;
  }

  ObjectPtr seed(Object obj) {
    ObjectPtr stored = fake_.add(job_kind_, std::move(obj));
    informers_.forKind(job_kind_).injectUpsert(stored);
    return stored;
  }

  std::vector<client::Action> deletes() {
    std::vector<client::Action> out;
    for (const auto& a : fake_.writes())
      if (a.verb == "delete" && a.resource == "jobs") out.push_back(a);
    return out;
  }

  FakeClock clock_;
  client::FakeClient fake_;
  client::InformerFactory informers_;
  const api::KindInfo& job_kind_;
  std::unique_ptr<TtlAfterFinishedController> ttl_;
};

TEST_F(TtlTest, WaitsForTheTtlThenDeletes) {
  seed(job(60));
  // The handler queued it.
  EXPECT_EQ(ttl_->loop().queue().size(), 1u);
  clock_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(ttl_->sync("default/pi").ok());
  EXPECT_TRUE(deletes().empty());
  EXPECT_EQ(ttl_->loop().lastDelay("default/pi").value_or(std::chrono::milliseconds(0)),
            std::chrono::seconds(50));
  clock_.advance(std::chrono::seconds(50));
  ASSERT_TRUE(ttl_->sync("default/pi").ok());
  ASSERT_EQ(deletes().size(), 1u);
  EXPECT_EQ(fake_.find(job_kind_, "default", "pi"), nullptr);
}

TEST_F(TtlTest, FailedJobsExpireToo) {
  seed(job(0, "Failed"));
  ASSERT_TRUE(ttl_->sync("default/pi").ok());
  EXPECT_EQ(deletes().size(), 1u);
}

TEST_F(TtlTest, UnfinishedOrUnsetJobsAreKept) {
  seed(job(std::nullopt));
  EXPECT_EQ(ttl_->loop().queue().size(), 0u);
  clock_.advance(std::chrono::hours(24));
  ASSERT_TRUE(ttl_->sync("default/pi").ok());
  EXPECT_TRUE(deletes().empty());

  Object running = job(5, nullptr);
  running["metadata"].as_object()["name"] = "running";
  seed(running);
  ASSERT_TRUE(ttl_->sync("default/running").ok());
  EXPECT_TRUE(deletes().empty());
  auto left = ttl_->timeLeft(running);
  ASSERT_TRUE(left.ok());
  EXPECT_FALSE(left->has_value());
}

TEST_F(TtlTest, StaleCacheIsCheckedAgainstTheApi) {
  ObjectPtr stored = seed(job(10));
  // The user raised the TTL; the cache has not seen it yet.
  Object updated = *stored;
  updated["spec"].as_object()["ttlSecondsAfterFinished"] = 3600;
  ASSERT_TRUE(fake_.update(job_kind_, updated).ok());
  clock_.advance(std::chrono::seconds(20));
  ASSERT_TRUE(ttl_->sync("default/pi").ok());
  EXPECT_TRUE(deletes().empty());
  EXPECT_EQ(ttl_->loop().lastDelay("default/pi").value_or(std::chrono::milliseconds(0)),
            std::chrono::seconds(3600 - 20));
}

TEST_F(TtlTest, DeleteCarriesTheUidPrecondition) {
  ObjectPtr old = seed(job(0));
  // The Job is deleted and re-created under the same name behind the
  // controller's back; even a stale read of the old one must not let the
  // delete hit the new one.
  ASSERT_TRUE(fake_.remove(job_kind_, "default", "pi").ok());
  ObjectPtr fresh = fake_.add(job_kind_, job(0));
  ASSERT_NE(api::uid(*fresh), api::uid(*old));
  fake_.prependReactor("get", "jobs",
                       [&](const client::Action&) -> std::optional<Result<ObjectPtr>> {
                         return Result<ObjectPtr>(old);
                       });
  fake_.clearActions();
  Status s = ttl_->sync("default/pi");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_EQ(deletes().size(), 1u);
  ObjectPtr survivor = fake_.find(job_kind_, "default", "pi");
  ASSERT_NE(survivor, nullptr);
  EXPECT_EQ(api::uid(*survivor), api::uid(*fresh));
}

TEST_F(TtlTest, MissingFinishTimeIsAnError) {
  seed(job(10, "Complete", ""));
  Status s = ttl_->sync("default/pi");
  EXPECT_FALSE(s.ok());
}

TEST_F(TtlTest, DeletedJobIsNoop) { EXPECT_TRUE(ttl_->sync("default/none").ok()); }

}  // namespace
}  // namespace berth::controllers
