#pragma once

// Job and pod helpers of the Job controller, after upstream's
// pkg/controller/job (job_controller.go, backoff_utils.go, util/utils.go).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"

namespace berth::controllers {

inline constexpr char kJobTrackingFinalizer[] = "batch.kubernetes.io/job-tracking";

// util.IsJobFinished: a Complete or Failed condition that is True.
bool isJobFinished(const api::Object& job);
// The finished condition type ("Complete" / "Failed"), or "".
std::string jobFinishedType(const api::Object& job);
bool hasJobTrackingFinalizer(const api::Object& pod);

namespace jobutil {

const boost::json::object* findCondition(const api::Object& job, std::string_view type);
boost::json::object newCondition(const std::string& type, const std::string& status,
                                 const std::string& reason, const std::string& message,
                                 std::chrono::system_clock::time_point now);
boost::json::object& statusOf(api::Object& job);
// ensureJobConditionStatus: appends or updates the condition; a missing
// condition is not added as False. Returns whether anything changed.
bool ensureJobConditionStatus(api::Object& job, const std::string& type, const std::string& status,
                              const std::string& reason, const std::string& message,
                              std::chrono::system_clock::time_point now);

bool jobSuspended(const api::Object& job);
bool isIndexedJob(const api::Object& job);
std::optional<int64_t> completionsOf(const api::Object& job);
int64_t parallelismOf(const api::Object& job);
int64_t backoffLimitOf(const api::Object& job);
// onlyReplaceFailedPods: podReplacementPolicy Failed (implied by a
// podFailurePolicy).
bool onlyReplaceFailedPods(const api::Object& job);

std::string phaseOf(const api::Object& pod);
// isPodFailed: Failed, or (unless only failed pods are replaced) deleted
// before it succeeded.
bool isPodFailedForJob(const api::Object& pod, const api::Object& job);
// IsPodTerminating: being deleted and not terminal yet.
bool isPodTerminating(const api::Object& pod);

int64_t statusInt(const api::Object& job, std::string_view field);
// Sets an omitempty integer: absent when zero.
void setOmitEmpty(boost::json::object& status, std::string_view key, int64_t v);
// status.uncountedTerminatedPods.{succeeded,failed}.
std::vector<std::string> uncountedList(const api::Object& job, std::string_view which);
void setUncountedList(api::Object& job, std::string_view which,
                      const std::vector<std::string>& uids);

// getFinishedTime of backoff_utils.go.
std::chrono::system_clock::time_point finishedTime(const api::Object& pod);
// removeTrackingFinalizerPatch: a strategic merge patch.
std::string removeTrackingFinalizerPatch();
// controller.ActivePods order (deleted first).
void sortActivePods(std::vector<client::ObjectPtr>& pods);

}  // namespace jobutil
}  // namespace berth::controllers
