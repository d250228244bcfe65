#pragma once

// IANA time zones for CronJob spec.timeZone, after Go's time.LoadLocation:
// a zone is read from the system's TZif files (/usr/share/zoneinfo, or the
// directory in $ZONEINFO); times after the last recorded transition follow
// the POSIX TZ rule in the file's footer. "" and "UTC" are UTC.
//
// The C++20 time zone database (std::chrono::tzdb) is not in the standard
// library this project builds with (GCC 12), hence the reader.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace berth::controllers {

// Days since 1970-01-01 of a proleptic Gregorian date and back (month 1-12;
// days beyond the month roll over).
int64_t daysFromCivil(int64_t y, int64_t m, int64_t d);
void civilFromDays(int64_t days, int64_t* y, int* m, int* d);

class TimeZone {
 public:
  // UTC.
  TimeZone();

  // time.LoadLocation: "" or "UTC" is UTC; otherwise a zone name such as
  // "America/New_York". NotFound for unknown names, BadRequest for names
  // that are not zone names ("../x", "/etc/...").
  static Result<TimeZone> load(const std::string& name);
  // Parses TZif bytes (tests, or zones from elsewhere).
  static Result<TimeZone> fromTzif(const std::string& name, const std::string& data);

  const std::string& name() const { return name_; }
  bool isUtc() const;

  // Seconds east of UTC in effect at `unix_seconds`.
  int32_t offsetAt(int64_t unix_seconds) const;
  // Wall-clock seconds (as if UTC) to Unix time, as Go's time.Date: a wall
  // time skipped by a transition resolves with the offset before it, a
  // repeated one with the first occurrence.
  int64_t fromLocal(int64_t local_seconds) const;

 private:
  struct Rule;
  struct Data;
  std::string name_;
  std::shared_ptr<const Data> data_;
};

// RFC 3339 in the zone ("2024-03-10T01:30:00-05:00"; "Z" at offset 0), as
// Go's t.In(loc).Format(time.RFC3339).
std::string formatRfc3339In(std::chrono::system_clock::time_point t, const TimeZone& tz);

}  // namespace berth::controllers
