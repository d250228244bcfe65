#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "common/result.h"

namespace berth {

// Milliseconds of steady time since it was made (or last lapped), for
// timing figures in debug logs.
class Stopwatch {
 public:
  double ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
        .count();
  }
  // The milliseconds since the previous lap (or the start), and a new lap.
  double lap() {
    auto now = std::chrono::steady_clock::now();
    double out = std::chrono::duration<double, std::milli>(now - start_).count();
    start_ = now;
    return out;
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Injectable wall clock. Components take a Clock& so tests can use FakeClock
// and advance time without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
};

class RealClock : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
  static RealClock& instance();
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point t = {}) : now_(t) {}
  std::chrono::system_clock::time_point now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void advance(std::chrono::nanoseconds d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }
  void set(std::chrono::system_clock::time_point t) {
    std::lock_guard lock(mu_);
    now_ = t;
  }

 private:
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point now_;
};

// RFC 3339 in UTC with seconds precision, as Kubernetes' metav1.Time: 2024-01-02T03:04:05Z.
std::string formatRfc3339(std::chrono::system_clock::time_point t);
// RFC 3339 with nanoseconds, as metav1.MicroTime / log timestamps use.
std::string formatRfc3339Nano(std::chrono::system_clock::time_point t);
std::string formatRfc3339Micro(std::chrono::system_clock::time_point t);
// Parses RFC 3339 (with optional fraction and zone offset). Returns false on bad input.
bool parseRfc3339(const std::string& s, std::chrono::system_clock::time_point* out);
// Human duration as kubectl prints ages: 5s, 3m2s, 2h, 4d...
std::string humanDuration(std::chrono::system_clock::duration d);

// time.ParseDuration: "1h30m", "90s", "1.5h", "300ms" (units ns us µs ms s
// m h). BadRequest with Go's message otherwise.
Result<std::chrono::nanoseconds> parseGoDuration(const std::string& s);

}  // namespace berth
