#include "agent/image_manager.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "common/error.h"

namespace berth::agent {
namespace {

api::Object parse(const std::string& t) { return boost::json::parse(t).as_object(); }

class ImageManagerTest : public ::testing::Test {
 protected:
  ImageManagerTest()
      : manager_(ImageSource{[this](const std::string& i) { return store_.count(i) > 0; },
                             [this](const std::string& i, const api::Object&) -> Result<int64_t> {
                               ++pulls_;
                               if (fail_) return makeError(ErrorCode::kNotFound, "not found");
                               store_.insert(i);
                               return int64_t{4096};
                             },
                             [](const std::string& i) -> Status {
                               if (i.find(' ') != std::string::npos)
                                 return makeError(ErrorCode::kInvalid, "invalid reference format");
                               return okStatus();
                             }},
                 clock_) {}

  EnsuredImage ensure(const std::string& image, const std::string& policy) {
    return manager_.ensure(pod_, parse(R"({"name": "c", "image": ")" + image +
                                       R"(", "imagePullPolicy": ")" + policy + R"("})"));
  }

  std::set<std::string> store_;
  int pulls_ = 0;
  bool fail_ = false;
  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1767225600))};
  api::Object pod_ = parse(R"({"metadata": {"uid": "u1"}})");
  ImageManager manager_;
};

TEST_F(ImageManagerTest, PoliciesAndEvents) {
  auto pulled = ensure("app:1", "IfNotPresent");
  EXPECT_TRUE(pulled.ready);
  ASSERT_EQ(pulled.events.size(), 2u);
  EXPECT_EQ(pulled.events[0].message, "Pulling image \"app:1\"");
  EXPECT_EQ(pulled.events[1].reason, "Pulled");
  EXPECT_NE(pulled.events[1].message.find("Successfully pulled image \"app:1\" in "),
            std::string::npos);
  EXPECT_NE(pulled.events[1].message.find("Image size: 4096 bytes."), std::string::npos);
  auto again = ensure("app:1", "IfNotPresent");
  EXPECT_TRUE(again.ready);
  EXPECT_EQ(again.events[0].message, "Container image \"app:1\" already present on machine");
  EXPECT_EQ(pulls_, 1);
  EXPECT_TRUE(ensure("app:1", "Always").ready);  // pulls even when present
  EXPECT_EQ(pulls_, 2);
  auto never = ensure("other:1", "Never");
  EXPECT_FALSE(never.ready);
  EXPECT_EQ(never.reason, "ErrImageNeverPull");
  EXPECT_EQ(never.message, "Container image \"other:1\" is not present with pull policy of Never");
  auto invalid = ensure("bad name", "IfNotPresent");
  EXPECT_EQ(invalid.reason, "InvalidImageName");
}

TEST_F(ImageManagerTest, FailedPullsBackOff) {
  fail_ = true;
  auto first = ensure("gone:1", "IfNotPresent");
  EXPECT_EQ(first.reason, "ErrImagePull");
  EXPECT_EQ(first.events.back().message, "Failed to pull image \"gone:1\": not found");
  auto during = ensure("gone:1", "IfNotPresent");
  EXPECT_EQ(during.reason, "ImagePullBackOff");
  EXPECT_EQ(during.message, "Back-off pulling image \"gone:1\"");
  EXPECT_EQ(pulls_, 1);
  clock_.advance(std::chrono::seconds(10));
  EXPECT_EQ(ensure("gone:1", "IfNotPresent").reason, "ErrImagePull");  // retried
  EXPECT_EQ(pulls_, 2);
  clock_.advance(std::chrono::seconds(15));
  EXPECT_EQ(ensure("gone:1", "IfNotPresent").reason, "ImagePullBackOff");  // now 20 s
  clock_.advance(std::chrono::seconds(5));
  fail_ = false;
  EXPECT_TRUE(ensure("gone:1", "IfNotPresent").ready);
  EXPECT_EQ(goDurationFine(std::chrono::milliseconds(1500)), "1.5s");
  EXPECT_EQ(goDurationFine(std::chrono::milliseconds(850)), "850ms");
  EXPECT_EQ(goDurationFine(std::chrono::seconds(90)), "1m30s");
}

}  // namespace
}  // namespace berth::agent
