#pragma once

// Completion indexes of Indexed Jobs, after upstream's
// pkg/controller/job/indexed_job_utils.go: status.completedIndexes is a
// list of ordered intervals ("1,3-5,7"), a pod's index is its
// batch.kubernetes.io/job-completion-index annotation (also set as a label
// and as the JOB_COMPLETION_INDEX env var), and Indexed pods are named
// "<job>-<index>-<random>".

#include <set>
#include <string>
#include <vector>

#include "client/client.h"

namespace berth::controllers {

inline constexpr char kJobCompletionIndexAnnotation[] = "batch.kubernetes.io/job-completion-index";
inline constexpr char kJobCompletionIndexEnvName[] = "JOB_COMPLETION_INDEX";
inline constexpr int kUnknownCompletionIndex = -1;

struct Interval {
  int first = 0;
  int last = 0;
  bool operator==(const Interval&) const = default;
};

// orderedIntervals: sorted, non-overlapping, non-adjacent intervals.
class OrderedIntervals {
 public:
  OrderedIntervals() = default;
  explicit OrderedIntervals(std::vector<Interval> v) : intervals_(std::move(v)) {}

  // parseIndexesFromString: "1,3-5"; indexes >= completions and malformed
  // parts are dropped.
  static OrderedIntervals parse(const std::string& text, int completions);

  // withOrderedIndexes: merged with sorted indexes.
  OrderedIntervals withOrderedIndexes(const std::vector<int>& indexes) const;
  // The total number of indexes.
  int total() const;
  bool has(int ix) const;
  std::string toString() const;
  const std::vector<Interval>& intervals() const { return intervals_; }

 private:
  std::vector<Interval> intervals_;
};

// getCompletionIndex: the annotation as a non-negative int, or -1.
int completionIndex(const api::Object& pod);
// getIndexes of valid completion indexes of pods.
std::set<int> completionIndexes(const std::vector<client::ObjectPtr>& pods);
// podGenerateNameWithIndex: "<job>-<index>-", the job name cut so the
// generated name stays within 63 characters.
std::string podGenerateNameWithIndex(const std::string& job_name, int index);
// addCompletionIndexEnvVariables: JOB_COMPLETION_INDEX from the annotation
// for every container and init container that lacks it.
void addCompletionIndexEnvVariables(boost::json::object& pod_template);

}  // namespace berth::controllers
