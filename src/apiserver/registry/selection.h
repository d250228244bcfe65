#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/kind.h"
#include "common/result.h"

namespace berth::apiserver {

struct ObjectAttrs;

// A parsed labelSelector + fieldSelector pair for list and watch. Field
// selectors may only use metadata.name, metadata.namespace and the kind's
// selectable fields (400 otherwise, as upstream).
class Selection {
 public:
  static Result<Selection> parse(const api::KindInfo& kind, const std::string& label_selector,
                                 const std::string& field_selector);
  bool empty() const { return !matcher_; }
  bool matches(const ObjectAttrs& attrs) const { return !matcher_ || matcher_(attrs); }

 private:
  std::function<bool(const ObjectAttrs&)> matcher_;
};

// The canonical string form of a metav1.LabelSelector (or a map selector as
// ReplicationControllers use), as Scale.status.selector carries it.
std::string selectorString(const boost::json::value* selector);

}  // namespace berth::apiserver
