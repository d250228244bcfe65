#include "runtime/oci/runc.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "runtime/oci/test_util.h"

namespace berth::runtime {
namespace {
using testing::TempDir;

TEST(RunProcessTest, CapturesOutputAndExitCode) {
  auto output = runProcess({"/bin/sh", "-c", "echo out; echo err >&2; exit 4"});
  ASSERT_TRUE(output.ok());
  EXPECT_EQ(output->exit_code, 4);
  EXPECT_EQ(output->out, "out\n");
  EXPECT_EQ(output->err, "err\n");
}

TEST(RunProcessTest, SignalExitAndMissingBinary) {
  auto output = runProcess({"/bin/sh", "-c", "kill -KILL $$"});
  ASSERT_TRUE(output.ok());
  EXPECT_EQ(output->exit_code, 128 + 9);
  // posix_spawn reports a missing binary as an error or as exit 127.
  auto missing = runProcess({"/nonexistent/runc"});
  EXPECT_TRUE(!missing.ok() || missing->exit_code == 127);
}

TEST(RunProcessTest, RedirectsToFds) {
  TempDir tmp;
  std::string path = tmp.path() + "/out";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  auto output = runProcess({"/bin/sh", "-c", "echo to-file; echo also >&2"}, fd, fd);
  ::close(fd);
  ASSERT_TRUE(output.ok());
  EXPECT_TRUE(output->out.empty());
  EXPECT_EQ(testing::readText(path), "to-file\nalso\n");
}

TEST(RuncParseTest, State) {
  auto state = parseRuncState(
      R"({"ociVersion":"1.0.2","id":"c1","pid":1234,"status":"running","bundle":"/b/c1",)"
      R"("rootfs":"/b/c1/rootfs","created":"2026-12-04T22:00:00.5Z","owner":""})");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->id, "c1");
  EXPECT_EQ(state->pid, 1234);
  EXPECT_EQ(state->status, "running");
  EXPECT_EQ(state->bundle, "/b/c1");
  EXPECT_EQ(state->created, "2026-12-04T22:00:00.5Z");
  EXPECT_FALSE(parseRuncState("{}").ok());
  EXPECT_FALSE(parseRuncState("not json").ok());
}

TEST(RuncParseTest, ListNullIsEmpty) {
  auto list = parseRuncList("null\n");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  EXPECT_FALSE(parseRuncList("{}").ok());
}

TEST(RuncParseTest, LogErrors) {
  std::string log = R"({"level":"info","msg":"fine","time":"t"})"
                    "\n"
                    R"({"level":"error","msg":"first","time":"t"})"
                    "\n"
                    R"({"level":"fatal","msg":"second","time":"t"})"
                    "\n";
  EXPECT_EQ(runcLogErrors(log), "first\nsecond");
  EXPECT_EQ(runcLogErrors("plain text error\n"), "plain text error");
  EXPECT_EQ(runcLogErrors(""), "");
}

class RuncFakeTest : public ::testing::Test {
 protected:
  void SetUp() override { binary_ = testing::writeFakeRunc(tmp_.path()); }
  Runc runc() const { return Runc(RuncConfig{binary_, tmp_.path() + "/state"}); }
  std::string calls() const { return testing::readText(tmp_.path() + "/calls"); }

  TempDir tmp_;
  std::string binary_;
};

TEST_F(RuncFakeTest, StateAndNotFound) {
  auto state = runc().state("known");
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->pid, 42);
  EXPECT_EQ(state->status, "running");
  auto missing = runc().state("other");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("container does not exist"), std::string::npos);
  EXPECT_NE(calls().find("--root " + tmp_.path() + "/state state known"), std::string::npos);
}

TEST_F(RuncFakeTest, List) {
  auto list = runc().list();
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "a");
  EXPECT_EQ((*list)[0].pid, 7);
  EXPECT_EQ((*list)[1].status, "stopped");
  testing::writeText(tmp_.path() + "/empty", "");
  list = runc().list();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  EXPECT_NE(calls().find("list --format json"), std::string::npos);
}

TEST_F(RuncFakeTest, KillAndDeleteArguments) {
  ASSERT_TRUE(runc().kill("c1", 15).ok());
  ASSERT_TRUE(runc().kill("c1", 9, /*all=*/true).ok());
  ASSERT_TRUE(runc().remove("c1").ok());
  ASSERT_TRUE(runc().remove("c1", /*force=*/true).ok());
  std::string log = calls();
  EXPECT_NE(log.find("kill c1 15\n"), std::string::npos);
  EXPECT_NE(log.find("kill --all c1 9\n"), std::string::npos);
  EXPECT_NE(log.find("delete c1\n"), std::string::npos);
  EXPECT_NE(log.find("delete --force c1\n"), std::string::npos);
}

TEST_F(RuncFakeTest, CreateErrorComesFromRuncLog) {
  std::string bundle = tmp_.path() + "/bundle";
  std::filesystem::create_directories(bundle);
  testing::writeText(bundle + "/code", "fail");
  std::string err_path = tmp_.path() + "/stderr";
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  auto status = runc().create("c1", CreateOptions{bundle, tmp_.path() + "/pid", -1, err_fd});
  ::close(err_fd);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("starting container process caused: boom"),
            std::string::npos);
  EXPECT_EQ(status.error().message.find("just a warning"), std::string::npos);
  // runc's stderr is the container's: its own complaint lands there.
  EXPECT_EQ(testing::readText(err_path), "runc: boom\n");
  EXPECT_NE(calls().find("--log-format json create --bundle " + bundle + " --pid-file"),
            std::string::npos);
}

TEST_F(RuncFakeTest, UnknownCommandErrorCarriesStderr) {
  Runc broken(RuncConfig{"/bin/false", ""});
  auto status = broken.start("c1");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("exit 1"), std::string::npos);
}

}  // namespace
}  // namespace berth::runtime
