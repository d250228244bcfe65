#include "agent/probe/probe_manager.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>

#include "agent/container_env.h"
#include "agent/probe/grpc_prober.h"
#include "api/kinds/access.h"
#include "common/log.h"

namespace berth::agent::probe {

namespace json = boost::json;
using TimePoint = std::chrono::system_clock::time_point;

namespace {

// upstream's maxProbeRetries: an errored run is tried this many times.
constexpr int kMaxProbeRetries = 3;

const char* specField(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kLiveness:
      return "livenessProbe";
    case ProbeKind::kReadiness:
      return "readinessProbe";
    case ProbeKind::kStartup:
      return "startupProbe";
  }
  return "";
}

const json::object* probeSpec(const ProbeTarget& target, ProbeKind kind) {
  return api::objAt(target.container, {specField(kind)});
}

// format.Pod: "name_namespace(uid)".
std::string podDescription(const ProbeTarget& t) {
  auto slash = t.pod_key.find('/');
  std::string ns = slash == std::string::npos ? "" : t.pod_key.substr(0, slash);
  std::string name = slash == std::string::npos ? t.pod_key : t.pod_key.substr(slash + 1);
  return name + "_" + ns + "(" + t.pod_uid + ")";
}

// kubecontainer.ExpandContainerCommandOnlyStatic: $(VAR) against the
// container's env list, each entry by its literal value (valueFrom ones are
// empty), later entries winning.
std::vector<std::string> expandStatic(const std::vector<std::string>& command,
                                      const json::object& container) {
  std::map<std::string, std::string, std::less<>> env;
  if (const json::array* list = api::arrAt(container, {"env"})) {
    for (const auto& v : *list) {
      const json::object* e = api::asObj(&v);
      if (!e) continue;
      env[api::strAt(*e, {"name"})] = api::strAt(*e, {"value"});
    }
  }
  std::vector<std::string> out;
  out.reserve(command.size());
  for (const auto& arg : command) {
    out.push_back(expandVars(arg, [&](std::string_view name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    }));
  }
  return out;
}

ProbeOutcome errored(std::string message) { return {ProbeResult::kUnknown, std::move(message)}; }

}  // namespace

const char* probeKindName(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kLiveness:
      return "Liveness";
    case ProbeKind::kReadiness:
      return "Readiness";
    case ProbeKind::kStartup:
      return "Startup";
  }
  return "UNKNOWN";
}

Result<int> resolveContainerPort(const json::value* port, const json::object& container) {
  long long value = -1;
  if (port && (port->is_int64() || port->is_uint64())) {
    value = port->is_int64() ? port->as_int64() : static_cast<long long>(port->as_uint64());
  } else if (port && port->is_string()) {
    std::string name(port->as_string());
    bool found = false;
    if (const json::array* ports = api::arrAt(container, {"ports"})) {
      for (const auto& p : *ports) {
        const json::object* po = api::asObj(&p);
        if (po && api::strAt(*po, {"name"}) == name) {
          value = api::intAt(*po, {"containerPort"}).value_or(0);
          found = true;
          break;
        }
      }
    }
    if (!found) {
      // "Last ditch effort - maybe it was an int stored as string?", with
      // strconv.Atoi's error text when it is not.
      auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
      if (name.empty() || ec != std::errc() || end != name.data() + name.size())
        return makeError(ErrorCode::kInvalid,
                         "strconv.Atoi: parsing \"" + name + "\": invalid syntax");
    }
  } else {
    return makeError(ErrorCode::kInvalid, "intOrString had no kind: " +
                                              (port ? json::serialize(*port) : std::string("{}")));
  }
  if (value > 0 && value < 65536) return static_cast<int>(value);
  return makeError(ErrorCode::kInvalid, "invalid port number: " + std::to_string(value));
}

// upstream's prober.runProbe: one handler, the pod IP unless the probe names
// a host.
Result<HttpProbe> httpProbeOf(const json::object& http, const json::object& container,
                              const std::string& pod_ip) {
  BERTH_ASSIGN_OR_RETURN(int port, resolveContainerPort(api::at(http, {"port"}), container));
  HttpProbe p;
  p.scheme = api::strAt(http, {"scheme"}, "HTTP");
  for (auto& c : p.scheme) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  p.host = api::strAt(http, {"host"});
  if (p.host.empty()) p.host = pod_ip;
  p.port = port;
  p.path = api::strAt(http, {"path"});
  if (const json::array* headers = api::arrAt(http, {"httpHeaders"})) {
    for (const auto& h : *headers) {
      const json::object* ho = api::asObj(&h);
      if (ho) p.headers.emplace_back(api::strAt(*ho, {"name"}), api::strAt(*ho, {"value"}));
    }
  }
  return p;
}

