#include "agent/probe/probe_manager.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "api/kinds/access.h"

namespace berth::agent::probe {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

const TimePoint kT0 = std::chrono::system_clock::from_time_t(1'700'000'000);

json::object parseObject(const char* text) { return json::parse(text).as_object(); }

ProbeTarget target(const std::string& name, const std::string& id, json::object container,
                   TimePoint started = kT0) {
  ProbeTarget t;
  t.pod_key = "default/web";
  t.pod_uid = "uid-1";
  t.pod_ip = "10.0.0.5";
  t.container_name = name;
  t.container_id = id;
  container["name"] = name;
  t.container = std::move(container);
  t.started_at = started;
  return t;
}

// A ProbeRunner that records each call and answers from a per-(container
// name, kind) script; an exhausted script repeats its last outcome, no
// script answers success.
class FakeProbeRunner {
 public:
  struct Call {
    std::string container_id;
    ProbeKind kind;
    milliseconds timeout;
    json::object probe;
  };

  void script(const std::string& container, ProbeKind kind, std::vector<ProbeOutcome> outcomes) {
    std::lock_guard lock(mu_);
    scripts_[{container, kind}] = {std::move(outcomes), 0};
  }
  ProbeRunner runner() {
    return [this](const ProbeTarget& t, ProbeKind kind, const json::object& probe,
                  milliseconds timeout) {
      std::lock_guard lock(mu_);
      calls_.push_back({t.container_id, kind, timeout, probe});
      auto it = scripts_.find({t.container_name, kind});
      if (it == scripts_.end() || it->second.first.empty())
        return ProbeOutcome{ProbeResult::kSuccess, ""};
      auto& [outcomes, next] = it->second;
      ProbeOutcome o = outcomes[std::min(next, outcomes.size() - 1)];
      ++next;
      return o;
    };
  }
  std::vector<Call> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<ProbeKind> kinds() {
    std::vector<ProbeKind> out;
    for (const auto& c : calls()) out.push_back(c.kind);
    return out;
  }
  void clear() {
    std::lock_guard lock(mu_);
    calls_.clear();
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, ProbeKind>, std::pair<std::vector<ProbeOutcome>, size_t>>
      scripts_;
  std::vector<Call> calls_;
};

struct Recorded {
  std::mutex mu;
  std::vector<std::string> resyncs;
  std::vector<std::string> events;  // "pod|type|reason|message"
  ProbeManager::Callbacks callbacks() {
    ProbeManager::Callbacks cb;
    cb.resync = [this](const std::string& pod) {
      std::lock_guard lock(mu);
      resyncs.push_back(pod);
    };
    cb.event = [this](const std::string& pod, const std::string& type, const std::string& reason,
                      const std::string& message) {
      std::lock_guard lock(mu);
      events.push_back(pod + "|" + type + "|" + reason + "|" + message);
    };
    return cb;
  }
};

const ProbeOutcome kOk{ProbeResult::kSuccess, ""};
ProbeOutcome fail(const std::string& out) { return {ProbeResult::kFailure, out}; }

class ProbeManagerTest : public ::testing::Test {
 protected:
  FakeClock clock_{kT0};
  FakeProbeRunner fake_;
  Recorded rec_;
  ProbeManager manager_{clock_, fake_.runner(), rec_.callbacks()};

  ContainerProbes state(const std::string& name = "app", const std::string& id = "c1") {
    return manager_.state("uid-1", name, id);
  }
};

TEST_F(ProbeManagerTest, ReadinessStartsNotReadyAndFollowsThresholds) {
  manager_.updatePod("uid-1", {target("app", "c1", parseObject(R"({"readinessProbe": {
      "httpGet": {"port": 80}, "periodSeconds": 2, "successThreshold": 2,
      "failureThreshold": 2}})"))});
  EXPECT_FALSE(state().ready);
  EXPECT_TRUE(state().started);
  fake_.script("app", ProbeKind::kReadiness, {kOk, kOk, fail("boom"), fail("boom"), kOk});

  EXPECT_EQ(manager_.runDue(), 1u);  // 1 of 2 successes
  EXPECT_FALSE(state().ready);
  clock_.advance(seconds(1));
  EXPECT_EQ(manager_.runDue(), 0u);  // not due before its period
  clock_.advance(seconds(1));
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_TRUE(state().ready);
  EXPECT_EQ(rec_.resyncs, (std::vector<std::string>{"default/web"}));

  // Readiness keeps running after success; one failure is below the threshold.
  clock_.advance(seconds(2));
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_TRUE(state().ready);
  clock_.advance(seconds(2));
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_FALSE(state().ready);
  EXPECT_EQ(rec_.resyncs.size(), 2u);
  // Each failed run is an event, as upstream records Unhealthy per run.
  EXPECT_EQ(rec_.events, (std::vector<std::string>{
                             "default/web|Warning|Unhealthy|Readiness probe failed: boom",
                             "default/web|Warning|Unhealthy|Readiness probe failed: boom"}));
  // A success after a failure: 1 of 2 again.
  clock_.advance(seconds(2));
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_FALSE(state().ready);
  EXPECT_EQ(fake_.calls().size(), 5u);
}

TEST_F(ProbeManagerTest, LivenessFailureReportedOnceAndHeldUntilNewContainer) {
  auto spec = parseObject(R"({"livenessProbe": {"tcpSocket": {"port": 80}}})");
  manager_.updatePod("uid-1", {target("app", "c1", spec)});
  EXPECT_FALSE(state().liveness_failed);
  EXPECT_TRUE(state().ready);  // no readiness probe
  fake_.script("app", ProbeKind::kLiveness, {fail("dial tcp 10.0.0.5:80: connection refused")});
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(state().liveness_failed) << i;
    EXPECT_EQ(manager_.runDue(), 1u);
    clock_.advance(seconds(10));  // the default period
  }
  EXPECT_TRUE(state().liveness_failed);
  EXPECT_EQ(rec_.resyncs.size(), 1u);
  EXPECT_EQ(rec_.events.size(), 3u);
  EXPECT_EQ(rec_.events[0],
            "default/web|Warning|Unhealthy|Liveness probe failed: dial tcp 10.0.0.5:80: "
            "connection refused");
  // Held: the container is about to be restarted; no more probing of c1.
  clock_.advance(seconds(60));
  EXPECT_EQ(manager_.runDue(), 0u);
  EXPECT_TRUE(state().liveness_failed);
  EXPECT_EQ(rec_.resyncs.size(), 1u);

  // The restarted container (a new id) starts over.
  fake_.clear();
  manager_.updatePod("uid-1", {target("app", "c2", spec, clock_.now())});
  EXPECT_FALSE(state("app", "c2").liveness_failed);
  EXPECT_FALSE(state("app", "c1").liveness_failed);  // the old id is gone
  EXPECT_EQ(manager_.runDue(), 1u);
  ASSERT_EQ(fake_.calls().size(), 1u);
  EXPECT_EQ(fake_.calls()[0].container_id, "c2");
  EXPECT_FALSE(state("app", "c2").liveness_failed);  // 1 of 3 again
}

TEST_F(ProbeManagerTest, StartupGatesLivenessAndReadiness) {
  manager_.updatePod("uid-1", {target("app", "c1", parseObject(R"({
      "startupProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 5},
      "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 10},
      "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5}})"))});
  EXPECT_FALSE(state().started);
  EXPECT_FALSE(state().ready);
  EXPECT_FALSE(state().startup_failed);
  fake_.script("app", ProbeKind::kStartup, {fail("not yet"), kOk});

  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_EQ(fake_.kinds(), (std::vector<ProbeKind>{ProbeKind::kStartup}));
  EXPECT_FALSE(state().started);
  EXPECT_TRUE(rec_.resyncs.empty());
  EXPECT_EQ(
      rec_.events,
      (std::vector<std::string>{"default/web|Warning|Unhealthy|Startup probe failed: not yet"}));

  // Startup succeeds; readiness and liveness become due at once and run.
  clock_.advance(seconds(1));
  EXPECT_EQ(manager_.runDue(), 3u);
  auto kinds = fake_.kinds();
  ASSERT_EQ(kinds.size(), 4u);
  EXPECT_EQ(kinds[1], ProbeKind::kStartup);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), ProbeKind::kReadiness), 1);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), ProbeKind::kLiveness), 1);
  EXPECT_TRUE(state().started);
  EXPECT_TRUE(state().ready);
  // One resync for the startup change, one for readiness.
  EXPECT_EQ(rec_.resyncs.size(), 2u);

  // Startup is done for this container; the others keep their periods.
  fake_.clear();
  clock_.advance(seconds(5));
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_EQ(fake_.kinds(), (std::vector<ProbeKind>{ProbeKind::kReadiness}));
  clock_.advance(seconds(5));
  EXPECT_EQ(manager_.runDue(), 2u);
}

