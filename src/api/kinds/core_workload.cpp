// core/v1 ReplicationController and PodTemplate.

#include "api/kinds/access.h"
#include "api/kinds/core_kinds.h"
#include "api/kinds/pod_spec.h"
#include "api/kinds/printing.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

KindInfo replicationControllerKind() {
  KindInfo k = makeKind("", "v1", "ReplicationController", "replicationcontrollers", true, {"rc"}, {"all"});
  k.has_status = true;
  k.has_scale = true;
  k.defaults = [](Object& rc) {
    json::object& spec = ensureObj(rc, "spec");
    // SetDefaults_ReplicationController: selector and labels from the template.
    if (const json::object* labels = objAt(spec, {"template", "metadata", "labels"})) {
      json::object copy = *labels;
      const json::object* sel = objAt(spec, {"selector"});
      if (!sel || sel->empty()) spec["selector"] = copy;
      const json::object* own = objAt(rc, {"metadata", "labels"});
      if (!own || own->empty()) ensureObj(rc, "metadata")["labels"] = copy;
    }
    setDefault(spec, "replicas", 1);
    if (auto it = spec.find("template"); it != spec.end()) defaultPodTemplate(it->value());
  };
  k.validate = [](const Object& rc, const Object* old, FieldErrors& errs) {
    validateObjectMeta(rc, old, true, NameRule::kDns1123Subdomain, errs);
    static const json::object kEmpty;
    const json::object* sp = objAt(rc, {"spec"});
    const json::object& spec = sp ? *sp : kEmpty;
    validateNonnegative(at(spec, {"replicas"}), "spec.replicas", errs);
    validateNonnegative(at(spec, {"minReadySeconds"}), "spec.minReadySeconds", errs);
    auto selector = stringMap(at(spec, {"selector"}));
    if (selector.empty()) errs.required("spec.selector");
    else validateLabels(at(spec, {"selector"}), "spec.selector", errs);
    const json::value* tmpl = at(spec, {"template"});
    if (!tmpl) {
      errs.required("spec.template");
      return;
    }
    auto labels = stringMap(at(tmpl, {"metadata", "labels"}));
    if (!selector.empty()) {
      bool match = true;
      for (const auto& [k2, v] : selector)
        if (!labels.count(k2) || labels[k2] != v) match = false;
      if (!match)
        errs.invalid("spec.template.metadata.labels", goStringMapRepr(labels),
                     "`selector` does not match template `labels`");
    }
    validatePodTemplateSpec(tmpl, "spec.template", errs);
    validateTemplateForController(tmpl, "spec.template", "ReplicationController", errs);
  };
  k.columns = {
      column("Desired", "integer", "Replicas is the number of desired replicas."),
      column("Current", "integer", "Replicas is the most recently observed number of replicas."),
      column("Ready", "integer", "The number of ready replicas for this replication controller."),
      ageColumn(),
      column("Containers", "string", "Names of each container in the template.", 1),
      column("Images", "string", "Images referenced by each container in the template.", 1),
      column("Selector", "string", "Selector is a label query over pods that should match the Replicas count.", 1),
  };
  k.cells = [](const Object& rc, const KindContext& ctx) {
    std::string names, images;
    containerCells(at(rc, {"spec", "template", "spec", "containers"}), &names, &images);
    return json::array{intAt(rc, {"spec", "replicas"}).value_or(0), intAt(rc, {"status", "replicas"}).value_or(0),
                       intAt(rc, {"status", "readyReplicas"}).value_or(0), ageCell(rc, ctx), names, images,
                       formatSelectorMap(at(rc, {"spec", "selector"}))};
  };
  k.selectable_fields = [](const Object& rc) {
    return std::map<std::string, std::string>{
        {"status.replicas", std::to_string(intAt(rc, {"status", "replicas"}).value_or(0))}};
  };
  return k;
}

KindInfo podTemplateKind() {
  KindInfo k = makeKind("", "v1", "PodTemplate", "podtemplates", true);
  k.defaults = [](Object& pt) {
    if (auto it = pt.find("template"); it != pt.end()) defaultPodTemplate(it->value());
  };
  k.validate = [](const Object& pt, const Object* old, FieldErrors& errs) {
    validateObjectMeta(pt, old, true, NameRule::kDns1123Subdomain, errs);
    validatePodTemplateSpec(at(pt, {"template"}), "template", errs);
  };
  k.columns = {column("Containers", "string", "Names of each container in the template."),
               column("Images", "string", "Images referenced by each container in the template."),
               column("Pod Labels", "string", "The labels for the pod template.")};
  k.cells = [](const Object& pt, const KindContext&) {
    std::string names, images;
    containerCells(at(pt, {"template", "spec", "containers"}), &names, &images);
    return json::array{names, images, formatSelectorMap(at(pt, {"template", "metadata", "labels"}))};
  };
  return k;
}

}  // namespace berth::api
