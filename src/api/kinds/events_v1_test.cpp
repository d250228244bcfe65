#include "api/kinds/events_v1.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

namespace json = boost::json;

json::object parse(const char* s) { return json::parse(s).as_object(); }

std::vector<std::string> validate(const json::object& core, const json::object* old = nullptr) {
  FieldErrors errs;
  validateEventsV1Event(core, old, errs);
  std::vector<std::string> out;
  for (const auto& c : errs.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

constexpr const char* kNewStyle = R"({"kind":"Event","apiVersion":"events.k8s.io/v1",
  "metadata":{"name":"web.17a","namespace":"default"},
  "eventTime":"2024-01-01T00:00:00.123456Z",
  "series":{"count":3,"lastObservedTime":"2024-01-01T00:05:00.000000Z"},
  "reportingController":"berth.io/scheduler","reportingInstance":"server-1","action":"Binding",
  "reason":"Scheduled","regarding":{"kind":"Pod","namespace":"default","name":"web","uid":"u1"},
  "related":{"kind":"Node","name":"n1"},"note":"Successfully assigned default/web to n1","type":"Normal"})";

TEST(EventsV1Conversion, ToCoreMapsFields) {
  json::object core = eventsV1ToCore(parse(kNewStyle));
  EXPECT_EQ(core.at("apiVersion"), "v1");
  EXPECT_EQ(core.at("involvedObject").at("name"), "web");
  EXPECT_EQ(core.at("message"), "Successfully assigned default/web to n1");
  EXPECT_EQ(core.at("reportingComponent"), "berth.io/scheduler");
  EXPECT_EQ(core.at("reportingInstance"), "server-1");
  EXPECT_EQ(core.at("series").at("count"), 3);
  EXPECT_EQ(core.at("related").at("kind"), "Node");
  EXPECT_EQ(core.at("source"), json::object());
  EXPECT_TRUE(core.at("firstTimestamp").is_null());
  EXPECT_TRUE(core.at("lastTimestamp").is_null());
  EXPECT_FALSE(core.contains("count"));
  EXPECT_EQ(core.at("eventTime"), "2024-01-01T00:00:00.123456Z");
}

