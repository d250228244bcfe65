#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/https_client.h"

namespace berth::bench {

struct PhaseResult {
  std::string name;
  long ops = 0;  // successful (2xx) requests
  long errors = 0;
  double seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::string first_error;
  double rate() const { return seconds > 0 ? ops / seconds : 0; }
};

// One operation of a closed loop: thread index and iteration in, HTTP
// status out; -1 for a transport error (message in *error); 0 when this
// thread has nothing more to do (e.g. every object it created is deleted).
using Operation = std::function<int(int thread, long iteration, client::HttpsClient& c, std::string* error)>;

// Closed loop: each client issues the next request when the previous one
// answered, for `seconds` or until every thread ran out of work.
PhaseResult runClosedLoop(const std::string& name, std::vector<std::unique_ptr<client::HttpsClient>>& clients,
                          double seconds, const Operation& op);

// Open loop: request k is due at start + k / rate, spread round-robin over
// the clients; latency is measured from the due time so a stalled server
// cannot hide its queueing (coordinated omission). `op` gets the global
// request index.
PhaseResult runOpenLoop(const std::string& name, std::vector<std::unique_ptr<client::HttpsClient>>& clients,
                        double seconds, double rate, const Operation& op);

double percentile(std::vector<double>& sorted_ms, double p);

}  // namespace berth::bench
