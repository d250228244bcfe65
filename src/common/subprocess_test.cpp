#include "common/subprocess.h"

#include <gtest/gtest.h>

#include <string>

namespace berth {
namespace {

TEST(SubprocessTest, StdinOutErrExitAndEnv) {
  // A large stdin (more than a pipe holds) comes back whole through cat.
  std::string big(1 << 20, 'x');
  SubprocessOptions o;
  o.stdin_data = big;
  auto r = runSubprocess({"/bin/cat"}, o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out.size(), big.size());

  auto sh = runSubprocess({"/bin/sh", "-c", "echo out; echo err >&2; exit 7"});
  ASSERT_TRUE(sh.ok());
  EXPECT_EQ(sh->exit_code, 7);
  EXPECT_EQ(sh->out, "out\n");
  EXPECT_EQ(sh->err, "err\n");

  SubprocessOptions env;
  env.env = {"BERTH_TEST_VAR=hello"};
  env.replace_env = true;
  auto e = runSubprocess({"/bin/sh", "-c", "echo $BERTH_TEST_VAR; echo ${HOME:-unset}"}, env);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->out, "hello\nunset\n");

  auto killed = runSubprocess({"/bin/sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->exit_code, 128 + 9);

  EXPECT_FALSE(runSubprocess({"/nonexistent/berth-binary"}).ok());
  EXPECT_FALSE(runSubprocess({}).ok());
}

}  // namespace
}  // namespace berth
