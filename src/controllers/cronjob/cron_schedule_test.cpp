#include "controllers/cronjob/cron_schedule.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace berth::controllers {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

TimePoint at(const std::string& s) {
  TimePoint t;
  EXPECT_TRUE(parseRfc3339(s, &t)) << s;
  return t;
}

std::string nextOf(const std::string& spec, const std::string& after,
                   const TimeZone& zone = TimeZone()) {
  auto sched = CronSchedule::parse(spec, zone);
  if (!sched.ok()) return "error: " + sched.error().message;
  auto n = sched->next(at(after));
  return n ? formatRfc3339(*n) : "none";
}

std::string parseError(const std::string& spec) {
  auto sched = CronSchedule::parse(spec);
  return sched.ok() ? "ok" : sched.error().message;
}

bool haveZone(const std::string& name) { return TimeZone::load(name).ok(); }

TEST(CronSchedule, FieldsRangesStepsListsAndNames) {
  EXPECT_EQ(nextOf("* * * * *", "2024-03-01T10:00:00Z"), "2024-03-01T10:01:00Z");
  EXPECT_EQ(nextOf("* * * * *", "2024-03-01T10:00:30Z"), "2024-03-01T10:01:00Z");
  EXPECT_EQ(nextOf("*/5 * * * *", "2024-03-01T10:03:00Z"), "2024-03-01T10:05:00Z");
  EXPECT_EQ(nextOf("*/5 * * * *", "2024-03-01T10:05:00Z"), "2024-03-01T10:10:00Z");
  EXPECT_EQ(nextOf("0 */6 * * *", "2024-03-01T10:00:00Z"), "2024-03-01T12:00:00Z");
  EXPECT_EQ(nextOf("15,45 9-17 * * *", "2024-03-01T17:50:00Z"), "2024-03-02T09:15:00Z");
  EXPECT_EQ(nextOf("10-20/5 * * * *", "2024-03-01T10:16:00Z"), "2024-03-01T10:20:00Z");
  // "a/n" means a-max/n.
  EXPECT_EQ(nextOf("50/5 * * * *", "2024-03-01T10:51:00Z"), "2024-03-01T10:55:00Z");
  EXPECT_EQ(nextOf("50/5 * * * *", "2024-03-01T10:56:00Z"), "2024-03-01T11:50:00Z");
  // Names are case-insensitive; 2024-03-01 is a Friday.
  EXPECT_EQ(nextOf("0 9 * * MON-fri", "2024-03-01T10:00:00Z"), "2024-03-04T09:00:00Z");
  EXPECT_EQ(nextOf("0 0 1 jan,Jul *", "2024-03-01T10:00:00Z"), "2024-07-01T00:00:00Z");
  EXPECT_EQ(nextOf("0 0 * * sun", "2024-03-01T10:00:00Z"), "2024-03-03T00:00:00Z");
  EXPECT_EQ(nextOf("? ? ? ? ?", "2024-03-01T10:00:00Z"), "2024-03-01T10:01:00Z");
  // Month ends and leap days.
  EXPECT_EQ(nextOf("0 0 31 * *", "2024-04-01T00:00:00Z"), "2024-05-31T00:00:00Z");
  EXPECT_EQ(nextOf("0 0 29 2 *", "2024-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(nextOf("59 23 31 12 *", "2024-12-31T23:59:00Z"), "2025-12-31T23:59:00Z");
  // Never within five years.
  EXPECT_EQ(nextOf("0 0 30 2 *", "2024-03-01T00:00:00Z"), "none");
}

TEST(CronSchedule, DayOfMonthAndDayOfWeekSemantics) {
  // Both restricted: either matches (the 13th or any Friday).
  EXPECT_EQ(nextOf("0 0 13 * 5", "2024-03-01T10:00:00Z"), "2024-03-08T00:00:00Z");
  EXPECT_EQ(nextOf("0 0 13 * 5", "2024-03-09T10:00:00Z"), "2024-03-13T00:00:00Z");
  // One is "*": both must match (Sundays in July).
  EXPECT_EQ(nextOf("0 12 * 7 0", "2024-03-01T10:00:00Z"), "2024-07-07T12:00:00Z");
  // A stepped "*" is not a star: "*/2" days with Fridays means either.
  EXPECT_EQ(nextOf("0 0 */10 * 5", "2024-03-02T10:00:00Z"), "2024-03-08T00:00:00Z");
}

TEST(CronSchedule, Descriptors) {
  EXPECT_EQ(nextOf("@hourly", "2024-03-01T10:20:00Z"), "2024-03-01T11:00:00Z");
  EXPECT_EQ(nextOf("@daily", "2024-03-01T10:20:00Z"), "2024-03-02T00:00:00Z");
  EXPECT_EQ(nextOf("@midnight", "2024-03-01T10:20:00Z"), "2024-03-02T00:00:00Z");
  EXPECT_EQ(nextOf("@weekly", "2024-03-01T10:20:00Z"), "2024-03-03T00:00:00Z");
  EXPECT_EQ(nextOf("@monthly", "2024-03-01T10:20:00Z"), "2024-04-01T00:00:00Z");
  EXPECT_EQ(nextOf("@yearly", "2024-03-01T10:20:00Z"), "2025-01-01T00:00:00Z");
  EXPECT_EQ(nextOf("@annually", "2024-03-01T10:20:00Z"), "2025-01-01T00:00:00Z");
  EXPECT_EQ(nextOf("@every 90s", "2024-03-01T10:20:00Z"), "2024-03-01T10:21:30Z");
  EXPECT_EQ(nextOf("@every 1h30m", "2024-03-01T10:20:00Z"), "2024-03-01T11:50:00Z");
  EXPECT_EQ(nextOf("@every 100ms", "2024-03-01T10:20:00Z"), "2024-03-01T10:20:01Z");
}

TEST(CronSchedule, ErrorsAsRobfig) {
  EXPECT_EQ(parseError(""), "empty spec string");
  EXPECT_EQ(parseError("* * * *"), "expected exactly 5 fields, found 4: [* * * *]");
  EXPECT_EQ(parseError("* * * * * *"), "expected exactly 5 fields, found 6: [* * * * * *]");
  EXPECT_EQ(parseError("60 * * * *"), "end of range (60) above maximum (59): 60");
  EXPECT_EQ(parseError("* 24 * * *"), "end of range (24) above maximum (23): 24");
  EXPECT_EQ(parseError("* * 0 * *"), "beginning of range (0) below minimum (1): 0");
  EXPECT_EQ(parseError("* * * * 7"), "end of range (7) above maximum (6): 7");
  EXPECT_EQ(parseError("5-1 * * * *"), "beginning of range (5) beyond end of range (1): 5-1");
  EXPECT_EQ(parseError("*/0 * * * *"), "step of range should be a positive number: */0");
  EXPECT_EQ(parseError("1-2-3 * * * *"), "too many hyphens: 1-2-3");
  EXPECT_EQ(parseError("*/2/3 * * * *"), "too many slashes: */2/3");
  EXPECT_EQ(parseError("x * * * *"),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax");
  EXPECT_EQ(parseError("* * * foo *"),
            "failed to parse int from foo: strconv.Atoi: parsing \"foo\": invalid syntax");
  EXPECT_EQ(parseError("@fortnightly"), "unrecognized descriptor: @fortnightly");
  EXPECT_EQ(parseError("@every x"), "failed to parse duration x: time: invalid duration \"x\"");
  EXPECT_EQ(
      parseError("TZ=Mars/Olympus * * * * *").rfind("provided bad location Mars/Olympus: ", 0), 0u);
  EXPECT_EQ(parseError("0 0 1,,15 * *"), "ok");
}


TEST(TimeZones, UtcAndInvalidNames) {
  auto utc = TimeZone::load("");
  ASSERT_TRUE(utc.ok());
  EXPECT_TRUE(utc->isUtc());
  EXPECT_EQ(utc->offsetAt(0), 0);
  EXPECT_EQ(TimeZone::load("../etc/passwd").error().message, "time: invalid location name");
  EXPECT_EQ(TimeZone::load("/etc/passwd").error().message, "time: invalid location name");
  EXPECT_EQ(TimeZone::load("Nowhere/Town").error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(TimeZone::fromTzif("x", "not a tzif file").ok());
  EXPECT_EQ(formatRfc3339In(at("2024-03-01T10:00:00Z"), TimeZone()), "2024-03-01T10:00:00Z");
}

TEST(TimeZones, CivilCalendar) {
  EXPECT_EQ(daysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(daysFromCivil(2024, 3, 1), 19783);
  EXPECT_EQ(daysFromCivil(2024, 13, 1), daysFromCivil(2025, 1, 1));
  EXPECT_EQ(daysFromCivil(2024, 0, 1), daysFromCivil(2023, 12, 1));
  EXPECT_EQ(daysFromCivil(2024, 2, 30), daysFromCivil(2024, 3, 1));
  int64_t y;
  int m, d;
  civilFromDays(19783, &y, &m, &d);
  EXPECT_EQ(y, 2024);
  EXPECT_EQ(m, 3);
  EXPECT_EQ(d, 1);
}

TEST(TimeZones, NewYorkOffsetsAndDst) {
  if (!haveZone("America/New_York")) GTEST_SKIP() << "no zoneinfo on this machine";
  TimeZone ny = *TimeZone::load("America/New_York");
  auto unix = [](const std::string& s) {
    return std::chrono::duration_cast<std::chrono::seconds>(at(s).time_since_epoch()).count();
  };
  EXPECT_EQ(ny.offsetAt(unix("2024-01-15T12:00:00Z")), -5 * 3600);
  EXPECT_EQ(ny.offsetAt(unix("2024-07-15T12:00:00Z")), -4 * 3600);
  // Beyond the transitions recorded in the file: the footer's rule.
  EXPECT_EQ(ny.offsetAt(unix("2091-07-15T12:00:00Z")), -4 * 3600);
  EXPECT_EQ(ny.offsetAt(unix("2091-12-15T12:00:00Z")), -5 * 3600);
  EXPECT_EQ(formatRfc3339In(at("2024-03-01T14:00:00Z"), ny), "2024-03-01T09:00:00-05:00");
  EXPECT_EQ(formatRfc3339In(at("2024-07-01T13:00:00Z"), ny), "2024-07-01T09:00:00-04:00");
  // 09:00 local every day, across the March switch.
  EXPECT_EQ(nextOf("0 9 * * *", "2024-03-09T15:00:00Z", ny), "2024-03-10T13:00:00Z");
  // 02:30 does not exist on 2024-03-10: skipped that day.
  EXPECT_EQ(nextOf("30 2 * * *", "2024-03-09T08:00:00Z", ny), "2024-03-11T06:30:00Z");
  // 01:30 happens twice on 2024-11-03, as robfig/cron runs it.
  EXPECT_EQ(nextOf("30 1 * * *", "2024-11-03T04:00:00Z", ny), "2024-11-03T05:30:00Z");
  EXPECT_EQ(nextOf("30 1 * * *", "2024-11-03T05:30:00Z", ny), "2024-11-03T06:30:00Z");
  // A TZ= prefix overrides the default zone.
  EXPECT_EQ(nextOf("TZ=America/New_York 0 9 * * *", "2024-03-01T10:00:00Z"),
            "2024-03-01T14:00:00Z");
  EXPECT_EQ(nextOf("CRON_TZ=UTC 0 9 * * *", "2024-03-01T10:00:00Z", ny), "2024-03-02T09:00:00Z");
}

TEST(TimeZones, SouthernHemisphereAndHalfHourZones) {
  if (!haveZone("Australia/Sydney") || !haveZone("Asia/Kolkata"))
    GTEST_SKIP() << "no zoneinfo on this machine";
  TimeZone syd = *TimeZone::load("Australia/Sydney");
  TimeZone kol = *TimeZone::load("Asia/Kolkata");
  EXPECT_EQ(formatRfc3339In(at("2024-01-15T00:00:00Z"), syd), "2024-01-15T11:00:00+11:00");
  EXPECT_EQ(formatRfc3339In(at("2024-07-15T00:00:00Z"), syd), "2024-07-15T10:00:00+10:00");
  EXPECT_EQ(formatRfc3339In(at("2090-01-15T00:00:00Z"), syd), "2090-01-15T11:00:00+11:00");
  EXPECT_EQ(formatRfc3339In(at("2090-07-15T00:00:00Z"), syd), "2090-07-15T10:00:00+10:00");
  EXPECT_EQ(formatRfc3339In(at("2024-03-01T00:00:00Z"), kol), "2024-03-01T05:30:00+05:30");
  EXPECT_EQ(nextOf("0 6 * * *", "2024-03-01T00:00:00Z", kol), "2024-03-01T00:30:00Z");
}

}  // namespace
}  // namespace berth::controllers
