#include "agent/probe/probe_worker.h"

#include <algorithm>

#include "api/object.h"

namespace berth::agent::probe {

namespace json = boost::json;

ProbeTiming probeTiming(const api::Object& probe) {
  ProbeTiming t;
  auto field = [&](const char* name, int fallback, int minimum) {
    const json::value* v = probe.if_contains(name);
    int value = v && v->is_int64() ? static_cast<int>(v->as_int64()) : fallback;
    return value < minimum ? fallback : value;
  };
  t.initial_delay_seconds = field("initialDelaySeconds", 0, 0);
  t.period_seconds = field("periodSeconds", 10, 1);
  t.timeout_seconds = field("timeoutSeconds", 1, 1);
  t.success_threshold = field("successThreshold", 1, 1);
  t.failure_threshold = field("failureThreshold", 3, 1);
  return t;
}

ProbeWorker::ProbeWorker(ProbeKind kind, ProbeTiming timing)
    : kind_(kind), timing_(timing), result_(initialResult()) {}

ProbeResult ProbeWorker::initialResult() const {
  switch (kind_) {
    case ProbeKind::kReadiness:
      return ProbeResult::kFailure;
    case ProbeKind::kLiveness:
      return ProbeResult::kSuccess;
    case ProbeKind::kStartup:
      return ProbeResult::kUnknown;
  }
  return ProbeResult::kUnknown;
}

void ProbeWorker::containerStarted(const std::string& container_id, TimePoint started) {
  if (container_id == container_id_ && started_) return;
  container_id_ = container_id;
  started_ = started;
  last_run_.reset();
  last_raw_.reset();
  run_ = 0;
  result_ = initialResult();
}

void ProbeWorker::containerStopped() {
  started_.reset();
  last_run_.reset();
  last_raw_.reset();
  run_ = 0;
  // A stopped container is not ready; liveness and startup keep nothing.
  result_ = initialResult();
}

std::optional<ProbeWorker::TimePoint> ProbeWorker::nextRun() const {
  if (!started_) return std::nullopt;
  if (kind_ != ProbeKind::kStartup && !startup_done_) return std::nullopt;
  // A startup probe that succeeded is done for this container.
  if (kind_ == ProbeKind::kStartup && result_ == ProbeResult::kSuccess) return std::nullopt;
  TimePoint first = *started_ + std::chrono::seconds(timing_.initial_delay_seconds);
  if (!last_run_) return first;
  return std::max(first, *last_run_ + std::chrono::seconds(timing_.period_seconds));
}

std::optional<ProbeResult> ProbeWorker::record(ProbeResult raw, TimePoint now) {
  last_run_ = now;
  if (raw == ProbeResult::kWarning)
    raw = ProbeResult::kSuccess;                          // upstream counts warnings as success
  if (raw == ProbeResult::kUnknown) return std::nullopt;  // an error: no change
  if (last_raw_ == raw) {
    ++run_;
  } else {
    last_raw_ = raw;
    run_ = 1;
  }
  if ((raw == ProbeResult::kFailure && run_ < timing_.failure_threshold) ||
      (raw == ProbeResult::kSuccess && run_ < timing_.success_threshold))
    return std::nullopt;
  if (raw == result_) return std::nullopt;
  result_ = raw;
  // Liveness and startup failures restart the container; a fresh count
  // starts with the next one (upstream resets resultRun after acting).
  if (raw == ProbeResult::kFailure && kind_ != ProbeKind::kReadiness) run_ = 0;
  return result_;
}

}  // namespace berth::agent::probe