ProbeRunner makeProbeRunner(
    std::function<ExecRunner(const std::string& container_id)> exec_runner) {
  return [exec_runner = std::move(exec_runner)](const ProbeTarget& target, ProbeKind,
                                                const json::object& probe,
                                                std::chrono::milliseconds timeout) -> ProbeOutcome {
    if (const json::object* exec = api::objAt(probe, {"exec"})) {
      std::vector<std::string> command;
      if (const json::array* cmd = api::arrAt(*exec, {"command"}))
        for (const auto& a : *cmd) command.push_back(api::asStr(&a));
      if (!exec_runner) return errored("no exec runner for container " + target.container_id);
      ExecRunner run = exec_runner(target.container_id);
      if (!run) return errored("no exec runner for container " + target.container_id);
      return probeExec(run, expandStatic(command, target.container), timeout);
    }
    if (const json::object* http = api::objAt(probe, {"httpGet"})) {
      auto p = httpProbeOf(*http, target.container, target.pod_ip);
      if (!p.ok()) return errored(p.error().message);
      return probeHttp(*p, timeout);
    }
    if (const json::object* tcp = api::objAt(probe, {"tcpSocket"})) {
      auto port = resolveContainerPort(api::at(*tcp, {"port"}), target.container);
      if (!port.ok()) return errored(port.error().message);
      std::string host = api::strAt(*tcp, {"host"});
      if (host.empty()) host = target.pod_ip;
      return probeTcp(host, *port, timeout);
    }
    if (const json::object* grpc = api::objAt(probe, {"grpc"})) {
      // gRPC ports are numbers only and always dial the pod IP.
      int port = static_cast<int>(api::intAt(*grpc, {"port"}).value_or(0));
      return probeGrpc(target.pod_ip, port, api::strAt(*grpc, {"service"}), timeout);
    }
    return errored("missing probe handler for " + podDescription(target) + ":" +
                   target.container_name);
  };
}

// ---------------------------------------------------------------------------

ProbeManager::Probe* ProbeManager::Container::find(ProbeKind kind) {
  for (auto& p : probes)
    if (p.kind == kind) return &p;
  return nullptr;
}

const ProbeManager::Probe* ProbeManager::Container::find(ProbeKind kind) const {
  for (const auto& p : probes)
    if (p.kind == kind) return &p;
  return nullptr;
}

ProbeManager::ProbeManager(Clock& clock, ProbeRunner runner, Callbacks callbacks, int threads)
    : clock_(clock),
      runner_(std::move(runner)),
      callbacks_(std::move(callbacks)),
      threads_(std::max(1, threads)) {}

ProbeManager::~ProbeManager() { stop(); }

ProbeManager::ContainerPtr ProbeManager::makeContainer(const ProbeTarget& target) {
  auto c = std::make_shared<Container>();
  c->target = std::make_shared<const ProbeTarget>(target);
  // upstream's AddPod creates the startup worker first; liveness and
  // readiness wait for it.
  const bool has_startup = probeSpec(target, ProbeKind::kStartup) != nullptr;
  c->probes.reserve(3);
  for (ProbeKind kind : {ProbeKind::kStartup, ProbeKind::kReadiness, ProbeKind::kLiveness}) {
    const json::object* spec = probeSpec(target, kind);
    if (!spec) continue;
    Probe& p = c->probes.emplace_back(kind, probeTiming(*spec));
    p.worker.containerStarted(target.container_id, target.started_at);
    if (kind != ProbeKind::kStartup) p.worker.setStartupDone(!has_startup);
  }
  return c;
}

// upstream's UpdatePodStatus over the results cache: started from the
// startup result (true without a startup probe), ready only once started.
ContainerProbes ProbeManager::derive(const Container& c) {
  ContainerProbes s;
  if (const Probe* p = c.find(ProbeKind::kStartup); p && !p->stopped) {
    s.started = p->worker.result() == ProbeResult::kSuccess;
    s.startup_failed = p->worker.result() == ProbeResult::kFailure;
  }
  if (const Probe* p = c.find(ProbeKind::kReadiness))
    s.ready = p->worker.result() == ProbeResult::kSuccess;
  if (!s.started) s.ready = false;
  if (const Probe* p = c.find(ProbeKind::kLiveness); p && !p->stopped)
    s.liveness_failed = p->worker.result() == ProbeResult::kFailure;
  return s;
}

