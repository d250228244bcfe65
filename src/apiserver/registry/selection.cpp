#include "apiserver/registry/selection.h"

#include "api/object.h"
#include "api/selector.h"
#include "apiserver/registry/registry.h"

namespace berth::apiserver {

Result<Selection> Selection::parse(const api::KindInfo& kind, const std::string& label_selector,
                                   const std::string& field_selector) {
  Selection s;
  std::shared_ptr<api::LabelSelector> labels;
  std::shared_ptr<api::FieldSelector> fields;
  if (!label_selector.empty()) {
    BERTH_ASSIGN_OR_RETURN(auto l, api::LabelSelector::parse(label_selector));
    if (!l.empty()) labels = std::make_shared<api::LabelSelector>(std::move(l));
  }
  if (!field_selector.empty()) {
    BERTH_ASSIGN_OR_RETURN(auto f, api::FieldSelector::parse(field_selector));
    std::vector<std::string> supported = {"metadata.name", "metadata.namespace"};
    if (kind.selectable_fields)
      for (auto& [name, v] : kind.selectable_fields(api::Object())) supported.push_back(name);
    BERTH_RETURN_IF_ERROR(f.checkSupported(supported));
    if (!f.empty()) fields = std::make_shared<api::FieldSelector>(std::move(f));
  }
  if (labels || fields) {
    s.matcher_ = [labels, fields](const ObjectAttrs& a) {
      if (labels && !labels->matches(a.labels)) return false;
      if (fields && !fields->matches(a.fields)) return false;
      return true;
    };
  }
  return s;
}

std::string selectorString(const boost::json::value* selector) {
  if (!selector || !selector->is_object()) return "";
  const auto& o = selector->get_object();
  // A LabelSelector has matchLabels/matchExpressions; a ReplicationController
  // selector is a plain label map.
  if (o.contains("matchLabels") || o.contains("matchExpressions")) {
    auto sel = api::LabelSelector::fromObject(selector);
    return sel.ok() ? sel->toString() : "";
  }
  api::LabelMap set;
  for (auto& [k, v] : o)
    if (v.is_string()) set.emplace(std::string(k), std::string(v.get_string()));
  return api::LabelSelector::fromSet(set).toString();
}

}  // namespace berth::apiserver
