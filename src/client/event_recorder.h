#pragma once

// Records core/v1 Events about objects, after client-go's record package:
// an Event names the involved object, a type (Normal / Warning), a reason
// and a message, and the reporting component. Repeats of the same event
// (same object, type, reason, message and source) within ten minutes are
// aggregated into one Event whose count and lastTimestamp grow, as
// client-go's EventCorrelator does, so a crash-looping pod or an
// unschedulable pod does not flood the store. Writes happen on the
// recorder's own thread; record() never blocks on the API.

#include <memory>
#include <string>

#include "client/client.h"
#include "common/clock.h"

namespace berth::client {

class EventRecorder {
 public:
  // component: source.component / reportingController, e.g. "default-scheduler".
  // host: source.host (a node name for agents), may be empty.
  EventRecorder(Client& client, Clock& clock, std::string component, std::string host = "");
  ~EventRecorder();  // flushes what is queued, then stops
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // type: "Normal" or "Warning". `involved` is the object the event is about
  // (its kind, apiVersion, namespace, name, uid, resourceVersion are used).
  void record(const Object& involved, const std::string& type, const std::string& reason, const std::string& message);
  // Waits until every event recorded so far has been written (tests, shutdown).
  void flush();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace berth::client
