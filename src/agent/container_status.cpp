#include "agent/container_status.h"

#include <fstream>

#include "runtime/logs/cri_log.h"

namespace berth::agent {

namespace json = boost::json;

namespace {

json::object terminated(const Attempt& a) {
  json::object t{{"exitCode", a.exit_code}};
  if (a.signal) t["signal"] = a.signal;
  t["reason"] = a.reason.empty() ? (a.exit_code == 0 ? "Completed" : "Error") : a.reason;
  if (!a.message.empty()) t["message"] = a.message;
  t["startedAt"] = a.started_at.empty() ? json::value(nullptr) : json::value(a.started_at);
  t["finishedAt"] = a.finished_at.empty() ? json::value(nullptr) : json::value(a.finished_at);
  t["containerID"] = containerIdUri(a.id);
  return t;
}

}  // namespace

std::string terminationMessage(const std::string& message_file, const std::string& log_path,
                               const std::string& policy, int exit_code) {
  constexpr size_t kMaxFileBytes = 4096;
  constexpr size_t kMaxLogBytes = 2048;
  std::string message;
  if (!message_file.empty()) {
    std::ifstream in(message_file, std::ios::binary);
    message.resize(kMaxFileBytes);
    in.read(message.data(), static_cast<std::streamsize>(kMaxFileBytes));
    message.resize(static_cast<size_t>(in.gcount()));
  }
  if (!message.empty() || policy != "FallbackToLogsOnError" || exit_code == 0 || log_path.empty())
    return message;
  runtime::LogReadOptions o;
  o.tail_lines = 80;
  std::string tail;
  (void)runtime::readCriLog(
      log_path, o,
      [&](std::string_view c) {
        tail.append(c);
        return true;
      },
      nullptr);
  if (tail.size() > kMaxLogBytes) tail = tail.substr(tail.size() - kMaxLogBytes);
  return tail;
}

std::string containerIdUri(const std::string& id) { return "berth://" + id; }

json::object containerStatus(const ContainerView& v) {
  json::object state;
  if (!v.waiting_reason.empty() || !v.current) {
    json::object w{{"reason", v.waiting_reason.empty() ? "ContainerCreating" : v.waiting_reason}};
    if (!v.waiting_message.empty()) w["message"] = v.waiting_message;
    state["waiting"] = std::move(w);
  } else if (v.current->running) {
    state["running"] = json::object{{"startedAt", v.current->started_at}};
  } else {
    state["terminated"] = terminated(*v.current);
  }
  json::object last;
  // While waiting to restart, the attempt that ended is the last state; a
  // running or terminated container shows the one before it.
  const bool waiting_after_exit = !v.waiting_reason.empty() && v.current && !v.current->running;
  if (waiting_after_exit) {
    last["terminated"] = terminated(*v.current);
  } else if (v.previous && !v.previous->running) {
    last["terminated"] = terminated(*v.previous);
  }
  json::object s{
      {"name", v.name},   {"state", std::move(state)},       {"lastState", std::move(last)},
      {"ready", v.ready}, {"restartCount", v.restart_count}, {"image", v.image}};
  const Attempt* a = v.current ? &*v.current : nullptr;
  s["imageID"] = a ? a->image_id : "";
  if (a) s["containerID"] = containerIdUri(a->id);
  s["started"] = v.started;
  return s;
}

}  // namespace berth::agent
