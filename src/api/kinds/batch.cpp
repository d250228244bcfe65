// batch/v1: Job and CronJob, after upstream pkg/apis/batch/v1/defaults.go,
// pkg/apis/batch/validation/validation.go, the job strategy's
// generateSelector and printers.go.

#include <sstream>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/core_kinds.h"
#include "api/kinds/pod_spec.h"
#include "api/kinds/printing.h"
#include "api/validation.h"
#include "common/clock.h"

namespace berth::api {

namespace json = boost::json;

namespace {

constexpr const char* kJobNameLabel = "batch.kubernetes.io/job-name";
constexpr const char* kLegacyJobNameLabel = "job-name";
constexpr const char* kControllerUidLabel = "batch.kubernetes.io/controller-uid";
constexpr const char* kLegacyControllerUidLabel = "controller-uid";

std::string q(const std::string& s) { return FieldErrors::quote(s); }

const json::object& specOf(const Object& obj) {
  static const json::object kEmpty;
  const json::object* s = objAt(obj, {"spec"});
  return s ? *s : kEmpty;
}

bool conditionTrue(const Object& obj, const std::string& type) {
  if (const json::array* conds = arrAt(obj, {"status", "conditions"}))
    for (const auto& c : *conds)
      if (const json::object* co = asObj(&c); co && strAt(*co, {"type"}) == type && strAt(*co, {"status"}) == "True")
        return true;
  return false;
}

void defaultJob(Object& job) {
  json::object& spec = ensureObj(job, "spec");
  if (!at(spec, {"completions"}) && !at(spec, {"parallelism"})) {
    spec["completions"] = 1;
    spec["parallelism"] = 1;
  }
  setDefault(spec, "parallelism", 1);
  if (!at(spec, {"backoffLimit"})) spec["backoffLimit"] = at(spec, {"backoffLimitPerIndex"}) ? 2147483647 : 6;
  if (const json::object* labels = objAt(spec, {"template", "metadata", "labels"})) {
    const json::object* own = objAt(job, {"metadata", "labels"});
    if (!own || own->empty()) ensureObj(job, "metadata")["labels"] = *labels;
  }
  setDefault(spec, "completionMode", "NonIndexed");
  setDefault(spec, "suspend", false);
  setDefault(spec, "podReplacementPolicy", at(spec, {"podFailurePolicy"}) ? "Failed" : "TerminatingOrFailed");
  if (auto it = spec.find("template"); it != spec.end()) defaultPodTemplate(it->value());
}

// The job strategy's generateSelector (PrepareForCreate, unless manualSelector).
void generateSelector(Object& job) {
  std::string name = strAt(job, {"metadata", "name"});
  std::string uid = strAt(job, {"metadata", "uid"});
  json::object& spec = ensureObj(job, "spec");
  json::object& labels = ensureObj(ensureObj(ensureObj(spec, "template"), "metadata"), "labels");
  for (const char* key : {kLegacyJobNameLabel, kJobNameLabel})
    if (!labels.contains(key)) labels[key] = name;
  for (const char* key : {kLegacyControllerUidLabel, kControllerUidLabel})
    if (!labels.contains(key)) labels[key] = uid;
  json::object& match = ensureObj(ensureObj(spec, "selector"), "matchLabels");
  if (!match.contains(kControllerUidLabel)) match[kControllerUidLabel] = uid;
}

void validateHasLabel(const json::object& tmpl_meta_labels_parent, const std::string& key, const std::string& value,
                      FieldErrors& errs) {
  auto labels = stringMap(at(tmpl_meta_labels_parent, {"labels"}));
  std::string path = "spec.template.metadata.labels[" + key + "]";
  auto it = labels.find(key);
  if (it == labels.end()) errs.required(path, "must be '" + value + "'");
  else if (it->second != value) errs.invalid(path, q(it->second), "must be '" + value + "'");
}

// validateJobSpec without the selector (shared with CronJob's jobTemplate).
void validateJobSpecCommon(const json::object& spec, const std::string& path, FieldErrors& errs) {
  for (const char* f : {"parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                        "ttlSecondsAfterFinished"})
    validateNonnegative(at(spec, {f}), path + "." + f, errs);
  std::string mode = strAt(spec, {"completionMode"});
  if (!mode.empty() && mode != "NonIndexed" && mode != "Indexed")
    errs.notSupported(path + ".completionMode", q(mode), {"NonIndexed", "Indexed"});
  if (mode == "Indexed" && !at(spec, {"completions"}))
    errs.required(path + ".completions", "when completion mode is Indexed");
  if ((mode.empty() || mode == "NonIndexed") && at(spec, {"backoffLimitPerIndex"}))
    errs.invalid(path + ".backoffLimitPerIndex", valueRepr(at(spec, {"backoffLimitPerIndex"})),
                 "requires indexed completion mode");
  std::string rpp = strAt(spec, {"podReplacementPolicy"});
  if (!rpp.empty()) {
    if (at(spec, {"podFailurePolicy"})) {
      if (rpp != "Failed") errs.notSupported(path + ".podReplacementPolicy", q(rpp), {"Failed"});
    } else if (rpp != "Failed" && rpp != "TerminatingOrFailed") {
      errs.notSupported(path + ".podReplacementPolicy", q(rpp), {"Failed", "TerminatingOrFailed"});
    }
  }
  const json::value* tmpl = at(spec, {"template"});
  validatePodTemplateSpec(tmpl, path + ".template", errs);
  std::string rp = tmpl ? asStr(at(tmpl, {"spec", "restartPolicy"})) : "";
  if (rp == "Always" || rp.empty())
    errs.required(path + ".template.spec.restartPolicy", "valid values: \"OnFailure\", \"Never\"");
  else if (rp != "OnFailure" && rp != "Never")
    errs.notSupported(path + ".template.spec.restartPolicy", q(rp), {"OnFailure", "Never"});
  else if (at(spec, {"podFailurePolicy"}) && rp != "Never")
    errs.invalid(path + ".template.spec.restartPolicy", q(rp), "only \"Never\" is supported when podFailurePolicy is "
                                                              "specified");
}

void validateJob(const Object& job, const Object* old, FieldErrors& errs) {
  validateObjectMeta(job, old, true, NameRule::kDns1123Subdomain, errs);
  const json::object& spec = specOf(job);
  bool manual = boolAt(spec, {"manualSelector"}).value_or(false);
  const json::value* selector = at(spec, {"selector"});
  // validateGeneratedSelector.
  if (!manual && selector && objAt(spec, {"template", "metadata", "labels"})) {
    std::string uid = strAt(job, {"metadata", "uid"});
    if (uid.empty()) errs.required("metadata.uid");
    const json::object* meta = objAt(spec, {"template", "metadata"});
    std::string name = strAt(job, {"metadata", "name"});
    validateHasLabel(*meta, kLegacyControllerUidLabel, uid, errs);
    validateHasLabel(*meta, kControllerUidLabel, uid, errs);
    validateHasLabel(*meta, kLegacyJobNameLabel, name, errs);
    validateHasLabel(*meta, kJobNameLabel, name, errs);
    if (!labelSelectorMatches(selector, {{kControllerUidLabel, uid}}))
      errs.invalid("spec.selector", goLabelSelectorRepr(selector), "`selector` not auto-generated");
  }
  if (!selector) {
    errs.required("spec.selector");
  } else {
    validateLabelSelector(selector, "spec.selector", errs);
    auto labels = stringMap(at(spec, {"template", "metadata", "labels"}));
    if (!labelSelectorMatches(selector, labels))
      errs.invalid("spec.template.metadata.labels", goStringMapRepr(labels),
                   "`selector` does not match template `labels`");
  }
  validateJobSpecCommon(spec, "spec", errs);
  if (!old) return;
  // ValidateJobSpecUpdate.
  const json::object& old_spec = specOf(*old);
  validateImmutable(at(spec, {"selector"}), at(old_spec, {"selector"}), "spec.selector", errs);
  validateImmutable(at(spec, {"completionMode"}), at(old_spec, {"completionMode"}), "spec.completionMode", errs);
  validateImmutable(at(spec, {"podFailurePolicy"}), at(old_spec, {"podFailurePolicy"}), "spec.podFailurePolicy", errs);
  if (strAt(spec, {"completionMode"}) != "Indexed" ||
      !jsonEqual(at(spec, {"completions"}), at(spec, {"parallelism"})))
    validateImmutable(at(spec, {"completions"}), at(old_spec, {"completions"}), "spec.completions", errs);
  // A suspended job that never started may change its pod scheduling
  // directives, labels and annotations; otherwise the template is fixed.
  json::value now_t = at(spec, {"template"}) ? *at(spec, {"template"}) : json::value();
  json::value old_t = at(old_spec, {"template"}) ? *at(old_spec, {"template"}) : json::value();
  bool suspended = boolAt(old_spec, {"suspend"}).value_or(false) && !at(*old, {"status", "startTime"});
  if (suspended && now_t.is_object() && old_t.is_object()) {
    for (json::value* t : {&now_t, &old_t}) {
      json::object& to = t->as_object();
      if (auto m = to.find("metadata"); m != to.end() && m->value().is_object()) {
        m->value().as_object().erase("labels");
        m->value().as_object().erase("annotations");
      }
      if (auto s = to.find("spec"); s != to.end() && s->value().is_object())
        for (const char* f : {"nodeSelector", "tolerations", "affinity", "schedulingGates"})
          s->value().as_object().erase(f);
    }
  }
  if (!jsonEqual(&now_t, &old_t)) errs.immutable("spec.template", valueRepr(at(spec, {"template"})));
}

KindInfo jobKind() {
  KindInfo k = makeKind("batch", "v1", "Job", "jobs", true, {}, {"all"});
  k.has_status = true;
  k.defaults = defaultJob;
  k.validate = validateJob;
  k.prepare = [](Object& job, const Object* old) {
    if (old) return;
    if (!boolAt(job, {"spec", "manualSelector"}).value_or(false)) generateSelector(job);
    // Upstream's defaulter copies the template labels onto the Job when it
    // has none; that happens again when the stored object is read, so the
    // generated labels show up on the Job. Do it here once.
    const json::object* own = objAt(job, {"metadata", "labels"});
    const json::object* tl = objAt(job, {"spec", "template", "metadata", "labels"});
    if ((!own || own->empty()) && tl) ensureObj(job, "metadata")["labels"] = *tl;
  };
  k.columns = {column("Status", "string", "Status of the job."),
               column("Completions", "string", "The completion status of the job."),
               column("Duration", "string", "Time required to complete the job."), ageColumn(),
               column("Containers", "string", "Names of each container in the template.", 1),
               column("Images", "string", "Images referenced by each container in the template.", 1),
               column("Selector", "string", "Query over pods that should match the pod count.", 1)};
  k.cells = [](const Object& job, const KindContext& ctx) {
    int64_t succeeded = intAt(job, {"status", "succeeded"}).value_or(0);
    std::string completions;
    if (auto c = intAt(job, {"spec", "completions"})) {
      completions = std::to_string(succeeded) + "/" + std::to_string(*c);
    } else {
      int64_t parallelism = intAt(job, {"spec", "parallelism"}).value_or(0);
      completions = parallelism > 1 ? std::to_string(succeeded) + "/1 of " + std::to_string(parallelism)
                                    : std::to_string(succeeded) + "/1";
    }
    std::string duration;
    std::chrono::system_clock::time_point start, end;
    if (parseRfc3339(strAt(job, {"status", "startTime"}), &start)) {
      if (parseRfc3339(strAt(job, {"status", "completionTime"}), &end)) duration = humanDuration(end - start);
      else duration = humanDuration(ctx.now - start);
    }
    std::string status = "Running";
    if (conditionTrue(job, "Complete")) status = "Complete";
    else if (conditionTrue(job, "Failed")) status = "Failed";
    else if (at(job, {"metadata", "deletionTimestamp"})) status = "Terminating";
    else if (conditionTrue(job, "Suspended")) status = "Suspended";
    else if (conditionTrue(job, "FailureTarget")) status = "FailureTarget";
    else if (conditionTrue(job, "SuccessCriteriaMet")) status = "SuccessCriteriaMet";
    std::string names, images;
    containerCells(at(job, {"spec", "template", "spec", "containers"}), &names, &images);
    return json::array{status,        completions, duration,
                       ageCell(job, ctx), names,   images,
                       formatLabelSelector(at(job, {"spec", "selector"}))};
  };
  k.selectable_fields = [](const Object& job) {
    return std::map<std::string, std::string>{
        {"status.successful", std::to_string(intAt(job, {"status", "succeeded"}).value_or(0))}};
  };
  return k;
}

// A light check of the cron grammar robfig/cron's standard parser accepts:
// five fields or a descriptor. Returns the problem, or "".
std::string cronScheduleProblem(const std::string& schedule) {
  if (schedule.rfind("TZ=", 0) == 0 || schedule.rfind("CRON_TZ=", 0) == 0) return "";
  if (!schedule.empty() && schedule[0] == '@') {
    static const char* kDescriptors[] = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"};
    for (const char* d : kDescriptors)
      if (schedule == d) return "";
    if (schedule.rfind("@every ", 0) == 0) return "";
    return "unrecognized descriptor: " + schedule;
  }
  std::istringstream in(schedule);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() != 5) {
    std::string list;
    for (size_t i = 0; i < fields.size(); ++i) list += (i ? " " : "") + fields[i];
    return "expected exactly 5 fields, found " + std::to_string(fields.size()) + ": [" + list + "]";
  }
  for (const auto& f : fields)
    for (char c : f)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '*' && c != '/' && c != ',' && c != '-' && c != '?')
        return "failed to parse int from " + f;
  return "";
}

KindInfo cronJobKind() {
  KindInfo k = makeKind("batch", "v1", "CronJob", "cronjobs", true, {"cj"}, {"all"});
  k.has_status = true;
  k.defaults = [](Object& cj) {
    json::object& spec = ensureObj(cj, "spec");
    if (isZero(spec, "concurrencyPolicy")) spec["concurrencyPolicy"] = "Allow";
    setDefault(spec, "suspend", false);
    setDefault(spec, "successfulJobsHistoryLimit", 3);
    setDefault(spec, "failedJobsHistoryLimit", 1);
    if (json::object* jt = const_cast<json::object*>(objAt(spec, {"jobTemplate", "spec"})))
      if (auto it = jt->find("template"); it != jt->end()) defaultPodTemplate(it->value());
  };
  k.validate = [](const Object& cj, const Object* old, FieldErrors& errs) {
    validateObjectMeta(cj, old, true, NameRule::kDns1123Subdomain, errs);
    std::string name = strAt(cj, {"metadata", "name"});
    if (name.size() > 52) errs.invalid("metadata.name", q(name), "must be no more than 52 characters");
    const json::object& spec = specOf(cj);
    std::string schedule = strAt(spec, {"schedule"});
    if (schedule.empty()) {
      errs.required("spec.schedule");
    } else {
      std::string problem = cronScheduleProblem(schedule);
      if (!problem.empty()) errs.invalid("spec.schedule", q(schedule), problem);
      if (schedule.find("TZ=") != std::string::npos)
        errs.invalid("spec.schedule", q(schedule), "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
    }
    std::string policy = strAt(spec, {"concurrencyPolicy"});
    if (policy.empty()) errs.required("spec.concurrencyPolicy");
    else if (policy != "Allow" && policy != "Forbid" && policy != "Replace")
      errs.notSupported("spec.concurrencyPolicy", q(policy), {"Allow", "Forbid", "Replace"});
    for (const char* f : {"startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"})
      validateNonnegative(at(spec, {f}), std::string("spec.") + f, errs);
    const json::object* jt = objAt(spec, {"jobTemplate", "spec"});
    static const json::object kEmpty;
    validateJobSpecCommon(jt ? *jt : kEmpty, "spec.jobTemplate.spec", errs);
  };
  k.columns = {column("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
               column("Timezone", "string", "The time zone name for the given schedule."),
               column("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions."),
               column("Active", "integer", "A list of pointers to currently running jobs."),
               column("Last Schedule", "string", "Information when was the last time the job was successfully "
                                                 "scheduled."),
               ageColumn(),
               column("Containers", "string", "Names of each container in the template.", 1),
               column("Images", "string", "Images referenced by each container in the template.", 1),
               column("Selector", "string", "Query over pods that should match the pod count.", 1)};
  k.cells = [](const Object& cj, const KindContext& ctx) {
    std::string last = "<none>";
    if (at(cj, {"status", "lastScheduleTime"}))
      last = timestampSince(at(cj, {"status", "lastScheduleTime"}), ctx.now);
    auto suspend = boolAt(cj, {"spec", "suspend"});
    const json::array* active = arrAt(cj, {"status", "active"});
    std::string names, images;
    containerCells(at(cj, {"spec", "jobTemplate", "spec", "template", "spec", "containers"}), &names, &images);
    return json::array{strAt(cj, {"spec", "schedule"}),
                       strAt(cj, {"spec", "timeZone"}, "<none>"),
                       suspend ? (*suspend ? "True" : "False") : "<unset>",
                       static_cast<int64_t>(active ? active->size() : 0),
                       last,
                       ageCell(cj, ctx),
                       names,
                       images,
                       formatLabelSelector(at(cj, {"spec", "jobTemplate", "spec", "selector"}))};
  };
  return k;
}

}  // namespace

void registerBatchKinds(KindRegistry& r) {
  r.add(jobKind());
  r.add(cronJobKind());
}

}  // namespace berth::api