TEST_F(ProbeManagerTest, StartupFailureHeldAndLivenessNeverRuns) {
  manager_.updatePod("uid-1", {target("app", "c1", parseObject(R"({
      "startupProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1, "failureThreshold": 2},
      "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1}})"))});
  fake_.script("app", ProbeKind::kStartup, {fail("refused")});
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_FALSE(state().startup_failed);
  clock_.advance(seconds(1));
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_TRUE(state().startup_failed);
  EXPECT_FALSE(state().started);
  EXPECT_FALSE(state().liveness_failed);
  EXPECT_EQ(rec_.resyncs.size(), 1u);
  clock_.advance(seconds(30));
  EXPECT_EQ(manager_.runDue(), 0u);
  EXPECT_EQ(fake_.kinds(), (std::vector<ProbeKind>{ProbeKind::kStartup, ProbeKind::kStartup}));
}

TEST_F(ProbeManagerTest, InitialDelayCountsFromTheContainerStart) {
  auto spec =
      parseObject(R"({"readinessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 5}})");
  manager_.updatePod("uid-1", {target("app", "c1", spec)});
  EXPECT_EQ(manager_.runDue(), 0u);
  clock_.advance(seconds(4));
  EXPECT_EQ(manager_.runDue(), 0u);
  EXPECT_FALSE(state().ready);
  clock_.advance(seconds(1));
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_TRUE(state().ready);

  // A container that started long ago (the agent restarted) is probed at once.
  manager_.updatePod("uid-1", {target("app", "c1", spec),
                               target("old", "c9", spec, kT0 - std::chrono::minutes(5))});
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_EQ(fake_.calls().back().container_id, "c9");
  EXPECT_TRUE(state("old", "c9").ready);
}

