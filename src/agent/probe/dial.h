#pragma once

// TCP connections for the network probers (tcpSocket, httpGet, gRPC): by IP
// literal only (probes never resolve names), non-blocking connect bounded by
// a deadline, Go-style error texts ("dial tcp 10.0.0.5:80: connect:
// connection refused").

#include <chrono>
#include <string>

namespace berth::agent::probe {

using ProbeClock = std::chrono::steady_clock;

struct Dialed {
  int fd = -1;             // connected, non-blocking; -1 on failure
  bool timed_out = false;  // the deadline passed while connecting
  std::string error;       // the failure text
};

Dialed dialTcp(const std::string& host, int port, ProbeClock::time_point deadline);

// "10.0.0.5:80", "[fd00::5]:80".
std::string hostPort(const std::string& host, int port);
// strerror with Go's lower-case first letter.
std::string errnoText(int err);
// Milliseconds left until `deadline` (0 when past), for poll().
int remainingMs(ProbeClock::time_point deadline);

}  // namespace berth::agent::probe