void ProbeManager::updatePod(const std::string& pod_uid, const std::vector<ProbeTarget>& running) {
  std::lock_guard lock(mu_);
  auto& current = pods_[pod_uid];
  std::map<std::string, ContainerPtr> next;
  for (const auto& t : running) {
    if (!probeSpec(t, ProbeKind::kLiveness) && !probeSpec(t, ProbeKind::kReadiness) &&
        !probeSpec(t, ProbeKind::kStartup))
      continue;
    auto it = current.find(t.container_name);
    if (it != current.end() && it->second->target->container_id == t.container_id) {
      ContainerPtr c = it->second;
      // Same container: its state carries on; a changed address is taken
      // for the next runs.
      if (c->target->pod_ip != t.pod_ip || c->target->pod_key != t.pod_key) {
        auto target = std::make_shared<ProbeTarget>(*c->target);
        target->pod_ip = t.pod_ip;
        target->pod_key = t.pod_key;
        c->target = std::move(target);
      }
      next[t.container_name] = std::move(c);
    } else {
      next[t.container_name] = makeContainer(t);
    }
  }
  if (next.empty()) {
    pods_.erase(pod_uid);
  } else {
    current = std::move(next);
  }
  timer_cv_.notify_one();
}

void ProbeManager::removePod(const std::string& pod_uid) {
  std::lock_guard lock(mu_);
  pods_.erase(pod_uid);
  timer_cv_.notify_one();
}

void ProbeManager::stopLivenessAndStartup(const std::string& pod_uid) {
  std::lock_guard lock(mu_);
  auto pod = pods_.find(pod_uid);
  if (pod == pods_.end()) return;
  for (auto& [name, c] : pod->second) {
    bool startup_stopped = false;
    for (auto& p : c->probes) {
      if (p.kind == ProbeKind::kReadiness || p.stopped) continue;
      // upstream's worker sets a last result of success "to ensure quiet
      // shutdown" and stops; derive() reads a stopped probe as success.
      p.stopped = true;
      startup_stopped |= p.kind == ProbeKind::kStartup;
    }
    if (startup_stopped)
      for (auto& p : c->probes)
        if (p.kind != ProbeKind::kStartup) p.worker.setStartupDone(true);
  }
  timer_cv_.notify_one();
}

ContainerProbes ProbeManager::state(const std::string& pod_uid, const std::string& container_name,
                                    const std::string& container_id) const {
  std::lock_guard lock(mu_);
  auto pod = pods_.find(pod_uid);
  if (pod == pods_.end()) return {};
  auto it = pod->second.find(container_name);
  if (it == pod->second.end()) return {};
  if (it->second->target->container_id == container_id) return derive(*it->second);
  // Another container of that name: its probes as they start.
  ProbeTarget other = *it->second->target;
  other.container_id = container_id;
  return derive(*makeContainer(other));
}

size_t ProbeManager::probeCount() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [uid, containers] : pods_)
    for (const auto& [name, c] : containers) n += c->probes.size();
  return n;
}

bool ProbeManager::isCurrent(const ContainerPtr& c) const {
  auto pod = pods_.find(c->target->pod_uid);
  if (pod == pods_.end()) return false;
  auto it = pod->second.find(c->target->container_name);
  return it != pod->second.end() && it->second == c;
}

