#include "bench/load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace berth::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct Recorder {
  std::mutex mu;
  std::vector<double> latencies_ms;
  long ops = 0;
  long errors = 0;
  std::string first_error;
  Clock::time_point last_done{};

  void merge(std::vector<double>& lat, long ok, long err, const std::string& first, Clock::time_point last) {
    std::lock_guard<std::mutex> lock(mu);
    latencies_ms.insert(latencies_ms.end(), lat.begin(), lat.end());
    ops += ok;
    errors += err;
    if (first_error.empty()) first_error = first;
    last_done = std::max(last_done, last);
  }

  PhaseResult finish(const std::string& name, double seconds) {
    PhaseResult r;
    r.name = name;
    r.ops = ops;
    r.errors = errors;
    r.seconds = seconds;
    r.first_error = first_error;
    std::sort(latencies_ms.begin(), latencies_ms.end());
    r.p50_ms = percentile(latencies_ms, 0.50);
    r.p99_ms = percentile(latencies_ms, 0.99);
    return r;
  }
};

void noteError(int status, const std::string& msg, std::string* first) {
  if (!first->empty()) return;
  *first = status < 0 ? msg : "HTTP " + std::to_string(status) + ": " + msg.substr(0, 300);
}

}  // namespace

double percentile(std::vector<double>& sorted_ms, double p) {
  if (sorted_ms.empty()) return 0;
  size_t i = static_cast<size_t>(p * (sorted_ms.size() - 1) + 0.5);
  return sorted_ms[std::min(i, sorted_ms.size() - 1)];
}

PhaseResult runClosedLoop(const std::string& name, std::vector<std::unique_ptr<client::HttpsClient>>& clients,
                          double seconds, const Operation& op) {
  Recorder rec;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < clients.size(); ++t) {
    threads.emplace_back([&, t] {
      std::vector<double> lat;
      long ok = 0, err = 0;
      std::string first;
      Clock::time_point last = start;
      for (long i = 0; Clock::now() < deadline; ++i) {
        std::string msg;
        auto t0 = Clock::now();
        int status = op(static_cast<int>(t), i, *clients[t], &msg);
        if (status == 0) break;
        last = Clock::now();
        if (status >= 200 && status < 300) {
          ++ok;
          lat.push_back(std::chrono::duration<double, std::milli>(last - t0).count());
        } else {
          ++err;
          noteError(status, msg, &first);
        }
      }
      rec.merge(lat, ok, err, first, last);
    });
  }
  for (auto& th : threads) th.join();
  // A phase that ran out of work early is timed to its last answer.
  double elapsed = std::chrono::duration<double>(std::min(Clock::now(), std::max(rec.last_done, start)) - start).count();
  if (elapsed <= 0) elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return rec.finish(name, elapsed);
}

PhaseResult runOpenLoop(const std::string& name, std::vector<std::unique_ptr<client::HttpsClient>>& clients,
                        double seconds, double rate, const Operation& op) {
  Recorder rec;
  auto start = Clock::now() + std::chrono::milliseconds(10);
  long total = static_cast<long>(seconds * rate);
  size_t n = clients.size();
  std::vector<std::thread> threads;
  for (size_t t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      std::vector<double> lat;
      long ok = 0, err = 0;
      std::string first;
      Clock::time_point last = start;
      for (long k = static_cast<long>(t); k < total; k += static_cast<long>(n)) {
        auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(k / rate));
        std::this_thread::sleep_until(due);
        std::string msg;
        int status = op(static_cast<int>(t), k, *clients[t], &msg);
        last = Clock::now();
        if (status >= 200 && status < 300) {
          ++ok;
          lat.push_back(std::chrono::duration<double, std::milli>(last - due).count());
        } else {
          ++err;
          noteError(status, msg, &first);
        }
      }
      rec.merge(lat, ok, err, first, last);
    });
  }
  for (auto& th : threads) th.join();
  double elapsed = std::chrono::duration<double>(rec.last_done - start).count();
  return rec.finish(name, elapsed);
}

}  // namespace berth::bench
