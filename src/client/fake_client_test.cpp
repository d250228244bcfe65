// FakeClient semantics (the contract unit tests of the scheduler, the
// controllers and the agent rely on) and the small helpers of client.h.
#include "client/fake_client.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/object.h"
#include "apiserver/status.h"

namespace berth::client {
namespace {

namespace json = boost::json;

// 2024-01-02T03:04:05Z
const std::chrono::system_clock::time_point kT0 =
    std::chrono::system_clock::from_time_t(1704164645);

Object parse(const std::string& text) { return json::parse(text).as_object(); }

Object pod(const std::string& ns, const std::string& name, const std::string& node = "",
           const std::string& app = "web") {
  Object p = parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"labels":{}},
                       "spec":{"containers":[{"name":"c","image":"busybox"}]}})");
  auto& md = p["metadata"].as_object();
  md["namespace"] = ns;
  md["name"] = name;
  md["labels"].as_object()["app"] = app;
  if (!node.empty()) p["spec"].as_object()["nodeName"] = node;
  return p;
}

std::string rv(const ObjectPtr& obj) {
  return api::getStringPath(*obj, "metadata.resourceVersion");
}

std::vector<std::string> names(const std::vector<ObjectPtr>& items) {
  std::vector<std::string> out;
  for (const auto& o : items) out.push_back(api::name(*o));
  return out;
}

