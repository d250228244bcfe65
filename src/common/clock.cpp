#include "common/clock.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <ctime>

namespace berth {

RealClock& RealClock::instance() {
  static RealClock clock;
  return clock;
}

namespace {
std::string formatWithFraction(std::chrono::system_clock::time_point t, int digits) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  if (secs > t) secs -= std::chrono::seconds(1);
  auto frac = std::chrono::duration_cast<std::chrono::nanoseconds>(t - secs).count();
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm;
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (digits > 0) {
    char f[16];
    long long div = 1;
    for (int i = digits; i < 9; ++i) div *= 10;
    std::snprintf(f, sizeof f, ".%0*lld", digits, static_cast<long long>(frac / div));
    out += f;
  }
  out += 'Z';
  return out;
}
}  // namespace

std::string formatRfc3339(std::chrono::system_clock::time_point t) { return formatWithFraction(t, 0); }
std::string formatRfc3339Nano(std::chrono::system_clock::time_point t) { return formatWithFraction(t, 9); }
std::string formatRfc3339Micro(std::chrono::system_clock::time_point t) { return formatWithFraction(t, 6); }

bool parseRfc3339(const std::string& s, std::chrono::system_clock::time_point* out) {
  int y, mo, d, h, mi, sec;
  int n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  size_t i = 19;
  long long nanos = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (s[i] - '0');
        ++digits;
      }
      ++i;
    }
    if (digits == 0) return false;
    while (digits < 9) {
      nanos *= 10;
      ++digits;
    }
  }
  long offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return false;
    offset = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::time_t tt = timegm(&tm);
  *out = std::chrono::system_clock::from_time_t(tt - offset) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(nanos));
  return true;
}

// Follows k8s.io/apimachinery/pkg/util/duration.HumanDuration.
std::string humanDuration(std::chrono::system_clock::duration d) {
  using namespace std::chrono;
  long long s = duration_cast<seconds>(d).count();
  if (s < 0) s = 0;
  char buf[32];
  if (s < 60 * 2) {
    std::snprintf(buf, sizeof buf, "%llds", s);
    return buf;
  }
  long long m = s / 60;
  if (m < 10) {
    long long rs = s % 60;
    if (rs == 0) std::snprintf(buf, sizeof buf, "%lldm", m);
    else std::snprintf(buf, sizeof buf, "%lldm%llds", m, rs);
    return buf;
  }
  if (m < 60 * 3) {
    std::snprintf(buf, sizeof buf, "%lldm", m);
    return buf;
  }
  long long h = s / 3600;
  if (h < 8) {
    long long rm = m % 60;
    if (rm == 0) std::snprintf(buf, sizeof buf, "%lldh", h);
    else std::snprintf(buf, sizeof buf, "%lldh%lldm", h, rm);
    return buf;
  }
  if (h < 48) {
    std::snprintf(buf, sizeof buf, "%lldh", h);
    return buf;
  }
  if (h < 24 * 8) {
    long long rh = h % 24;
    if (rh == 0) std::snprintf(buf, sizeof buf, "%lldd", h / 24);
    else std::snprintf(buf, sizeof buf, "%lldd%lldh", h / 24, rh);
    return buf;
  }
  if (h < 24 * 365 * 2) {
    std::snprintf(buf, sizeof buf, "%lldd", h / 24);
    return buf;
  }
  if (h < 24 * 365 * 8) {
    long long dy = (h / 24) % 365;
    if (dy == 0) std::snprintf(buf, sizeof buf, "%lldy", h / 24 / 365);
    else std::snprintf(buf, sizeof buf, "%lldy%lldd", h / 24 / 365, dy);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%lldy", h / 24 / 365);
  return buf;
}

Result<std::chrono::nanoseconds> parseGoDuration(const std::string& orig) {
  auto invalid = [&]() {
    return makeError(ErrorCode::kBadRequest, "time: invalid duration \"" + orig + "\"");
  };
  std::string s = orig;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s = s.substr(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return invalid();
  static const std::map<std::string, double> kUnits = {
      {"ns", 1.0}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
      {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    size_t int_end = i;
    size_t frac_start = i;
    if (i < s.size() && s[i] == '.') {
      ++i;
      frac_start = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    }
    if (int_end == start && (frac_start == i)) return invalid();
    double value = std::stod("0" + s.substr(start, i - start));
    size_t unit_start = i;
    while (i < s.size() && s[i] != '.' && !std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (unit_start == i)
      return makeError(ErrorCode::kBadRequest, "time: missing unit in duration \"" + orig + "\"");
    std::string unit = s.substr(unit_start, i - unit_start);
    auto it = kUnits.find(unit);
    if (it == kUnits.end())
      return makeError(ErrorCode::kBadRequest,
                       "time: unknown unit \"" + unit + "\" in duration \"" + orig + "\"");
    total += value * it->second;
  }
  if (total > 9.2e18) return invalid();
  auto ns = std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total)));
  return neg ? -ns : ns;
}

}  // namespace berth