std::vector<ProbeManager::Job> ProbeManager::collectDue(TimePoint now,
                                                        std::optional<TimePoint>* next) {
  std::vector<std::pair<TimePoint, Job>> due;
  for (auto& [uid, containers] : pods_) {
    for (auto& [name, c] : containers) {
      for (auto& p : c->probes) {
        if (p.in_flight || p.on_hold || p.stopped) continue;
        std::optional<TimePoint> at = p.worker.nextRun();
        if (!at) continue;
        if (*at > now) {
          if (!*next || *at < **next) *next = *at;
          continue;
        }
        p.in_flight = true;
        due.emplace_back(*at, Job{c, p.kind, c->target,
                                  std::chrono::seconds(p.worker.timing().timeout_seconds)});
      }
    }
  }
  // Longest overdue first, so a backlog drains in schedule order.
  std::stable_sort(due.begin(), due.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Job> jobs;
  jobs.reserve(due.size());
  for (auto& [at, job] : due) jobs.push_back(std::move(job));
  return jobs;
}

// upstream's runProbeWithRetries: an errored run is retried at once.
ProbeOutcome ProbeManager::runWithRetries(const Job& job) {
  const json::object* spec = probeSpec(*job.target, job.kind);
  if (!spec) return errored("no " + std::string(specField(job.kind)));
  ProbeOutcome outcome;
  for (int i = 0; i < kMaxProbeRetries; ++i) {
    try {
      outcome = runner_(*job.target, job.kind, *spec, job.timeout);
    } catch (const std::exception& e) {
      // Like upstream's worker, a crashing probe does not stop probing.
      outcome = errored(std::string("probe panicked: ") + e.what());
    }
    if (outcome.result != ProbeResult::kUnknown) break;
  }
  return outcome;
}

ProbeManager::Notice ProbeManager::complete(const Job& job, const ProbeOutcome& outcome,
                                            TimePoint started) {
  Notice notice;
  std::lock_guard lock(mu_);
  Probe* p = job.container->find(job.kind);
  p->in_flight = false;
  // A container removed or replaced while its probe ran: the result is
  // for a container nobody asks about.
  if (!isCurrent(job.container) || p->on_hold || p->stopped) return notice;
  notice.pod_key = job.container->target->pod_key;
  const std::string kind = probeKindName(job.kind);
  switch (outcome.result) {
    case ProbeResult::kFailure:
      notice.event_reason = "Unhealthy";
      notice.event_message = kind + " probe failed: " + outcome.output;
      break;
    case ProbeResult::kWarning:
      notice.event_reason = "ProbeWarning";
      notice.event_message = kind + " probe warning: " + outcome.output;
      break;
    case ProbeResult::kUnknown:
      notice.event_reason = "Unhealthy";
      notice.event_message =
          kind + " probe errored and resulted in unknown state: " + outcome.output;
      BERTH_LOG(kDebug, "probe") << "probe errored kind=" << probeKindName(job.kind)
                                 << " pod=" << notice.pod_key
                                 << " container=" << job.container->target->container_name
                                 << " error=" << outcome.output;
      break;
    case ProbeResult::kSuccess:
      break;
  }
  ContainerProbes before = derive(*job.container);
  std::optional<ProbeResult> changed = p->worker.record(outcome.result, started);
  if (changed) {
    if (job.kind == ProbeKind::kStartup && *changed == ProbeResult::kSuccess) {
      for (auto& other : job.container->probes)
        if (other.kind != ProbeKind::kStartup) other.worker.setStartupDone(true);
    }
    // upstream's worker: "The container fails a liveness/startup check, it
    // will need to be restarted. Stop probing until we see a new container
    // ID."
    if (job.kind != ProbeKind::kReadiness && *changed == ProbeResult::kFailure) p->on_hold = true;
    BERTH_LOG(kDebug, "probe") << "probe result changed kind=" << probeKindName(job.kind)
                               << " pod=" << notice.pod_key
                               << " container=" << job.container->target->container_name
                               << " result="
                               << (*changed == ProbeResult::kSuccess ? "success" : "failure");
  }
  notice.resync = derive(*job.container) != before;
  return notice;
}

void ProbeManager::deliver(const Notice& notice) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
  if (notice.event_reason && callbacks_.event)
    callbacks_.event(notice.pod_key, "Warning", *notice.event_reason, notice.event_message);
  if (notice.resync && callbacks_.resync) callbacks_.resync(notice.pod_key);
}

size_t ProbeManager::runDue() {
  size_t runs = 0;
  while (true) {
    TimePoint now = clock_.now();
    std::vector<Job> jobs;
    {
      std::lock_guard lock(mu_);
      std::optional<TimePoint> next;
      jobs = collectDue(now, &next);
    }
    if (jobs.empty()) return runs;
    for (const Job& job : jobs) {
      ProbeOutcome outcome = runWithRetries(job);
      deliver(complete(job, outcome, now));
      ++runs;
    }
  }
}

void ProbeManager::start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  timer_ = std::thread([this] { timerLoop(); });
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { workerLoop(); });
}

void ProbeManager::stop() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    stopping_ = true;
  }
  timer_cv_.notify_all();
  jobs_cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  for (auto& w : workers_) w.join();
  workers_.clear();
  std::lock_guard lock(mu_);
  // Jobs queued but never started: their probes run again after a restart.
  for (const Job& job : jobs_)
    if (Probe* p = job.container->find(job.kind)) p->in_flight = false;
  jobs_.clear();
  running_ = false;
  stopping_ = false;
}

// The worker.go run loop for every probe at once: sleep until the earliest
// next run (or an update / a finished run changes it), queue what is due.
void ProbeManager::timerLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    TimePoint now = clock_.now();
    std::optional<TimePoint> next;
    std::vector<Job> due = collectDue(now, &next);
    if (!due.empty()) {
      for (auto& job : due) jobs_.push_back(std::move(job));
      jobs_cv_.notify_all();
    }
    if (next) {
      // A relative wait on the steady clock: the wall clock may be stepped.
      timer_cv_.wait_for(lock, *next - now);
    } else {
      timer_cv_.wait(lock);
    }
  }
}

void ProbeManager::workerLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mu_);
      jobs_cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    TimePoint started = clock_.now();
    ProbeOutcome outcome = runWithRetries(job);
    Notice notice = complete(job, outcome, started);
    deliver(notice);
    // The probe's next run is due a period from now.
    timer_cv_.notify_one();
  }
}

}  // namespace berth::agent::probe
