#pragma once

// Matching helpers shared by several plugins, after
// k8s.io/component-helpers/scheduling/corev1 (nodeaffinity, taints).

#include <functional>
#include <optional>

#include "scheduler/framework.h"

namespace berth::scheduler {

// A NodeSelectorTerm against a node: expressions on labels and fields
// (metadata.name) all hold. An empty term or a malformed requirement
// (unknown operator, Gt/Lt without exactly one integer) matches nothing.
bool nodeSelectorTermMatches(const NodeSelectorTerm& term, const NodeData& node);
// Terms are ORed.
bool nodeSelectorTermsMatch(const std::vector<NodeSelectorTerm>& terms, const NodeData& node);
// nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): spec.nodeSelector
// and the required node affinity terms.
bool requiredNodeAffinityMatches(const PodInfo& pod, const NodeData& node);

// v1helper.TolerationsTolerateTaint.
bool tolerationsTolerateTaint(const std::vector<Toleration>& tolerations, const Taint& taint);
// v1helper.FindMatchingUntoleratedTaint over the taints `inclusion` accepts.
std::optional<Taint> findUntoleratedTaint(const std::vector<Taint>& taints,
                                          const std::vector<Toleration>& tolerations,
                                          const std::function<bool(const Taint&)>& inclusion);
// helper.DoNotScheduleTaintsFilterFunc: NoSchedule and NoExecute.
bool isDoNotScheduleTaint(const Taint& t);

// AffinityTerm.Matches: the pod is in one of the term's namespaces (or in a
// namespace whose labels match its namespace selector) and its labels match.
bool affinityTermMatches(const AffinityTerm& term, const PodInfo& pod, const LabelMap& ns_labels);

}  // namespace berth::scheduler
