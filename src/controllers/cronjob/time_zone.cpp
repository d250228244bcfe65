#include "controllers/cronjob/time_zone.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

namespace berth::controllers {

// Howard Hinnant's civil calendar algorithms.
int64_t daysFromCivil(int64_t y, int64_t m, int64_t d) {
  // Roll months over into years first (time.Date normalization).
  y += (m - 1) >= 0 ? (m - 1) / 12 : -((12 - m) / 12);
  m = ((m - 1) % 12 + 12) % 12 + 1;
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468 + (d - 1);
}

void civilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

namespace {

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool isLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int daysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

uint32_t be32(const std::string& s, size_t off) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[off])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[off + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[off + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[off + 3]));
}

int64_t be64(const std::string& s, size_t off) {
  return static_cast<int64_t>((static_cast<uint64_t>(be32(s, off)) << 32) | be32(s, off + 4));
}

}  // namespace

// A POSIX TZ rule ("EST5EDT,M3.2.0,M11.1.0"), offsets east of UTC.
struct TimeZone::Rule {
  struct When {
    char kind = 'M';  // 'J' (1-365, no Feb 29), 'D' (0-365), 'M' (month.week.day)
    int month = 0, week = 0, day = 0;
    int32_t secs = 2 * 3600;
  };
  int32_t std_offset = 0;
  bool has_dst = false;
  int32_t dst_offset = 0;
  When start, end;

  static std::optional<Rule> parse(const std::string& s);
  int32_t offsetAt(int64_t t) const;
  int64_t localTransition(int64_t year, const When& w) const;
};

struct TimeZone::Data {
  std::vector<int64_t> transitions;
  std::vector<uint8_t> type_index;
  std::vector<int32_t> type_offset;
  std::optional<Rule> footer;
};

namespace {

// POSIX TZ scanning helpers over `s` at `*i`.
bool parseTzName(const std::string& s, size_t* i) {
  if (*i < s.size() && s[*i] == '<') {
    size_t close = s.find('>', *i);
    if (close == std::string::npos) return false;
    *i = close + 1;
    return true;
  }
  size_t start = *i;
  while (*i < s.size() && std::isalpha(static_cast<unsigned char>(s[*i]))) ++*i;
  return *i - start >= 3;
}

// [+-]hh[:mm[:ss]] in seconds (hours up to 167 for transition times).
std::optional<int32_t> parseTzTime(const std::string& s, size_t* i) {
  int sign = 1;
  if (*i < s.size() && (s[*i] == '+' || s[*i] == '-')) {
    if (s[*i] == '-') sign = -1;
    ++*i;
  }
  int32_t total = 0;
  for (int part = 0; part < 3; ++part) {
    if (part > 0) {
      if (*i >= s.size() || s[*i] != ':') break;
      ++*i;
    }
    size_t start = *i;
    int v = 0;
    while (*i < s.size() && std::isdigit(static_cast<unsigned char>(s[*i])))
      v = v * 10 + (s[(*i)++] - '0');
    if (*i == start || v > 167) return std::nullopt;
    total += v * (part == 0 ? 3600 : part == 1 ? 60 : 1);
  }
  return sign * total;
}

std::optional<int> parseTzNum(const std::string& s, size_t* i) {
  size_t start = *i;
  int v = 0;
  while (*i < s.size() && std::isdigit(static_cast<unsigned char>(s[*i])))
    v = v * 10 + (s[(*i)++] - '0');
  if (*i == start) return std::nullopt;
  return v;
}

}  // namespace

