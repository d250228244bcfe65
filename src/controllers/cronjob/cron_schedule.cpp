#include "controllers/cronjob/cron_schedule.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <map>
#include <sstream>
#include <vector>

#include "common/clock.h"

namespace berth::controllers {

namespace {

constexpr uint64_t kStarBit = 1ULL << 63;

struct Bounds {
  unsigned min, max;
  const std::map<std::string, unsigned>* names;
};

const std::map<std::string, unsigned> kMonthNames = {
    {"jan", 1}, {"feb", 2}, {"mar", 3}, {"apr", 4},  {"may", 5},  {"jun", 6},
    {"jul", 7}, {"aug", 8}, {"sep", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}};
const std::map<std::string, unsigned> kDowNames = {{"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3},
                                                   {"thu", 4}, {"fri", 5}, {"sat", 6}};
const Bounds kMinutes{0, 59, nullptr};
const Bounds kHours{0, 23, nullptr};
const Bounds kDom{1, 31, nullptr};
const Bounds kMonths{1, 12, &kMonthNames};
const Bounds kDow{0, 6, &kDowNames};

std::vector<std::string> splitOn(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

// strings.FieldsFunc(field, ','): empty parts dropped.
std::vector<std::string> commaFields(const std::string& s) {
  std::vector<std::string> out;
  for (auto& p : splitOn(s, ','))
    if (!p.empty()) out.push_back(p);
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// mustParseInt with strconv.Atoi's messages.
Result<unsigned> mustParseInt(const std::string& expr) {
  std::string body = expr;
  bool neg = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    neg = body[0] == '-';
    body = body.substr(1);
  }
  bool digits = !body.empty() && std::all_of(body.begin(), body.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  if (!digits)
    return makeError(ErrorCode::kBadRequest, "failed to parse int from " + expr +
                                                 ": strconv.Atoi: parsing \"" + expr +
                                                 "\": invalid syntax");
  if (body.size() > 18)
    return makeError(ErrorCode::kBadRequest, "failed to parse int from " + expr +
                                                 ": strconv.Atoi: parsing \"" + expr +
                                                 "\": value out of range");
  long long v = std::stoll(body);
  if (neg && v != 0)
    return makeError(ErrorCode::kBadRequest,
                     "negative number (-" + std::to_string(v) + ") not allowed: " + expr);
  if (v > UINT_MAX) v = UINT_MAX;
  return static_cast<unsigned>(v);
}

Result<unsigned> parseIntOrName(const std::string& expr, const Bounds& r) {
  if (r.names) {
    auto it = r.names->find(lower(expr));
    if (it != r.names->end()) return it->second;
  }
  return mustParseInt(expr);
}

uint64_t getBits(unsigned min, unsigned max, unsigned step) {
  if (step == 1) return ~(~0ULL << (max + 1)) & (~0ULL << min);
  uint64_t bits = 0;
  for (unsigned i = min; i <= max; i += step) bits |= 1ULL << i;
  return bits;
}

uint64_t all(const Bounds& r) { return getBits(r.min, r.max, 1) | kStarBit; }

Result<uint64_t> getRange(const std::string& expr, const Bounds& r) {
  std::vector<std::string> range_and_step = splitOn(expr, '/');
  std::vector<std::string> low_and_high = splitOn(range_and_step[0], '-');
  bool single = low_and_high.size() == 1;
  unsigned start = 0, end = 0, step = 1;
  uint64_t extra = 0;
  if (low_and_high[0] == "*" || low_and_high[0] == "?") {
    start = r.min;
    end = r.max;
    extra = kStarBit;
  } else {
    BERTH_ASSIGN_OR_RETURN(start, parseIntOrName(low_and_high[0], r));
    if (low_and_high.size() == 1) {
      end = start;
    } else if (low_and_high.size() == 2) {
      BERTH_ASSIGN_OR_RETURN(end, parseIntOrName(low_and_high[1], r));
    } else {
      return makeError(ErrorCode::kBadRequest, "too many hyphens: " + expr);
    }
  }
  if (range_and_step.size() == 2) {
    BERTH_ASSIGN_OR_RETURN(step, mustParseInt(range_and_step[1]));
    // "N/step" means "N-max/step".
    if (single) end = r.max;
    if (step > 1) extra = 0;
  } else if (range_and_step.size() > 2) {
    return makeError(ErrorCode::kBadRequest, "too many slashes: " + expr);
  }
  if (start < r.min)
    return makeError(ErrorCode::kBadRequest, "beginning of range (" + std::to_string(start) +
                                                 ") below minimum (" + std::to_string(r.min) +
                                                 "): " + expr);
  if (end > r.max)
    return makeError(ErrorCode::kBadRequest, "end of range (" + std::to_string(end) +
                                                 ") above maximum (" + std::to_string(r.max) +
                                                 "): " + expr);
  if (start > end)
    return makeError(ErrorCode::kBadRequest, "beginning of range (" + std::to_string(start) +
                                                 ") beyond end of range (" + std::to_string(end) +
                                                 "): " + expr);
  if (step == 0)
    return makeError(ErrorCode::kBadRequest, "step of range should be a positive number: " + expr);
  return getBits(start, end, step) | extra;
}

Result<uint64_t> getField(const std::string& field, const Bounds& r) {
  uint64_t bits = 0;
  for (const auto& expr : commaFields(field)) {
    BERTH_ASSIGN_OR_RETURN(uint64_t b, getRange(expr, r));
    bits |= b;
  }
  return bits;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\n\r\v\f");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\n\r\v\f");
  return s.substr(a, b - a + 1);
}

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

Result<CronSchedule> CronSchedule::parse(const std::string& spec_in, const TimeZone& default_zone) {
  if (spec_in.empty()) return makeError(ErrorCode::kBadRequest, "empty spec string");
  CronSchedule sched;
  sched.zone_ = default_zone;
  std::string spec = spec_in;
  if (spec.rfind("TZ=", 0) == 0 || spec.rfind("CRON_TZ=", 0) == 0) {
    size_t sp = spec.find(' ');
    size_t eq = spec.find('=');
    std::string name =
        spec.substr(eq + 1, sp == std::string::npos ? std::string::npos : sp - eq - 1);
    auto zone = TimeZone::load(name);
    if (!zone.ok())
      return makeError(ErrorCode::kBadRequest,
                       "provided bad location " + name + ": " + zone.error().message);
    sched.zone_ = *zone;
    spec = sp == std::string::npos ? "" : trim(spec.substr(sp));
  }
  if (!spec.empty() && spec[0] == '@') {
    sched.second_ = 1;
    sched.minute_ = 1;
    sched.hour_ = 1;
    sched.dom_ = all(kDom);
    sched.month_ = all(kMonths);
    sched.dow_ = all(kDow);
    if (spec == "@yearly" || spec == "@annually") {
      sched.dom_ = 1ULL << kDom.min;
      sched.month_ = 1ULL << kMonths.min;
    } else if (spec == "@monthly") {
      sched.dom_ = 1ULL << kDom.min;
    } else if (spec == "@weekly") {
      sched.dow_ = 1ULL << kDow.min;
    } else if (spec == "@daily" || spec == "@midnight") {
    } else if (spec == "@hourly") {
      sched.hour_ = all(kHours);
    } else if (spec.rfind("@every ", 0) == 0) {
      std::string dur = spec.substr(7);
      auto d = parseGoDuration(dur);
      if (!d.ok())
        return makeError(ErrorCode::kBadRequest,
                         "failed to parse duration " + dur + ": " + d.error().message);
      // Every: at least a second, whole seconds.
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(*d);
      if (*d < std::chrono::seconds(1)) secs = std::chrono::seconds(1);
      sched.every_ = secs;
    } else {
      return makeError(ErrorCode::kBadRequest, "unrecognized descriptor: " + spec);
    }
    return sched;
  }
  std::istringstream in(spec);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() != 5) {
    std::string list;
    for (size_t i = 0; i < fields.size(); ++i) list += (i ? " " : "") + fields[i];
    return makeError(
        ErrorCode::kBadRequest,
        "expected exactly 5 fields, found " + std::to_string(fields.size()) + ": [" + list + "]");
  }
  BERTH_ASSIGN_OR_RETURN(sched.minute_, getField(fields[0], kMinutes));
  BERTH_ASSIGN_OR_RETURN(sched.hour_, getField(fields[1], kHours));
  BERTH_ASSIGN_OR_RETURN(sched.dom_, getField(fields[2], kDom));
  BERTH_ASSIGN_OR_RETURN(sched.month_, getField(fields[3], kMonths));
  BERTH_ASSIGN_OR_RETURN(sched.dow_, getField(fields[4], kDow));
  return sched;
}

bool CronSchedule::dayMatches(int day, int weekday) const {
  bool dom = (1ULL << day) & dom_;
  bool dow = (1ULL << weekday) & dow_;
  if ((dom_ & kStarBit) || (dow_ & kStarBit)) return dom && dow;
  return dom || dow;
}

std::optional<CronSchedule::TimePoint> CronSchedule::next(TimePoint tp) const {
  using std::chrono::seconds;
  int64_t t =
      floorDiv(std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count(),
               1000000000LL);
  if (every_) return TimePoint(seconds(t) + *every_);

  // SpecSchedule.Next works on wall-clock fields in the zone: months and
  // days move by calendar arithmetic (time.Date normalization), hours,
  // minutes and seconds by absolute time, as Go's time package does.
  struct Wall {
    int64_t y;
    int mo, d, h, mi, s, wd;
  };
  auto wall = [&](int64_t u) {
    int64_t local = u + zone_.offsetAt(u);
    int64_t days = floorDiv(local, 86400);
    int64_t secs = local - days * 86400;
    Wall w{};
    civilFromDays(days, &w.y, &w.mo, &w.d);
    w.h = static_cast<int>(secs / 3600);
    w.mi = static_cast<int>(secs / 60 % 60);
    w.s = static_cast<int>(secs % 60);
    w.wd = static_cast<int>(((days + 4) % 7 + 7) % 7);
    return w;
  };
  auto date = [&](int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s) {
    return zone_.fromLocal(daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s);
  };

  t += 1;  // the upcoming second
  bool added = false;
  const int64_t year_limit = wall(t).y + 5;
  for (int guard = 0; guard < 100000; ++guard) {
    Wall w = wall(t);
    if (w.y > year_limit) return std::nullopt;
    bool wrap = false;
    while (!((1ULL << w.mo) & month_)) {
      if (!added) {
        added = true;
        t = date(w.y, w.mo, 1, 0, 0, 0);
        w = wall(t);
      }
      t = date(w.y, w.mo + 1, w.d, w.h, w.mi, w.s);
      w = wall(t);
      if (w.mo == 1) {
        wrap = true;
        break;
      }
    }
    if (wrap) continue;
    while (!dayMatches(w.d, w.wd)) {
      if (!added) {
        added = true;
        t = date(w.y, w.mo, w.d, 0, 0, 0);
        w = wall(t);
      }
      t = date(w.y, w.mo, w.d + 1, w.h, w.mi, w.s);
      w = wall(t);
      // Midnight may have moved with a DST change.
      if (w.h != 0) {
        t += w.h > 12 ? (24 - w.h) * 3600 : -w.h * 3600;
        w = wall(t);
      }
      if (w.d == 1) {
        wrap = true;
        break;
      }
    }
    if (wrap) continue;
    while (!((1ULL << w.h) & hour_)) {
      if (!added) {
        added = true;
        t = date(w.y, w.mo, w.d, w.h, 0, 0);
      }
      t += 3600;
      w = wall(t);
      if (w.h == 0) {
        wrap = true;
        break;
      }
    }
    if (wrap) continue;
    while (!((1ULL << w.mi) & minute_)) {
      if (!added) {
        added = true;
        t -= ((t % 60) + 60) % 60;
      }
      t += 60;
      w = wall(t);
      if (w.mi == 0) {
        wrap = true;
        break;
      }
    }
    if (wrap) continue;
    while (!((1ULL << w.s) & second_)) {
      added = true;
      t += 1;
      w = wall(t);
      if (w.s == 0) {
        wrap = true;
        break;
      }
    }
    if (wrap) continue;
    return TimePoint(seconds(t));
  }
  return std::nullopt;
}

}  // namespace berth::controllers