TEST_F(ProbeManagerTest, RestartStartsOverAndGoneContainersAreDropped) {
  auto spec = parseObject(
      R"({"readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1, "successThreshold": 2}})");
  manager_.updatePod("uid-1", {target("app", "c1", spec), target("side", "s1", spec)});
  EXPECT_EQ(manager_.probeCount(), 2u);
  EXPECT_EQ(manager_.runDue(), 2u);
  clock_.advance(seconds(1));
  EXPECT_EQ(manager_.runDue(), 2u);
  EXPECT_TRUE(state("app", "c1").ready);
  EXPECT_TRUE(state("side", "s1").ready);

  // app restarted as c2; side is gone. The same update for app keeps its state.
  manager_.updatePod("uid-1", {target("app", "c2", spec, clock_.now())});
  EXPECT_EQ(manager_.probeCount(), 1u);
  EXPECT_FALSE(state("app", "c2").ready);
  EXPECT_TRUE(state("side", "s1").ready);  // not known any more: the defaults
  fake_.clear();
  clock_.advance(seconds(1));
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_FALSE(state("app", "c2").ready);  // thresholds count anew
  manager_.updatePod("uid-1", {target("app", "c2", spec, clock_.now())});
  clock_.advance(seconds(1));
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_TRUE(state("app", "c2").ready);
  for (const auto& c : fake_.calls()) EXPECT_EQ(c.container_id, "c2");
}

