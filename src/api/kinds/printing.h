#pragma once

// Helpers for table cells, after the helpers in upstream's
// pkg/printers/internalversion/printers.go and apimachinery's label
// formatting. Shared by all kind files.

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "api/kind.h"

namespace berth::api {

// translateTimestampSince: "<unknown>" for a missing/unparsable timestamp,
// else berth::humanDuration(now - t).
std::string timestampSince(const boost::json::value* rfc3339, std::chrono::system_clock::time_point now);
std::string timestampSince(const std::string& rfc3339, std::chrono::system_clock::time_point now);
// The AGE cell: timestampSince(metadata.creationTimestamp).
std::string ageCell(const boost::json::object& obj, const KindContext& ctx);

std::string join(const std::vector<std::string>& parts, const std::string& sep);
// "<none>" when s is empty.
std::string noneIfEmpty(const std::string& s);

// labels.FormatLabels: sorted k=v joined by ",", "<none>" when empty.
std::string formatLabels(const std::map<std::string, std::string>& labels);
// metav1.FormatLabelSelector for a metav1.LabelSelector JSON value:
// requirements sorted by key ("k=v", "k in (a,b)", "k notin (a)", "k",
// "!k"), "<none>" for nil or empty selectors.
std::string formatLabelSelector(const boost::json::value* selector);
// A map selector (Service, ReplicationController spec.selector) as
// labels.SelectorFromSet(...).String(); "<none>" when empty.
std::string formatSelectorMap(const boost::json::value* selector);

// layoutContainerCells: container names and images, comma-joined, from a
// PodSpec's containers array (wide columns CONTAINERS and IMAGES).
void containerCells(const boost::json::value* containers, std::string* names, std::string* images);

// Standard column definitions.
PrinterColumn column(const std::string& name, const std::string& type, const std::string& description,
                     int priority = 0, const std::string& format = "");
PrinterColumn ageColumn();

}  // namespace berth::api