struct Recorded {
  std::vector<std::string> lines;  // "ADDED ns/name"
  WatchHandler handler() {
    return [this](const Event& ev) {
      static const char* kNames[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
      std::string line = kNames[static_cast<int>(ev.type)];
      if (ev.object) line += " " + keyOf(*ev.object);
      if (ev.type == EventType::kError) line += std::string(" ") + statusReason(ev.error.code);
      lines.push_back(line);
    };
  }
};

class FakeClientTest : public ::testing::Test {
 protected:
  FakeClock clock_{kT0};
  FakeClient client_{clock_};
  const api::KindInfo& pods_ = kind("", "Pod");
};

TEST(ClientKeys, MakeSplitAndKeyOf) {
  EXPECT_EQ(makeKey("ns", "a"), "ns/a");
  EXPECT_EQ(makeKey("", "node1"), "node1");
  std::string ns, name;
  splitKey("ns/a", &ns, &name);
  EXPECT_EQ(ns, "ns");
  EXPECT_EQ(name, "a");
  splitKey("node1", &ns, &name);
  EXPECT_EQ(ns, "");
  EXPECT_EQ(name, "node1");
  EXPECT_EQ(keyOf(pod("default", "p")), "default/p");
  EXPECT_EQ(keyOf(parse(R"({"metadata":{"name":"n1"}})")), "n1");
}

TEST(ClientKinds, PreferredVersion) {
  EXPECT_EQ(kind("", "Pod").resource, "pods");
  EXPECT_EQ(kind("apps", "Deployment").version, "v1");
  // HPAs are registered v2 first: v2 is the preferred version.
  EXPECT_EQ(kind("autoscaling", "HorizontalPodAutoscaler").version, "v2");
  EXPECT_EQ(kind("", "Event").groupVersion(), "v1");
  EXPECT_EQ(&kind("", "Node"), &kind("", "Node"));
}

TEST_F(FakeClientTest, CreateSetsServerFieldsAndRejectsDuplicates) {
  auto created = client_.create(pods_, pod("default", "a"));
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(rv(*created), "2");  // an empty store is at revision 1
  EXPECT_FALSE(api::uid(**created).empty());
  EXPECT_EQ(api::getStringPath(**created, "metadata.creationTimestamp"), "2024-01-02T03:04:05Z");

  auto dup = client_.create(pods_, pod("default", "a"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(dup.error().message, "pods \"a\" already exists");

  auto got = client_.get(pods_, "default", "a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->get(), created->get());  // shared, not copied

  auto missing = client_.get(pods_, "default", "zz");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "pods \"zz\" not found");

  Object with_rv = pod("default", "b");
  with_rv["metadata"].as_object()["resourceVersion"] = "7";
  auto bad = client_.create(pods_, with_rv);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
}

TEST_F(FakeClientTest, GenerateName) {
  Object p = pod("default", "");
  p["metadata"].as_object().erase("name");
  p["metadata"].as_object()["generateName"] = "web-";
  auto created = client_.create(pods_, p);
  ASSERT_TRUE(created.ok());
  std::string name = api::name(**created);
  EXPECT_EQ(name.rfind("web-", 0), 0u);
  EXPECT_EQ(name.size(), 9u);
  EXPECT_TRUE(client_.find(pods_, "default", name) != nullptr);
}

TEST_F(FakeClientTest, UpdateResourceVersionPreconditionAndNoop) {
  auto created = client_.create(pods_, pod("default", "a"));
  ASSERT_TRUE(created.ok());
  Object next = **created;
  next["metadata"].as_object()["labels"].as_object()["tier"] = "x";
  auto updated = client_.update(pods_, next);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(rv(*updated), "3");

  // `next` still carries resourceVersion 2: stale.
  auto stale = client_.update(pods_, next);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_EQ(stale.error().message,
            "Operation cannot be fulfilled on pods \"a\": the object has been modified; please "
            "apply your changes "
            "to the latest version and try again");

  // Without a resourceVersion the update is unconditional.
  next["metadata"].as_object().erase("resourceVersion");
  next["metadata"].as_object()["labels"].as_object()["tier"] = "y";
  auto forced = client_.update(pods_, next);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(rv(*forced), "4");

  // Writing the same object again changes nothing and keeps the version.
  auto noop = client_.update(pods_, **forced);
  ASSERT_TRUE(noop.ok());
  EXPECT_EQ(rv(*noop), "4");

  auto gone = client_.update(pods_, pod("default", "nope"));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

TEST_F(FakeClientTest, StatusSubresourceSeparatesSpecAndStatus) {
  Object p = pod("default", "a");
  p["status"] = parse(R"({"phase":"Running"})");
  // create drops status (the status subresource owns it), add() keeps it.
  auto created = client_.create(pods_, p);
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE((*created)->contains("status"));
  auto seeded = client_.add(pods_, pod("default", "s"));
  Object with_status = *seeded;
  with_status["status"] = parse(R"({"phase":"Pending"})");
  seeded = client_.add(pods_, with_status);
  EXPECT_EQ(api::getStringPath(*seeded, "status.phase"), "Pending");

  // A status update changes only .status.
  Object st = *seeded;
  st["status"].as_object()["phase"] = "Running";
  st["metadata"].as_object()["labels"].as_object()["app"] = "changed";
  auto r = client_.update(pods_, st, Subresource::kStatus);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(api::getStringPath(**r, "status.phase"), "Running");
  EXPECT_EQ(api::labels(**r).at("app"), "web");

  // A main-resource update keeps the stored status.
  Object main = **r;
  main["status"].as_object()["phase"] = "Failed";
  main["metadata"].as_object()["labels"].as_object()["app"] = "changed";
  r = client_.update(pods_, main);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(api::getStringPath(**r, "status.phase"), "Running");
  EXPECT_EQ(api::labels(**r).at("app"), "changed");
}

TEST_F(FakeClientTest, GenerationFollowsSpecChanges) {
  const auto& deployments = kind("apps", "Deployment");
  Object d = parse(R"({"metadata":{"namespace":"default","name":"d"},
                       "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}}}})");
  auto created = client_.create(deployments, d);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(api::getInt(*api::metadata(**created), "generation"), 1);
  Object next = **created;
  next["metadata"].as_object()["labels"] = parse(R"({"a":"b"})");
  auto r = client_.update(deployments, next);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(api::getInt(*api::metadata(**r), "generation"), 1);
  next = **r;
  next["spec"].as_object()["replicas"] = 3;
  r = client_.update(deployments, next);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(api::getInt(*api::metadata(**r), "generation"), 2);
}

TEST_F(FakeClientTest, ListHonoursNamespaceAndSelectors) {
  client_.add(pods_, pod("a", "p1", "n1", "web"));
  client_.add(pods_, pod("a", "p2", "n2", "db"));
  client_.add(pods_, pod("b", "p3", "n1", "web"));

  auto all = client_.list(pods_, "", {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(names(all->items), (std::vector<std::string>{"p1", "p2", "p3"}));
  EXPECT_EQ(all->revision, 4);

  auto in_a = client_.list(pods_, "a", {});
  ASSERT_TRUE(in_a.ok());
  EXPECT_EQ(names(in_a->items), (std::vector<std::string>{"p1", "p2"}));

  ListOptions by_label;
  by_label.label_selector = "app=web";
  auto web = client_.list(pods_, "", by_label);
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(names(web->items), (std::vector<std::string>{"p1", "p3"}));

  ListOptions by_node;
  by_node.field_selector = "spec.nodeName=n1,metadata.namespace!=b";
  auto on_n1 = client_.list(pods_, "", by_node);
  ASSERT_TRUE(on_n1.ok());
  EXPECT_EQ(names(on_n1->items), (std::vector<std::string>{"p1"}));

  ListOptions bad_field;
  bad_field.field_selector = "spec.image=x";
  auto bad = client_.list(pods_, "", bad_field);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(bad.error().message, "field label not supported: spec.image");

  ListOptions bad_label;
  bad_label.label_selector = "app in (";
  EXPECT_FALSE(client_.list(pods_, "", bad_label).ok());
}

TEST_F(FakeClientTest, ListPagesWithContinueTokens) {
  for (int i = 0; i < 5; ++i) client_.add(pods_, pod("default", "p" + std::to_string(i)));
  ListOptions opts;
  opts.limit = 2;
  std::vector<std::string> seen;
  int pages = 0;
  int64_t first_revision = -1;
  for (;;) {
    auto page = client_.list(pods_, "default", opts);
    ASSERT_TRUE(page.ok());
    ++pages;
    if (first_revision < 0) first_revision = page->revision;
    EXPECT_EQ(page->revision, first_revision);
    for (auto& n : names(page->items)) seen.push_back(n);
    if (page->continue_token.empty()) break;
    // A write between pages does not change the list's revision.
    client_.add(pods_, pod("other", "x" + std::to_string(pages)));
    opts.continue_token = page->continue_token;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4"}));
  opts.continue_token = "garbage";
  EXPECT_EQ(client_.list(pods_, "default", opts).error().code, ErrorCode::kBadRequest);
}

TEST_F(FakeClientTest, WatchDeliversSynchronouslyWithSelectorTransitions) {
  Recorded all, web, ns_b;
  ListOptions web_only;
  web_only.label_selector = "app=web";
  auto w_all = client_.watch(pods_, "", {}, all.handler());
  auto w_web = client_.watch(pods_, "", web_only, web.handler());
  auto w_b = client_.watch(pods_, "b", {}, ns_b.handler());
  ASSERT_TRUE(w_all.ok() && w_web.ok() && w_b.ok());

  auto p = client_.create(pods_, pod("a", "p1", "", "web"));
  ASSERT_TRUE(p.ok());
  // Delivered before create() returned.
  EXPECT_EQ(all.lines, (std::vector<std::string>{"ADDED a/p1"}));
  Object next = **p;
  next["metadata"].as_object()["labels"].as_object()["app"] = "db";
  ASSERT_TRUE(client_.update(pods_, next).ok());
  next["metadata"].as_object().erase("resourceVersion");
  next["metadata"].as_object()["labels"].as_object()["app"] = "web";
  ASSERT_TRUE(client_.update(pods_, next).ok());
  ASSERT_TRUE(client_.remove(pods_, "a", "p1").ok());
  client_.add(pods_, pod("b", "p2"));

  EXPECT_EQ(all.lines, (std::vector<std::string>{"ADDED a/p1", "MODIFIED a/p1", "MODIFIED a/p1",
                                                 "DELETED a/p1", "ADDED b/p2"}));
  // Leaving the selection is a DELETED, entering it an ADDED.
  EXPECT_EQ(web.lines, (std::vector<std::string>{"ADDED a/p1", "DELETED a/p1", "ADDED a/p1",
                                                 "DELETED a/p1", "ADDED b/p2"}));
  EXPECT_EQ(ns_b.lines, (std::vector<std::string>{"ADDED b/p2"}));

  // After stop() nothing more arrives.
  (*w_all)->stop();
  client_.add(pods_, pod("b", "p3"));
  EXPECT_EQ(all.lines.size(), 5u);
  EXPECT_EQ(ns_b.lines.size(), 2u);
}

TEST_F(FakeClientTest, WatchFromRevisionReplaysAndHandlersMayWrite) {
  client_.add(pods_, pod("default", "p1"));                  // rv 2
  auto p2 = client_.add(pods_, pod("default", "p2"));        // rv 3
  ASSERT_TRUE(client_.remove(pods_, "default", "p1").ok());  // rv 4
  Recorded rec;
  std::vector<int64_t> revisions;
  ListOptions from;
  from.resource_version = "2";
  auto w = client_.watch(pods_, "", from, [&](const Event& ev) {
    rec.handler()(ev);
    revisions.push_back(ev.revision);
    // A handler writing back into the client: its event is delivered after
    // this call returns, in order.
    if (ev.type == EventType::kAdded && api::name(*ev.object) == "p4") {
      ASSERT_TRUE(client_.create(pods_, pod("default", "p5")).ok());
    }
  });
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(rec.lines, (std::vector<std::string>{"ADDED default/p2", "DELETED default/p1"}));
  EXPECT_EQ(revisions, (std::vector<int64_t>{3, 4}));
  client_.add(pods_, pod("default", "p4"));
  EXPECT_EQ(rec.lines, (std::vector<std::string>{"ADDED default/p2", "DELETED default/p1",
                                                 "ADDED default/p4", "ADDED default/p5"}));
  EXPECT_EQ(revisions.back(), 6);

  // breakWatches ends a watch with an error, as a 410 from the server.
  client_.breakWatches(pods_, makeError(ErrorCode::kExpired, "too old resource version"));
  EXPECT_EQ(rec.lines.back(), "ERROR Expired");
  client_.add(pods_, pod("default", "p6"));
  EXPECT_EQ(rec.lines.back(), "ERROR Expired");
}

TEST_F(FakeClientTest, FinalizersHoldDeletion) {
  Object p = pod("default", "a");
  p["metadata"].as_object()["finalizers"] = json::array{"example.com/hold"};
  auto created = client_.create(pods_, p);
  ASSERT_TRUE(created.ok());
  Recorded rec;
  auto w = client_.watch(pods_, "", {}, rec.handler());

  clock_.advance(std::chrono::seconds(10));
  auto deleting = client_.remove(pods_, "default", "a");
  ASSERT_TRUE(deleting.ok());
  EXPECT_EQ(api::getStringPath(**deleting, "metadata.deletionTimestamp"), "2024-01-02T03:04:15Z");
  ASSERT_TRUE(client_.find(pods_, "default", "a"));
  EXPECT_EQ(rec.lines, (std::vector<std::string>{"MODIFIED default/a"}));

  // No new finalizers on a terminating object.
  Object more = **deleting;
  more["metadata"].as_object()["finalizers"].as_array().push_back("other");
  auto refused = client_.update(pods_, more);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalid);

  // Removing the last finalizer completes the deletion.
  auto r = client_.patch(pods_, "default", "a", PatchType::kMerge,
                         R"({"metadata":{"finalizers":null}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(client_.find(pods_, "default", "a"), nullptr);
  EXPECT_EQ(rec.lines, (std::vector<std::string>{"MODIFIED default/a", "DELETED default/a"}));
}

TEST_F(FakeClientTest, BoundPodsDeleteGracefully) {
  client_.add(pods_, pod("default", "bound", "n1"));
  client_.add(pods_, pod("default", "pending"));
  auto r = client_.remove(pods_, "default", "bound");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(api::getStringPath(**r, "metadata.deletionTimestamp"), "2024-01-02T03:04:35Z");
  EXPECT_EQ(api::getInt(*api::metadata(**r), "deletionGracePeriodSeconds"), 30);
  EXPECT_NE(client_.find(pods_, "default", "bound"), nullptr);

  // The agent confirms with grace 0.
  DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(client_.remove(pods_, "default", "bound", now).ok());
  EXPECT_EQ(client_.find(pods_, "default", "bound"), nullptr);

  // An unscheduled pod goes at once.
  ASSERT_TRUE(client_.remove(pods_, "default", "pending").ok());
  EXPECT_EQ(client_.find(pods_, "default", "pending"), nullptr);
  EXPECT_EQ(client_.remove(pods_, "default", "pending").error().code, ErrorCode::kNotFound);

  // A pod in its grace period stays when its finalizers go or its status
  // changes; the agent's grace-0 delete removes it.
  Object held = pod("default", "held", "n1");
  held["metadata"].as_object()["finalizers"] = json::array{"example.com/hold"};
  client_.add(pods_, held);
  ASSERT_TRUE(client_.remove(pods_, "default", "held").ok());
  auto r2 = client_.patch(pods_, "default", "held", PatchType::kMerge,
                          R"({"metadata":{"finalizers":null}})");
  ASSERT_TRUE(r2.ok());
  r2 = client_.patch(pods_, "default", "held", PatchType::kMerge,
                     R"({"status":{"phase":"Succeeded"}})", Subresource::kStatus);
  ASSERT_TRUE(r2.ok());
  EXPECT_NE(client_.find(pods_, "default", "held"), nullptr);
  ASSERT_TRUE(client_.remove(pods_, "default", "held", now).ok());
  EXPECT_EQ(client_.find(pods_, "default", "held"), nullptr);

  // Preconditions.
  auto p = client_.add(pods_, pod("default", "c"));
  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "nope";
  auto refused = client_.remove(pods_, "default", "c", wrong_uid);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
}

TEST_F(FakeClientTest, BindingAssignsNodeOnce) {
  client_.add(pods_, pod("default", "a"));
  Object binding =
      parse(R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"a","namespace":"default"},
                             "target":{"apiVersion":"v1","kind":"Node","name":"n1"}})");
  auto r = client_.createSubresource(pods_, "default", "a", "binding", binding);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(api::getString(**r, "status"), "Success");
  auto bound = client_.find(pods_, "default", "a");
  EXPECT_EQ(api::getStringPath(*bound, "spec.nodeName"), "n1");
  const auto* conditions = api::arrAt(*bound, {"status", "conditions"});
  ASSERT_TRUE(conditions && conditions->size() == 1);
  EXPECT_EQ(api::getString(conditions->at(0).as_object(), "type"), "PodScheduled");
  EXPECT_EQ(api::getString(conditions->at(0).as_object(), "status"), "True");
  EXPECT_EQ(api::getString(conditions->at(0).as_object(), "lastTransitionTime"),
            "2024-01-02T03:04:05Z");

  binding["target"].as_object()["name"] = "n2";
  auto again = client_.createSubresource(pods_, "default", "a", "binding", binding);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(again.error().message,
            "Operation cannot be fulfilled on pods/binding \"a\": pod a is already assigned to "
            "node \"n1\"");
  EXPECT_EQ(client_.createSubresource(pods_, "default", "zz", "binding", binding).error().code,
            ErrorCode::kNotFound);

  // An Unschedulable condition is replaced, its reason and message dropped.
  Object unschedulable = pod("default", "u");
  unschedulable["status"] = parse(R"({"conditions":[{"type":"PodScheduled","status":"False",
      "reason":"Unschedulable","message":"0/1 nodes are available","lastTransitionTime":"2024-01-01T00:00:00Z"}]})");
  client_.add(pods_, unschedulable);
  clock_.advance(std::chrono::seconds(5));
  binding["target"].as_object()["name"] = "n1";
  ASSERT_TRUE(client_.createSubresource(pods_, "default", "u", "binding", binding).ok());
  auto u = client_.find(pods_, "default", "u");
  const auto* uc = api::arrAt(*u, {"status", "conditions"});
  ASSERT_TRUE(uc && uc->size() == 1);
  EXPECT_EQ(uc->at(0).as_object(), parse(R"({"type":"PodScheduled","status":"True","lastProbeTime":null,
                                             "lastTransitionTime":"2024-01-02T03:04:10Z"})"));

  auto writes = client_.writes();
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_EQ(writes[0].verb, "create-subresource");
  EXPECT_EQ(writes[0].subresource, "binding");
  EXPECT_EQ(api::strAt(*writes[0].object, {"target", "name"}), "n1");
}

TEST_F(FakeClientTest, EvictionDeletesAndReactorsCanRefuse) {
  client_.add(pods_, pod("default", "a"));
  client_.add(pods_, pod("default", "b"));
  Object eviction =
      parse(R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"a"}})");
  auto r = client_.createSubresource(pods_, "default", "a", "eviction", eviction);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(client_.find(pods_, "default", "a"), nullptr);

