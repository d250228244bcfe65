#include "apiserver/fair_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::apiserver {
namespace {

TEST(FairQueueTest, FlowsTakeTurns) {
  FairQueue q;
  std::vector<std::string> ran;
  // An agent with a backlog of 100 requests, then one from a user.
  for (int i = 0; i < 100; ++i)
    q.push("agent", [&ran, i] { ran.push_back("agent-" + std::to_string(i)); });
  q.push("admin", [&ran] { ran.push_back("admin"); });
  EXPECT_EQ(q.size(), 101u);
  while (auto task = q.pop()) task();
  ASSERT_EQ(ran.size(), 101u);
  // The admin's request is served second, not 101st.
  EXPECT_EQ(ran[0], "agent-0");
  EXPECT_EQ(ran[1], "admin");
  // A flow's own requests stay in order.
  for (int i = 1; i < 100; ++i)
    EXPECT_EQ(ran[static_cast<size_t>(i) + 1], "agent-" + std::to_string(i));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.pop());
}

TEST(FairQueueTest, RoundRobinOverThreeFlows) {
  FairQueue q;
  std::string ran;
  for (int i = 0; i < 3; ++i) {
    q.push("a", [&ran] { ran += 'a'; });
    q.push("b", [&ran] { ran += 'b'; });
  }
  q.push("c", [&ran] { ran += 'c'; });
  while (auto task = q.pop()) task();
  EXPECT_EQ(ran, "abcabab");
}

TEST(FairQueueTest, AFlowThatEmptiesRejoinsAtTheBack) {
  FairQueue q;
  std::string ran;
  q.push("a", [&ran] { ran += 'a'; });
  q.push("b", [&ran] { ran += 'b'; });
  q.pop()();  // a
  q.push("a", [&ran] { ran += 'A'; });
  q.push("b", [&ran] { ran += 'B'; });
  while (auto task = q.pop()) task();
  EXPECT_EQ(ran, "abAB");
}

}  // namespace
}  // namespace berth::apiserver
