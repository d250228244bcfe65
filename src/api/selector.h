#pragma once

#include <boost/json.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace berth::api {

// Label and field selectors, after k8s.io/apimachinery/pkg/labels and
// pkg/fields: the string forms used by ?labelSelector= and ?fieldSelector=,
// and metav1.LabelSelector objects (spec.selector of workloads).

using LabelMap = std::map<std::string, std::string, std::less<>>;

// selection.Operator.
enum class SelectorOp { kIn, kNotIn, kEquals, kDoubleEquals, kNotEquals, kExists, kDoesNotExist, kGreaterThan, kLessThan };

struct LabelRequirement {
  std::string key;
  SelectorOp op = SelectorOp::kExists;
  // Sorted and de-duplicated when parsed from a string (upstream keeps a
  // sets.String); as given when built from a LabelSelector object.
  std::vector<std::string> values;

  // `lookup(key)` returns the label's value, or nullopt when absent.
  bool matches(const std::function<std::optional<std::string_view>(std::string_view)>& lookup) const;
  // Requirement.String(): "a=b", "a!=b", "a in (x,y)", "!a", "a>3".
  std::string toString() const;
};

class LabelSelector {
 public:
  // Matches everything (labels.Everything()).
  LabelSelector() = default;
  // Matches nothing (labels.Nothing(); a nil *LabelSelector).
  static LabelSelector nothing();

  // labels.Parse. Errors are kBadRequest with upstream's message, e.g.
  //   unable to parse requirement: <nil>: Invalid value: "-a": name part must ...
  //   found ')', expected: !, identifier, or 'end of string'
  static Result<LabelSelector> parse(std::string_view text);

  // metav1.LabelSelectorAsSelector on a metav1.LabelSelector JSON object
  // {matchLabels, matchExpressions}. A null/absent selector (nullptr or JSON
  // null) matches nothing; an empty one matches everything. Errors
  // (kBadRequest) name the bad operator or requirement as upstream does.
  static Result<LabelSelector> fromObject(const boost::json::value* selector);

  // labels.SelectorFromSet: key=value for every entry, no validation.
  static LabelSelector fromSet(const LabelMap& set);

  bool matches(const LabelMap& labels) const;
  // `labels` is metadata.labels (may be nullptr: no labels).
  bool matches(const boost::json::object* labels) const;

  // True for the selector that matches everything.
  bool empty() const { return !nothing_ && requirements_.empty(); }
  bool matchesNothing() const { return nothing_; }
  // Requirements sorted by key (stable), as upstream's internalSelector.
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

  // Selector.String(): requirements joined by ",". This is the canonical form
  // written to Scale status.selector and the like. "" for everything and for
  // nothing.
  std::string toString() const;

  // RequiresExactMatch: the single value `key` must equal, if any.
  std::optional<std::string> requiresExactMatch(std::string_view key) const;

 private:
  bool nothing_ = false;
  std::vector<LabelRequirement> requirements_;
};

using FieldMap = std::map<std::string, std::string, std::less<>>;

struct FieldRequirement {
  std::string field;
  bool equals = true;  // false for "!="
  std::string value;   // unescaped
};

// fields.ParseSelector: `a=b`, `a==b`, `a!=b` joined by commas; values escape
// `\`, `,` and `=` with a backslash. A missing field reads as "".
class FieldSelector {
 public:
  FieldSelector() = default;

  static Result<FieldSelector> parse(std::string_view text);

  bool matches(const FieldMap& fields) const;
  bool matches(const std::function<std::string(std::string_view)>& get) const;

  bool empty() const { return requirements_.empty(); }
  const std::vector<FieldRequirement>& requirements() const { return requirements_; }
  // The distinct field names used, in order of first appearance.
  std::vector<std::string> fieldNames() const;
  // kBadRequest "field label not supported: <field>" for the first field not
  // in `supported` (mirrors the per-kind field label conversion functions).
  Status checkSupported(const std::vector<std::string>& supported) const;

  std::optional<std::string> requiresExactMatch(std::string_view field) const;
  // Selector.String() with values escaped.
  std::string toString() const;

 private:
  std::vector<FieldRequirement> requirements_;
};

// Validators with upstream's messages (content.IsLabelKey / IsLabelValue),
// used by the selector parser.
std::vector<std::string> labelKeyErrors(std::string_view key);
std::vector<std::string> labelValueErrors(std::string_view value);

}  // namespace berth::api