TEST_F(ProbeManagerTest, RemovePodStopsItsProbes) {
  auto spec = parseObject(R"({"livenessProbe": {"tcpSocket": {"port": 80}}})");
  manager_.updatePod("uid-1", {target("app", "c1", spec)});
  auto other = target("app", "d1", spec);
  other.pod_uid = "uid-2";
  other.pod_key = "default/other";
  manager_.updatePod("uid-2", {other});
  EXPECT_EQ(manager_.probeCount(), 2u);
  manager_.removePod("uid-1");
  EXPECT_EQ(manager_.probeCount(), 1u);
  EXPECT_EQ(manager_.runDue(), 1u);
  EXPECT_EQ(fake_.calls()[0].container_id, "d1");
  // An empty running set removes the pod too.
  manager_.updatePod("uid-2", {});
  EXPECT_EQ(manager_.probeCount(), 0u);
  clock_.advance(seconds(100));
  EXPECT_EQ(manager_.runDue(), 0u);
  EXPECT_EQ(manager_.state("uid-2", "app", "d1"), ContainerProbes{});
}

TEST_F(ProbeManagerTest, ContainersWithoutProbesAndUnknownContainers) {
  manager_.updatePod("uid-1", {target("plain", "p1", json::object{})});
  EXPECT_EQ(manager_.probeCount(), 0u);
  EXPECT_EQ(manager_.runDue(), 0u);
  ContainerProbes defaults = state("plain", "p1");
  EXPECT_TRUE(defaults.ready);
  EXPECT_TRUE(defaults.started);
  EXPECT_FALSE(defaults.liveness_failed);
  EXPECT_FALSE(defaults.startup_failed);
  EXPECT_EQ(manager_.state("nope", "x", "y"), ContainerProbes{});
  // A known name asked with an id the manager has not seen: its probes' initial state.
  manager_.updatePod("uid-1", {target("app", "c1", parseObject(R"({
      "startupProbe": {"tcpSocket": {"port": 80}},
      "readinessProbe": {"tcpSocket": {"port": 80}}})"))});
  auto fresh = state("app", "other-id");
  EXPECT_FALSE(fresh.started);
  EXPECT_FALSE(fresh.ready);
}

TEST_F(ProbeManagerTest, WarningsCountAsSuccessAndErrorsAreRetriedNotCounted) {
  manager_.updatePod("uid-1", {target("app", "c1", parseObject(R"({
      "readinessProbe": {"httpGet": {"port": 80}, "periodSeconds": 1},
      "livenessProbe": {"exec": {"command": ["x"]}, "periodSeconds": 1, "failureThreshold": 1}})"))});
  fake_.script("app", ProbeKind::kReadiness,
               {{ProbeResult::kWarning, "Probe terminated redirects, Response body: "}});
  fake_.script("app", ProbeKind::kLiveness, {{ProbeResult::kUnknown, "container not running"}});
  EXPECT_EQ(manager_.runDue(), 2u);
  EXPECT_TRUE(state().ready);
  EXPECT_FALSE(state().liveness_failed);  // errors are not failures
  auto kinds = fake_.kinds();
  // upstream's maxProbeRetries: an errored run is tried 3 times.
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), ProbeKind::kLiveness), 3);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), ProbeKind::kReadiness), 1);
  std::vector<std::string> events = rec_.events;
  std::sort(events.begin(), events.end());
  EXPECT_EQ(events, (std::vector<std::string>{
                        "default/web|Warning|ProbeWarning|Readiness probe warning: Probe "
                        "terminated redirects, Response body: ",
                        "default/web|Warning|Unhealthy|Liveness probe errored and resulted in "
                        "unknown state: container not running"}));
  // The errored liveness still waits its period.
  clock_.advance(milliseconds(500));
  EXPECT_EQ(manager_.runDue(), 0u);
  // A failure after the errors fails it (threshold 1).
  fake_.script("app", ProbeKind::kLiveness, {fail("exit 1")});
  clock_.advance(milliseconds(500));
  EXPECT_EQ(manager_.runDue(), 2u);
  EXPECT_TRUE(state().liveness_failed);
}