std::optional<TimeZone::Rule> TimeZone::Rule::parse(const std::string& s) {
  Rule r;
  size_t i = 0;
  if (!parseTzName(s, &i)) return std::nullopt;
  auto std_off = parseTzTime(s, &i);
  if (!std_off) return std::nullopt;
  r.std_offset = -*std_off;
  if (i == s.size()) return r;
  if (!parseTzName(s, &i)) return std::nullopt;
  r.has_dst = true;
  r.dst_offset = r.std_offset + 3600;
  if (i < s.size() && s[i] != ',') {
    auto dst_off = parseTzTime(s, &i);
    if (!dst_off) return std::nullopt;
    r.dst_offset = -*dst_off;
  }
  if (i == s.size()) {
    // No rule: the US rules, as Go does.
    r.start = When{'M', 3, 2, 0, 7200};
    r.end = When{'M', 11, 1, 0, 7200};
    return r;
  }
  auto parse_when = [&](When* w) {
    if (i >= s.size() || s[i] != ',') return false;
    ++i;
    if (i < s.size() && s[i] == 'M') {
      ++i;
      auto m = parseTzNum(s, &i);
      if (!m || i >= s.size() || s[i] != '.') return false;
      ++i;
      auto wk = parseTzNum(s, &i);
      if (!wk || i >= s.size() || s[i] != '.') return false;
      ++i;
      auto d = parseTzNum(s, &i);
      if (!d || *m < 1 || *m > 12 || *wk < 1 || *wk > 5 || *d > 6) return false;
      *w = When{'M', *m, *wk, *d, 7200};
    } else if (i < s.size() && s[i] == 'J') {
      ++i;
      auto n = parseTzNum(s, &i);
      if (!n || *n < 1 || *n > 365) return false;
      *w = When{'J', 0, 0, *n, 7200};
    } else {
      auto n = parseTzNum(s, &i);
      if (!n || *n > 365) return false;
      *w = When{'D', 0, 0, *n, 7200};
    }
    if (i < s.size() && s[i] == '/') {
      ++i;
      auto t = parseTzTime(s, &i);
      if (!t) return false;
      w->secs = *t;
    }
    return true;
  };
  if (!parse_when(&r.start) || !parse_when(&r.end) || i != s.size()) return std::nullopt;
  return r;
}

