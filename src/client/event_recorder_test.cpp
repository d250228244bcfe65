// EventRecorder against FakeClient with a FakeClock: the Event it writes,
// aggregation of repeats within ten minutes, and the bounded queue.
#include "client/event_recorder.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <regex>

#include "api/object.h"
#include "client/fake_client.h"

namespace berth::client {
namespace {

namespace json = boost::json;

// 2024-01-02T03:04:05Z
const std::chrono::system_clock::time_point kT0 =
    std::chrono::system_clock::from_time_t(1704164645);

Object involvedPod() {
  return json::parse(
             R"({"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"team","name":"web-1",
                         "uid":"u-1","resourceVersion":"42"},"spec":{}})")
      .as_object();
}

class EventRecorderTest : public ::testing::Test {
 protected:
  std::vector<ObjectPtr> events(const std::string& ns = "") {
    auto l = client_.list(kind("", "Event"), ns, {});
    EXPECT_TRUE(l.ok());
    return l.ok() ? l->items : std::vector<ObjectPtr>{};
  }
  std::vector<std::string> writeVerbs() {
    std::vector<std::string> out;
    for (const auto& a : client_.writes()) out.push_back(a.verb);
    return out;
  }

  FakeClock clock_{kT0};
  FakeClient client_{clock_};
};

TEST_F(EventRecorderTest, WritesACoreV1Event) {
  EventRecorder recorder(client_, clock_, "default-scheduler", "node-a");
  recorder.record(involvedPod(), "Warning", "FailedScheduling", "0/3 nodes are available.");
  recorder.flush();
  auto evs = events("team");
  ASSERT_EQ(evs.size(), 1u);
  const Object& ev = *evs[0];
  EXPECT_TRUE(std::regex_match(api::name(ev), std::regex(R"(web-1\.[0-9a-f]{16})")))
      << api::name(ev);
  // UnixNano in hex, as client-go names events.
  EXPECT_EQ(api::name(ev), "web-1.17a668b730013200");
  EXPECT_EQ(api::namespaceOf(ev), "team");
  EXPECT_EQ(api::getString(ev, "type"), "Warning");
  EXPECT_EQ(api::getString(ev, "reason"), "FailedScheduling");
  EXPECT_EQ(api::getString(ev, "message"), "0/3 nodes are available.");
  EXPECT_EQ(api::getInt(ev, "count"), 1);
  EXPECT_EQ(api::getString(ev, "firstTimestamp"), "2024-01-02T03:04:05Z");
  EXPECT_EQ(api::getString(ev, "lastTimestamp"), "2024-01-02T03:04:05Z");
  EXPECT_EQ(api::strAt(ev, {"source", "component"}), "default-scheduler");
  EXPECT_EQ(api::strAt(ev, {"source", "host"}), "node-a");
  EXPECT_EQ(api::getString(ev, "reportingComponent"), "default-scheduler");
  EXPECT_EQ(api::getString(ev, "reportingInstance"), "node-a");
  const Object* ref = api::findObject(ev, "involvedObject");
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(*ref, json::parse(R"({"kind":"Pod","namespace":"team","name":"web-1","uid":"u-1",
                                  "apiVersion":"v1","resourceVersion":"42"})")
                      .as_object());
}

TEST_F(EventRecorderTest, ClusterScopedObjectsGetEventsInDefault) {
  EventRecorder recorder(client_, clock_, "node-controller");
  Object node =
      json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","uid":"u-n"}})")
          .as_object();
  recorder.record(node, "Normal", "RegisteredNode",
                  "Node n1 event: Registered Node n1 in Controller");
  recorder.flush();
  auto evs = events("default");
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(api::strAt(*evs[0], {"involvedObject", "namespace"}), "");
  EXPECT_EQ(api::strAt(*evs[0], {"involvedObject", "name"}), "n1");
  // No host: source.host is omitted, reportingInstance empty.
  EXPECT_EQ(api::objAt(*evs[0], {"source"})->contains("host"), false);
  EXPECT_EQ(api::getString(*evs[0], "reportingInstance"), "");
}