TEST(EventsV1Conversion, RoundTrips) {
  json::object v1 = parse(kNewStyle);
  json::object back = coreToEventsV1(eventsV1ToCore(v1));
  // The only additions are the always-serialized struct and time fields.
  json::object expected = v1;
  expected["deprecatedSource"] = json::object();
  expected["deprecatedFirstTimestamp"] = nullptr;
  expected["deprecatedLastTimestamp"] = nullptr;
  EXPECT_EQ(back, expected);

  // An old-style core event survives core -> v1 -> core unchanged.
  json::object core = parse(R"({"kind":"Event","apiVersion":"v1","metadata":{"name":"x.1","namespace":"ns"},
      "involvedObject":{"kind":"Pod","namespace":"ns","name":"x","fieldPath":"spec.containers{c}"},
      "reason":"Pulled","message":"pulled image","source":{"component":"kubelet","host":"n1"},
      "firstTimestamp":"2024-01-01T00:00:00Z","lastTimestamp":"2024-01-01T00:01:00Z","count":4,"type":"Normal",
      "eventTime":null,"reportingComponent":"","reportingInstance":""})");
  json::object v1_form = coreToEventsV1(core);
  EXPECT_EQ(v1_form.at("deprecatedSource").at("component"), "kubelet");
  EXPECT_EQ(v1_form.at("deprecatedCount"), 4);
  EXPECT_EQ(v1_form.at("deprecatedFirstTimestamp"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(v1_form.at("note"), "pulled image");
  EXPECT_FALSE(v1_form.contains("reportingController"));
  EXPECT_EQ(eventsV1ToCore(v1_form), core);
}

TEST(EventsV1Validation, NewEventsNeedReportingFields) {
  json::object core = eventsV1ToCore(parse(R"({"metadata":{"name":"e","namespace":"default"},
      "eventTime":"2024-01-01T00:00:00.000000Z","regarding":{"kind":"Pod","namespace":"default","name":"p"},
      "type":"Odd","deprecatedCount":2,"series":{"count":1}})"));
  EXPECT_EQ(validate(core),
            (std::vector<std::string>{"reportingController: Required value",
                                      "reportingController: Invalid value: \"\": name part must be non-empty",
                                      "reportingController: Invalid value: \"\": name part must consist of "
                                      "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                                      "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                                      "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                                      "reportingInstance: Required value",
                                      "action: Required value",
                                      "reason: Required value",
                                      "series.count: Invalid value: \"\": should be at least 2",
                                      "series.lastObservedTime: Required value",
                                      "type: Invalid value: \"\": has invalid value: Odd",
                                      "deprecatedCount: Invalid value: \"\": needs to be unset"}));
  EXPECT_TRUE(validate(eventsV1ToCore(parse(kNewStyle))).empty());
  json::object no_time = eventsV1ToCore(parse(kNewStyle));
  no_time["eventTime"] = nullptr;
  auto errs = validate(no_time);
  EXPECT_NE(std::find(errs.begin(), errs.end(), "eventTime: Required value"), errs.end());
}

TEST(EventsV1Validation, UpdateImmutables) {
  json::object old = eventsV1ToCore(parse(kNewStyle));
  json::object now = old;
  now["message"] = "changed";
  now["eventTime"] = "2024-01-01T00:00:00.123456789Z";  // sub-microsecond change is tolerated
  now["series"] = parse(R"({"count":4,"lastObservedTime":"2024-01-01T00:06:00.000000Z"})");
  EXPECT_EQ(validate(now, &old), (std::vector<std::string>{"message: Invalid value: \"changed\": field is immutable"}));
  now["reportingComponent"] = "other";
  EXPECT_EQ(validate(now, &old).back(), "reportingController: Invalid value: \"other\": field is immutable");
}

TEST(EventsV1Table, PrintsLikeUpstream) {
  KindContext ctx{std::chrono::system_clock::from_time_t(1704067200 + 600)};
  json::object core = eventsV1ToCore(parse(kNewStyle));
  auto cols = eventColumns();
  ASSERT_EQ(cols.size(), 10u);
  EXPECT_EQ(cols[0].name, "Last Seen");
  EXPECT_EQ(cols[9].format, "name");
  EXPECT_EQ(eventCells(core, ctx),
            (json::array{"5m", "Normal", "Scheduled", "pod/web", "", "berth.io/scheduler, server-1",
                         "Successfully assigned default/web to n1", "9m59s", 3, "web.17a"}));
  json::object old_style = parse(R"({"metadata":{"name":"x.1"},"involvedObject":{"kind":"Node","name":"n1"},
      "reason":"Starting","message":" hi \n","source":{"component":"kubelet","host":"n1"},
      "firstTimestamp":"2024-01-01T00:00:00Z","lastTimestamp":null})");
  EXPECT_EQ(eventCells(old_style, ctx),
            (json::array{"10m", "", "Starting", "node/n1", "", "kubelet, n1", "hi", "10m", 1, "x.1"}));
}

TEST(EventsV1Kind, RegisteredOnCoreStorage) {
  KindRegistry r;
  registerEventsV1Kind(r);
  const KindInfo* k = r.byKind("events.k8s.io", "v1", "Event");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->storageResource(), "events");
  EXPECT_EQ(k->schema_type, "events.v1.Event");
  json::object v1 = parse(kNewStyle);
  EXPECT_EQ(k->from_storage(k->to_storage(v1)).at("note"), v1.at("note"));
  auto fields = k->selectable_fields(v1);
  EXPECT_EQ(fields.at("regarding.name"), "web");
  EXPECT_EQ(fields.at("reportingController"), "berth.io/scheduler");
  FieldErrors errs;
  k->validate(v1, nullptr, errs);
  EXPECT_TRUE(errs.empty());
}

}  // namespace
}  // namespace berth::api