int64_t TimeZone::Rule::localTransition(int64_t year, const When& w) const {
  int64_t days = 0;
  if (w.kind == 'J') {
    days = daysFromCivil(year, 1, 1) + (w.day - 1) + (isLeap(year) && w.day >= 60 ? 1 : 0);
  } else if (w.kind == 'D') {
    days = daysFromCivil(year, 1, 1) + w.day;
  } else {
    int64_t first = daysFromCivil(year, w.month, 1);
    int wday_first = static_cast<int>(((first + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
    int day = (w.day - wday_first + 7) % 7 + (w.week - 1) * 7;
    while (day >= daysInMonth(year, w.month)) day -= 7;
    days = first + day;
  }
  return days * 86400 + w.secs;
}

int32_t TimeZone::Rule::offsetAt(int64_t t) const {
  if (!has_dst) return std_offset;
  int64_t y;
  int m, d;
  civilFromDays(floorDiv(t + std_offset, 86400), &y, &m, &d);
  int64_t dst_start = localTransition(y, start) - std_offset;
  int64_t dst_end = localTransition(y, end) - dst_offset;
  // Southern zones have DST across the new year.
  bool dst =
      dst_start < dst_end ? (t >= dst_start && t < dst_end) : !(t >= dst_end && t < dst_start);
  return dst ? dst_offset : std_offset;
}

TimeZone::TimeZone() : name_("UTC") {}

bool TimeZone::isUtc() const { return !data_; }

Result<TimeZone> TimeZone::fromTzif(const std::string& name, const std::string& s) {
  auto bad = [&]() {
    return makeError(ErrorCode::kBadRequest,
                     "unknown time zone " + name + ": malformed time zone information");
  };
  if (s.size() < 44 || s.compare(0, 4, "TZif") != 0) return bad();
  char version = s[4];
  size_t off = 0;
  bool wide = false;
  auto counts = [&](size_t at, uint32_t c[6]) {
    for (int k = 0; k < 6; ++k) c[k] = be32(s, at + 20 + 4 * k);
  };
  uint32_t c[6];
  counts(0, c);
  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt.
  auto block_size = [&](const uint32_t* n, size_t time_size) {
    return n[3] * time_size + n[3] + n[4] * 6 + n[5] + n[2] * (time_size + 4) + n[1] + n[0];
  };
  if (version >= '2') {
    size_t v2 = 44 + block_size(c, 4);
    if (s.size() < v2 + 44 || s.compare(v2, 4, "TZif") != 0) return bad();
    counts(v2, c);
    off = v2 + 44;
    wide = true;
  } else {
    off = 44;
  }
  size_t tsize = wide ? 8 : 4;
  if (s.size() < off + block_size(c, tsize)) return bad();
  auto data = std::make_shared<Data>();
  uint32_t timecnt = c[3], typecnt = c[4];
  if (typecnt == 0) return bad();
  for (uint32_t k = 0; k < timecnt; ++k)
    data->transitions.push_back(wide ? be64(s, off + k * 8)
                                     : static_cast<int32_t>(be32(s, off + k * 4)));
  off += timecnt * tsize;
  for (uint32_t k = 0; k < timecnt; ++k) {
    uint8_t ix = static_cast<uint8_t>(s[off + k]);
    if (ix >= typecnt) return bad();
    data->type_index.push_back(ix);
  }
  off += timecnt;
  for (uint32_t k = 0; k < typecnt; ++k)
    data->type_offset.push_back(static_cast<int32_t>(be32(s, off + k * 6)));
  off += typecnt * 6 + c[5] + c[2] * (tsize + 4) + c[1] + c[0];
  if (wide && off < s.size() && s[off] == '\n') {
    size_t end = s.find('\n', off + 1);
    if (end != std::string::npos && end > off + 1)
      data->footer = Rule::parse(s.substr(off + 1, end - off - 1));
  }
  TimeZone tz;
  tz.name_ = name;
  tz.data_ = std::move(data);
  return tz;
}

Result<TimeZone> TimeZone::load(const std::string& name) {
  if (name.empty() || name == "UTC") return TimeZone();
  // errLocation: names that could escape the zoneinfo directory.
  if (name[0] == '/' || name[0] == '\\' || name.find("..") != std::string::npos)
    return makeError(ErrorCode::kBadRequest, "time: invalid location name");
  for (char ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '/' && ch != '_' && ch != '-' &&
        ch != '+')
      return makeError(ErrorCode::kBadRequest, "time: invalid location name");
  const char* env = std::getenv("ZONEINFO");
  std::string dir = env && *env ? env : "/usr/share/zoneinfo";
  std::ifstream in(dir + "/" + name, std::ios::binary);
  if (!in) return makeError(ErrorCode::kNotFound, "unknown time zone " + name);
  std::ostringstream buf;
  buf << in.rdbuf();
  return fromTzif(name, buf.str());
}

int32_t TimeZone::offsetAt(int64_t t) const {
  if (!data_) return 0;
  const Data& d = *data_;
  if (d.transitions.empty()) return d.footer ? d.footer->offsetAt(t) : d.type_offset.front();
  if (t < d.transitions.front()) return d.type_offset.front();
  if (t >= d.transitions.back() && d.footer) return d.footer->offsetAt(t);
  auto it = std::upper_bound(d.transitions.begin(), d.transitions.end(), t);
  size_t k = static_cast<size_t>(it - d.transitions.begin()) - 1;
  return d.type_offset[d.type_index[k]];
}

int64_t TimeZone::fromLocal(int64_t local) const {
  int32_t o1 = offsetAt(local);
  int64_t utc = local - o1;
  int32_t o2 = offsetAt(utc);
  if (o2 != o1) utc = local - o2;
  return utc;
}

std::string formatRfc3339In(std::chrono::system_clock::time_point t, const TimeZone& tz) {
  int64_t unix = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  int32_t off = tz.offsetAt(unix);
  int64_t local = unix + off;
  int64_t y;
  int m, d;
  civilFromDays(floorDiv(local, 86400), &y, &m, &d);
  int64_t secs = local - floorDiv(local, 86400) * 86400;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02lld:%02lld:%02lld", static_cast<long long>(y),
                m, d, static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  std::string out = buf;
  if (off == 0) return out + "Z";
  int32_t a = off < 0 ? -off : off;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  return out + buf;
}

}  // namespace berth::controllers
