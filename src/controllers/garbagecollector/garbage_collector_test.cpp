#include "controllers/garbagecollector/garbage_collector.h"

#include <gtest/gtest.h>

namespace berth::controllers {
namespace {

using Node = GarbageCollector::Node;

TEST(GarbageCollectorReadNode, ScannedStateMatchesAFullRead) {
  // The scan path (plain keys) and the parse fallback (an escaped key
  // elsewhere in metadata) must agree on every field.
  const std::string refs =
      R"([{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"r","uid":"o1","controller":true},{"uid":"o2"}])";
  const std::string plain =
      R"({"kind":"Pod","metadata":{"name":"p","uid":"u1","ownerReferences":)" + refs +
      R"(,"deletionTimestamp":"2026-01-01T00:00:00Z","finalizers":["foregroundDeletion"]},"spec":{}})";
  const std::string escaped =
      R"({"kind":"Pod","metadata":{"n\u0061me":"p","uid":"u1","ownerReferences":)" + refs +
      R"(,"deletionTimestamp":"2026-01-01T00:00:00Z","finalizers":["foregroundDeletion"]},"spec":{}})";
  for (const std::string& text : {plain, escaped}) {
    auto n = GarbageCollector::readNode(text);
    ASSERT_TRUE(n) << text;
    EXPECT_EQ(n->uid, "u1");
    EXPECT_EQ(n->owner_uids, (std::vector<std::string>{"o1", "o2"}));
    EXPECT_TRUE(n->deleting);
    EXPECT_TRUE(n->foreground);
    EXPECT_FALSE(n->orphan);
  }
}

TEST(GarbageCollectorReadNode, PlainObjectAndUnreadableValues) {
  auto n = GarbageCollector::readNode(R"({"metadata":{"name":"c","uid":"u2"},"data":{"k":"v"}})");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->uid, "u2");
  EXPECT_TRUE(n->owner_uids.empty());
  EXPECT_FALSE(n->deleting);
  // Finalizers count only while deleting.
  n = GarbageCollector::readNode(R"({"metadata":{"uid":"u3","finalizers":["orphan"]}})");
  ASSERT_TRUE(n);
  EXPECT_FALSE(n->orphan);
  n = GarbageCollector::readNode(
      R"({"metadata":{"uid":"u3","deletionTimestamp":"x","finalizers":["orphan"]}})");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->orphan);
  EXPECT_FALSE(GarbageCollector::readNode("not json"));
  EXPECT_FALSE(GarbageCollector::readNode(R"({"metadata":{"uid":"u","ownerReferences":[}})"));
}

TEST(GarbageCollectorReadNode, SameGraphStateIgnoresEverythingElse) {
  auto a = GarbageCollector::readNode(
      R"({"metadata":{"uid":"u","ownerReferences":[{"uid":"o"}]},"spec":{"nodeName":""}})");
  auto b = GarbageCollector::readNode(
      R"({"metadata":{"uid":"u","labels":{"x":"y"},"ownerReferences":[{"uid":"o"}]},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}})");
  auto c = GarbageCollector::readNode(
      R"({"metadata":{"uid":"u","ownerReferences":[{"uid":"o"},{"uid":"p"}]}})");
  auto d = GarbageCollector::readNode(
      R"({"metadata":{"uid":"u","ownerReferences":[{"uid":"o"}],"deletionTimestamp":"t"}})");
  ASSERT_TRUE(a && b && c && d);
  EXPECT_TRUE(GarbageCollector::sameGraphState(*a, *b));
  EXPECT_FALSE(GarbageCollector::sameGraphState(*a, *c));
  EXPECT_FALSE(GarbageCollector::sameGraphState(*a, *d));
}

}  // namespace
}  // namespace berth::controllers