TEST_F(ProbeManagerTest, RunnerGetsTheProbeAndItsTimeout) {
  manager_.updatePod("uid-1", {target("app", "c1", parseObject(R"({
      "livenessProbe": {"grpc": {"port": 9000}, "timeoutSeconds": 3}})"))});
  EXPECT_EQ(manager_.runDue(), 1u);
  auto calls = fake_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].timeout, milliseconds(3000));
  EXPECT_EQ(calls[0].kind, ProbeKind::kLiveness);
  EXPECT_EQ(api::intAt(calls[0].probe, {"grpc", "port"}), 9000);
}

TEST_F(ProbeManagerTest, NoResyncWithoutAChange) {
  manager_.updatePod("uid-1", {target("app", "c1", parseObject(R"({
      "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1},
      "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1}})"))});
  fake_.script("app", ProbeKind::kReadiness, {fail("no")});
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(manager_.runDue(), 2u);
    clock_.advance(seconds(1));
  }
  // Readiness failing from the start and liveness succeeding change nothing.
  EXPECT_TRUE(rec_.resyncs.empty());
  EXPECT_FALSE(state().ready);
  EXPECT_EQ(rec_.events.size(), 5u);
}

TEST_F(ProbeManagerTest, StopLivenessAndStartupForATerminatingPod) {
  manager_.updatePod("uid-1", {target("app", "c1", parseObject(R"({
      "startupProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1},
      "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1, "failureThreshold": 1},
      "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1}})"))});
  fake_.script("app", ProbeKind::kStartup, {fail("slow start")});
  fake_.script("app", ProbeKind::kLiveness, {fail("dead")});
  EXPECT_EQ(manager_.runDue(), 1u);
  manager_.stopLivenessAndStartup("uid-1");
  EXPECT_TRUE(state().started);  // upstream's quiet shutdown: success
  EXPECT_FALSE(state().liveness_failed);
  fake_.clear();
  clock_.advance(seconds(1));
  EXPECT_EQ(manager_.runDue(), 1u);  // readiness alone
  EXPECT_EQ(fake_.kinds(), (std::vector<ProbeKind>{ProbeKind::kReadiness}));
  EXPECT_FALSE(state().liveness_failed);
  EXPECT_TRUE(state().ready);
}

// ---------------------------------------------------------------------------
// makeProbeRunner against loopback servers.