  // A reactor simulates a disruption budget refusing the eviction.
  client_.prependReactor(
      "create-subresource", "pods", [](const Action& a) -> std::optional<Result<ObjectPtr>> {
        if (a.subresource != "eviction") return std::nullopt;
        Error e = makeError(ErrorCode::kTooManyRequests,
                            "Cannot evict pod as it would violate the pod's disruption "
                            "budget.");
        return Result<ObjectPtr>(e);
      });
  auto refused = client_.createSubresource(pods_, "default", "b", "eviction", eviction);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kTooManyRequests);
  EXPECT_NE(client_.find(pods_, "default", "b"), nullptr);
}

TEST_F(FakeClientTest, ReactorsAndActions) {
  client_.add(pods_, pod("default", "a"));
  int calls = 0;
  client_.prependReactor("update", "*", [&](const Action& a) -> std::optional<Result<ObjectPtr>> {
    ++calls;
    if (calls == 1) return Result<ObjectPtr>(apiserver::conflict("", "pods", a.name, "injected"));
    return std::nullopt;
  });
  auto p = client_.get(pods_, "default", "a");
  ASSERT_TRUE(p.ok());
  auto first = client_.update(pods_, **p);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, ErrorCode::kConflict);
  Object changed = **p;
  changed["metadata"].as_object()["labels"].as_object()["x"] = "y";
  EXPECT_TRUE(client_.update(pods_, changed).ok());
  EXPECT_EQ(calls, 2);

  auto actions = client_.actions();
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[0].verb, "get");
  EXPECT_EQ(actions[1].verb, "update");
  EXPECT_EQ(actions[1].resource, "pods");
  EXPECT_EQ(actions[1].ns, "default");
  EXPECT_EQ(actions[1].name, "a");
  EXPECT_EQ(client_.writes().size(), 2u);
  client_.clearActions();
  EXPECT_TRUE(client_.actions().empty());
}