TEST_F(EventRecorderTest, RepeatsWithinTenMinutesAreAggregated) {
  EventRecorder recorder(client_, clock_, "kubelet", "n1");
  recorder.record(involvedPod(), "Warning", "BackOff", "Back-off restarting failed container");
  clock_.advance(std::chrono::minutes(3));
  recorder.record(involvedPod(), "Warning", "BackOff", "Back-off restarting failed container");
  recorder.flush();
  auto evs = events("team");
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(api::getInt(*evs[0], "count"), 2);
  EXPECT_EQ(api::getString(*evs[0], "firstTimestamp"), "2024-01-02T03:04:05Z");
  EXPECT_EQ(api::getString(*evs[0], "lastTimestamp"), "2024-01-02T03:07:05Z");
  EXPECT_EQ(writeVerbs(), (std::vector<std::string>{"create", "patch"}));
  auto writes = client_.writes();
  EXPECT_EQ(json::parse(writes[1].patch),
            json::parse(R"({"count":2,"lastTimestamp":"2024-01-02T03:07:05Z"})"));

  // A different message is a different event.
  recorder.record(involvedPod(), "Warning", "BackOff", "something else");
  recorder.flush();
  EXPECT_EQ(events("team").size(), 2u);

  // The window runs from the last occurrence: 9 minutes on is still the
  // same Event, 11 minutes after that starts a new one.
  clock_.advance(std::chrono::minutes(9));
  recorder.record(involvedPod(), "Warning", "BackOff", "Back-off restarting failed container");
  recorder.flush();
  EXPECT_EQ(events("team").size(), 2u);
  clock_.advance(std::chrono::minutes(11));
  recorder.record(involvedPod(), "Warning", "BackOff", "Back-off restarting failed container");
  recorder.flush();
  auto after = events("team");
  ASSERT_EQ(after.size(), 3u);
  int64_t ones = 0, threes = 0;
  for (const auto& ev : after) {
    if (api::getString(*ev, "message") != "Back-off restarting failed container") continue;
    int64_t c = api::getInt(*ev, "count");
    ones += c == 1;
    threes += c == 3;
  }
  EXPECT_EQ(ones, 1);
  EXPECT_EQ(threes, 1);
}

TEST_F(EventRecorderTest, RecreatesAnEventThatWasDeleted) {
  EventRecorder recorder(client_, clock_, "kubelet");
  recorder.record(involvedPod(), "Normal", "Pulled", "pulled");
  recorder.flush();
  auto evs = events("team");
  ASSERT_EQ(evs.size(), 1u);
  std::string name = api::name(*evs[0]);
  ASSERT_TRUE(client_.remove(kind("", "Event"), "team", name).ok());
  recorder.record(involvedPod(), "Normal", "Pulled", "pulled");
  recorder.flush();
  evs = events("team");
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(api::name(*evs[0]), name);
  EXPECT_EQ(api::getInt(*evs[0], "count"), 2);
}

TEST_F(EventRecorderTest, UnknownTypesAreDropped) {
  EventRecorder recorder(client_, clock_, "kubelet");
  recorder.record(involvedPod(), "Error", "Oops", "not a valid type");
  recorder.flush();
  EXPECT_TRUE(events().empty());
}

TEST_F(EventRecorderTest, QueueDropsTheOldestBeyondAThousand) {
  // Hold the writer inside its first create until the queue has overflowed.
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  client_.prependReactor("create", "events",
                         [&](const Action&) -> std::optional<Result<ObjectPtr>> {
                           std::unique_lock lock(mu);
                           if (!entered) {
                             entered = true;
                             cv.notify_all();
                             cv.wait(lock, [&] { return release; });
                           }
                           return std::nullopt;
                         });
  EventRecorder recorder(client_, clock_, "c");
  recorder.record(involvedPod(), "Normal", "R", "m-first");
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  for (int i = 0; i < 1001; ++i)
    recorder.record(involvedPod(), "Normal", "R", "m" + std::to_string(i));
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  recorder.flush();
  auto evs = events("team");
  EXPECT_EQ(evs.size(), 1001u);  // the first + the newest 1000
  bool has_m0 = false, has_last = false;
  for (const auto& ev : evs) {
    has_m0 |= api::getString(*ev, "message") == "m0";
    has_last |= api::getString(*ev, "message") == "m1000";
  }
  EXPECT_FALSE(has_m0);
  EXPECT_TRUE(has_last);
}

TEST_F(EventRecorderTest, DestructorWritesWhatIsQueued) {
  {
    EventRecorder recorder(client_, clock_, "c");
    for (int i = 0; i < 5; ++i)
      recorder.record(involvedPod(), "Normal", "R", "m" + std::to_string(i));
  }
  EXPECT_EQ(events("team").size(), 5u);
}

}  // namespace
}  // namespace berth::client