// A loopback server: HTTP answers by path ("/ok" 200, else 500); a
// connection that sends nothing (tcpSocket) is just closed.
class LoopbackServer {
 public:
  LoopbackServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(::listen(fd_, 16), 0);
    thread_ = std::thread([this] { loop(); });
  }
  ~LoopbackServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::string lastRequest() {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  void loop() {
    while (true) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      if (req.compare(0, 4, "GET ") == 0) {
        {
          std::lock_guard lock(mu_);
          last_ = req;
        }
        std::string path = req.substr(4, req.find(' ', 4) - 4);
        std::string resp = path == "/ok" ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                                         : "HTTP/1.1 500 Internal Server Error\r\n\r\nbroken";
        ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string last_;
};

int closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

ProbeTarget loopbackTarget(int port) {
  json::object container;
  container["ports"] = json::array{json::object{{"name", "web"}, {"containerPort", port}}};
  auto t = target("app", "c1", container);
  t.pod_ip = "127.0.0.1";
  return t;
}

TEST(ProbeRunnerTest, TcpWithNamedPortAndPodIp) {
  LoopbackServer server;
  auto run = makeProbeRunner(nullptr);
  auto t = loopbackTarget(server.port());
  auto ok = run(t, ProbeKind::kLiveness, parseObject(R"({"tcpSocket": {"port": "web"}})"),
                milliseconds(1000));
  EXPECT_EQ(ok.result, ProbeResult::kSuccess) << ok.output;
  // A number written as a string is a port too.
  json::object numeric{{"tcpSocket", json::object{{"port", std::to_string(server.port())}}}};
  EXPECT_EQ(run(t, ProbeKind::kLiveness, numeric, milliseconds(1000)).result,
            ProbeResult::kSuccess);
  json::object refused{{"tcpSocket", json::object{{"port", closedPort()}}}};
  auto failed = run(t, ProbeKind::kLiveness, refused, milliseconds(1000));
  EXPECT_EQ(failed.result, ProbeResult::kFailure);
  EXPECT_NE(failed.output.find("connection refused"), std::string::npos) << failed.output;
}

TEST(ProbeRunnerTest, PortsThatDoNotResolveAreErrors) {
  auto run = makeProbeRunner(nullptr);
  auto t = loopbackTarget(8080);
  auto unnamed = run(t, ProbeKind::kReadiness, parseObject(R"({"tcpSocket": {"port": "metrics"}})"),
                     milliseconds(1000));
  EXPECT_EQ(unnamed.result, ProbeResult::kUnknown);
  EXPECT_EQ(unnamed.output, "strconv.Atoi: parsing \"metrics\": invalid syntax");
  auto range = run(t, ProbeKind::kReadiness, parseObject(R"({"httpGet": {"port": 70000}})"),
                   milliseconds(1000));
  EXPECT_EQ(range.result, ProbeResult::kUnknown);
  EXPECT_EQ(range.output, "invalid port number: 70000");
  EXPECT_EQ(*resolveContainerPort(&t.container.at("ports").as_array()[0].as_object().at("name"),
                                  t.container),
            8080);
  auto none =
      run(t, ProbeKind::kReadiness, parseObject(R"({"periodSeconds": 3})"), milliseconds(1000));
  EXPECT_EQ(none.result, ProbeResult::kUnknown);
  EXPECT_EQ(none.output, "missing probe handler for web_default(uid-1):app");
}

TEST(ProbeRunnerTest, HttpDefaultsToPodIpAndSendsHeaders) {
  LoopbackServer server;
  auto run = makeProbeRunner(nullptr);
  auto t = loopbackTarget(server.port());
  auto ok = run(t, ProbeKind::kReadiness, parseObject(R"({"httpGet": {"path": "/ok",
      "port": "web", "httpHeaders": [{"name": "X-Probe", "value": "yes"}]}})"),
                milliseconds(1000));
  EXPECT_EQ(ok.result, ProbeResult::kSuccess) << ok.output;
  std::string req = server.lastRequest();
  EXPECT_NE(req.find("GET /ok HTTP/1.1\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("X-Probe: yes\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("Host: 127.0.0.1:" + std::to_string(server.port())), std::string::npos) << req;
  auto bad = run(t, ProbeKind::kReadiness,
                 parseObject(R"({"httpGet": {"path": "/bad", "port": "web", "scheme": "HTTP"}})"),
                 milliseconds(1000));
  EXPECT_EQ(bad.result, ProbeResult::kFailure);
  EXPECT_EQ(bad.output, "HTTP probe failed with statuscode: 500");
  // An explicit host wins over the pod IP.
  t.pod_ip = "";
  json::object explicit_host{
      {"httpGet", json::object{{"host", "127.0.0.1"}, {"path", "/ok"}, {"port", server.port()}}}};
  EXPECT_EQ(run(t, ProbeKind::kLiveness, explicit_host, milliseconds(1000)).result,
            ProbeResult::kSuccess);
}

TEST(ProbeRunnerTest, ExecRunsInTheContainerWithStaticEnvExpansion) {
  std::vector<std::string> ids;
  std::vector<std::string> command;
  milliseconds timeout{0};
  Result<ExecRun> answer = ExecRun{1, "unhealthy\n", "", false};
  auto run = makeProbeRunner([&](const std::string& id) -> ExecRunner {
    ids.push_back(id);
    return [&](const std::vector<std::string>& c, milliseconds t, size_t) {
      command = c;
      timeout = t;
      return answer;
    };
  });
  json::object container = parseObject(R"({"env": [{"name": "FILE", "value": "/tmp/healthy"},
      {"name": "FROM", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]})");
  auto t = target("app", "c7", container);
  auto probe = parseObject(
      R"j({"exec": {"command": ["cat", "$(FILE)", "$(FROM)", "$(UNSET)", "$$(FILE)"]}})j");
  auto out = run(t, ProbeKind::kLiveness, probe, milliseconds(2000));
  EXPECT_EQ(out.result, ProbeResult::kFailure);
  EXPECT_EQ(out.output, "unhealthy\n");
  EXPECT_EQ(ids, (std::vector<std::string>{"c7"}));
  EXPECT_EQ(command, (std::vector<std::string>{"cat", "/tmp/healthy", "", "$(UNSET)", "$(FILE)"}));
  EXPECT_EQ(timeout, milliseconds(2000));
  // A runner that cannot exec (the container is gone) is an error, not a failure.
  answer = makeError(ErrorCode::kNotFound, "container c7 not found");
  auto gone = run(t, ProbeKind::kLiveness, probe, milliseconds(2000));
  EXPECT_EQ(gone.result, ProbeResult::kUnknown);
  EXPECT_EQ(gone.output, "container c7 not found");
  auto none = makeProbeRunner(nullptr)(t, ProbeKind::kLiveness, probe, milliseconds(1000));
  EXPECT_EQ(none.result, ProbeResult::kUnknown);
}

