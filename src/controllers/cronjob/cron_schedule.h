#pragma once

// Cron schedules as the CronJob controller reads them, after
// github.com/robfig/cron/v3's ParseStandard and SpecSchedule.Next (the
// library Kubernetes vendors):
//   - five fields: minute hour day-of-month month day-of-week;
//   - "*" and "?", ranges "a-b", steps "*/n", "a-b/n" and "a/n" (= a-max/n),
//     lists "a,b", month names jan-dec and weekday names sun-sat (any case);
//   - day-of-month and day-of-week: when either is "*" both must match,
//     otherwise either may;
//   - descriptors @yearly @annually @monthly @weekly @daily @midnight
//     @hourly and "@every <duration>";
//   - an optional "TZ=<zone> " or "CRON_TZ=<zone> " prefix.
// Error messages are robfig's ("expected exactly 5 fields, found 4: [...]",
// "end of range (60) above maximum (59): 0-60", ...).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "controllers/cronjob/time_zone.h"

namespace berth::controllers {

class CronSchedule {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // `default_zone` applies unless the spec names one (TZ=...).
  static Result<CronSchedule> parse(const std::string& spec,
                                    const TimeZone& default_zone = TimeZone());

  // Next: the first activation strictly after `t` (whole seconds), or
  // nullopt when there is none within five years (e.g. "0 0 30 2 *").
  std::optional<TimePoint> next(TimePoint t) const;

  const TimeZone& zone() const { return zone_; }

 private:
  bool dayMatches(int day, int weekday) const;

  uint64_t second_ = 1;  // the standard parser fixes seconds at 0
  uint64_t minute_ = 0;
  uint64_t hour_ = 0;
  uint64_t dom_ = 0;
  uint64_t month_ = 0;
  uint64_t dow_ = 0;
  std::optional<std::chrono::seconds> every_;
  TimeZone zone_;
};

}  // namespace berth::controllers