TEST_F(FakeClientTest, PatchTypes) {
  client_.add(pods_, pod("default", "a"));
  auto r = client_.patch(pods_, "default", "a", PatchType::kMerge,
                         R"({"metadata":{"labels":{"x":"1"}}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(api::labels(**r).at("x"), "1");

  // Strategic merge merges containers by name.
  r = client_.patch(
      pods_, "default", "a", PatchType::kStrategic,
      R"({"spec":{"containers":[{"name":"c","image":"nginx"},{"name":"d","image":"redis"}]}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto* containers = api::arrAt(**r, {"spec", "containers"});
  ASSERT_TRUE(containers && containers->size() == 2);
  EXPECT_EQ(api::getString(containers->at(0).as_object(), "image"), "nginx");

  r = client_.patch(pods_, "default", "a", PatchType::kJson,
                    R"([{"op":"replace","path":"/metadata/labels/x","value":"2"}])");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(api::labels(**r).at("x"), "2");

  // A status patch touches only status.
  r = client_.patch(pods_, "default", "a", PatchType::kMerge,
                    R"({"metadata":{"labels":{"x":"3"}},"status":{"phase":"Running"}})",
                    Subresource::kStatus);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(api::getStringPath(**r, "status.phase"), "Running");
  EXPECT_EQ(api::labels(**r).at("x"), "2");

  // A stale resourceVersion in the patch is a precondition failure.
  auto stale = client_.patch(pods_, "default", "a", PatchType::kMerge,
                             R"({"metadata":{"resourceVersion":"1"}})");
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);

  auto invalid = client_.patch(pods_, "default", "a", PatchType::kMerge, "not json");
  EXPECT_FALSE(invalid.ok());
  EXPECT_EQ(client_.patch(pods_, "default", "zz", PatchType::kMerge, "{}").error().code,
            ErrorCode::kNotFound);
}

TEST_F(FakeClientTest, ClusterScopedAndConvertedKinds) {
  const auto& nodes = kind("", "Node");
  auto n = client_.create(nodes, parse(R"({"metadata":{"name":"n1","namespace":"ignored"}})"));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(keyOf(**n), "n1");
  EXPECT_NE(client_.find(nodes, "", "n1"), nullptr);

  // An HPA written as v2 reads back through the v1 version of the kind.
  const auto& hpa_v2 = kind("autoscaling", "HorizontalPodAutoscaler");
  const api::KindInfo* hpa_v1 =
      api::KindRegistry::builtin().byKind("autoscaling", "v1", "HorizontalPodAutoscaler");
  ASSERT_NE(hpa_v1, nullptr);
  Object hpa = parse(R"({"metadata":{"namespace":"default","name":"h"},
      "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"d"},"minReplicas":1,
              "maxReplicas":5}})");
  ASSERT_TRUE(client_.create(hpa_v2, hpa).ok());
  auto v1 = client_.get(*hpa_v1, "default", "h");
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(api::getString(**v1, "apiVersion"), "autoscaling/v1");
  EXPECT_EQ(api::intAt(**v1, {"spec", "maxReplicas"}).value_or(0), 5);
}

}  // namespace
}  // namespace berth::client