// ---------------------------------------------------------------------------
// Run mode: real threads, a real clock, outcomes only.

TEST(ProbeManagerRunTest, ABlockedProbeDoesNotHoldUpAnother) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int slow_calls = 0, fast_calls = 0;
  ProbeRunner runner = [&](const ProbeTarget& t, ProbeKind, const json::object&, milliseconds) {
    std::unique_lock lock(mu);
    if (t.container_name == "slow") {
      ++slow_calls;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      return ProbeOutcome{ProbeResult::kSuccess, ""};
    }
    ++fast_calls;
    cv.notify_all();
    return ProbeOutcome{ProbeResult::kSuccess, ""};
  };
  std::vector<std::string> resyncs;
  ProbeManager::Callbacks callbacks;
  callbacks.resync = [&](const std::string& pod) {
    std::lock_guard lock(mu);
    resyncs.push_back(pod);
    cv.notify_all();
  };
  ProbeManager manager(RealClock::instance(), runner, callbacks, 2);
  // Declared after the manager so that a failed assertion releases the
  // blocked probe before the manager's destructor waits for it.
  struct Releaser {
    std::mutex& mu;
    std::condition_variable& cv;
    bool& release;
    ~Releaser() {
      {
        std::lock_guard lock(mu);
        release = true;
      }
      cv.notify_all();
    }
  } releaser{mu, cv, release};
  auto spec =
      parseObject(R"({"readinessProbe": {"exec": {"command": ["x"]}, "periodSeconds": 1}})");
  auto now = std::chrono::system_clock::now();
  manager.updatePod("uid-1", {target("slow", "s1", spec, now), target("fast", "f1", spec, now)});
  manager.start();
  {
    std::unique_lock lock(mu);
    // The fast probe runs again a period later while the slow one is still
    // blocked in its first run.
    ASSERT_TRUE(cv.wait_for(
        lock, seconds(20), [&] { return fast_calls >= 2 && slow_calls >= 1 && !resyncs.empty(); }));
    EXPECT_EQ(slow_calls, 1);  // a probe in flight is not started twice
    EXPECT_EQ(resyncs, (std::vector<std::string>{"default/web"}));
  }
  EXPECT_TRUE(manager.state("uid-1", "fast", "f1").ready);
  EXPECT_FALSE(manager.state("uid-1", "slow", "s1").ready);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(20), [&] { return resyncs.size() >= 2; }));
  }
  EXPECT_TRUE(manager.state("uid-1", "slow", "s1").ready);
  manager.stop();
  manager.stop();  // idempotent
  // Started again, probing carries on where it was.
  int before;
  {
    std::lock_guard lock(mu);
    before = fast_calls;
  }
  manager.start();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(20), [&] { return fast_calls > before; }));
  }
  manager.stop();
  EXPECT_TRUE(manager.state("uid-1", "fast", "f1").ready);
}

}  // namespace
}  // namespace berth::agent::probe
