#include "api/kinds/events_v1.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "api/kinds/access.h"
#include "api/kinds/printing.h"
#include "api/validation.h"
#include "common/clock.h"

namespace berth::api {

namespace json = boost::json;

namespace {

const json::value* present(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

// Copies o[from] to out[to] when it is set (not absent or null); strings
// only when non-empty and numbers only when non-zero, which is what Go's
// omitempty does for the scalar fields involved.
void copyIfSet(const json::object& o, std::string_view from, json::object& out, std::string_view to) {
  const json::value* v = present(o, from);
  if (!v) return;
  if (v->is_string() && v->get_string().empty()) return;
  if (v->is_number() && asInt(v).value_or(1) == 0) return;
  out[to] = *v;
}

// A struct field without omitempty effect: always present, {} when unset.
json::value structOrEmpty(const json::object& o, std::string_view key) {
  const json::value* v = present(o, key);
  return v ? *v : json::value(json::object());
}

// metav1.Time / MicroTime: serialized as null when zero.
json::value timeOrNull(const json::object& o, std::string_view key) {
  const json::value* v = present(o, key);
  if (!v || (v->is_string() && v->get_string().empty())) return nullptr;
  return *v;
}

std::string str(const json::object& o, std::string_view key) { return asStr(o.if_contains(key)); }

// The time at key truncated to microseconds, or the zero time.
std::chrono::system_clock::time_point microTime(const json::object& o, std::string_view key) {
  std::chrono::system_clock::time_point t{};
  std::string s = str(o, key);
  if (!s.empty() && parseRfc3339(s, &t))
    return std::chrono::time_point_cast<std::chrono::microseconds>(t);
  return {};
}

// legacyValidateEvent with requestVersion events.k8s.io/v1.
void legacyValidate(const json::object& ev, FieldErrors& errs) {
  std::string ns = strAt(ev, {"metadata", "namespace"});
  std::string involved_ns = strAt(ev, {"involvedObject", "namespace"});
  if (str(ev, "eventTime").empty()) {
    // Old-style event: its namespace must agree with the involved object's.
    if (involved_ns.empty()) {
      if (!ns.empty() && ns != "default")
        errs.invalid("involvedObject.namespace", FieldErrors::quote(involved_ns), "does not match event.namespace");
    } else if (ns != involved_ns) {
      errs.invalid("involvedObject.namespace", FieldErrors::quote(involved_ns), "does not match event.namespace");
    }
  } else {
    if (involved_ns.empty() && ns != "default" && ns != "kube-system")
      errs.invalid("involvedObject.namespace", FieldErrors::quote(involved_ns), "does not match event.namespace");
    std::string controller = str(ev, "reportingComponent");
    if (controller.empty()) errs.required("reportingController");
    for (const auto& m : isQualifiedName(controller)) errs.invalid("reportingController", FieldErrors::quote(controller), m);
    std::string instance = str(ev, "reportingInstance");
    if (instance.empty()) errs.required("reportingInstance");
    if (instance.size() > 128) errs.invalid("reportingInstance", "\"\"", "can have at most 128 characters");
    std::string action = str(ev, "action");
    if (action.empty()) errs.required("action");
    if (action.size() > 128) errs.invalid("action", "\"\"", "can have at most 128 characters");
    std::string reason = str(ev, "reason");
    if (reason.empty()) errs.required("reason");
    if (reason.size() > 128) errs.invalid("reason", "\"\"", "can have at most 128 characters");
    if (str(ev, "message").size() > 1024) errs.invalid("message", "\"\"", "can have at most 1024 characters");
  }
  for (const auto& m : isDns1123Subdomain(ns)) errs.invalid("namespace", FieldErrors::quote(ns), m);
}

// validateV1EventSeries.
void validateSeries(const json::object& ev, FieldErrors& errs) {
  const json::object* series = asObj(present(ev, "series"));
  if (!series) return;
  if (intAt(*series, {"count"}).value_or(0) < 2) errs.invalid("series.count", "\"\"", "should be at least 2");
  if (str(*series, "lastObservedTime").empty()) errs.required("series.lastObservedTime");
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trimSpace(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n\r\v\f");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\n\r\v\f");
  return s.substr(b, e - b + 1);
}

}  // namespace

json::object eventsV1ToCore(const json::object& ev) {
  json::object out;
  out["kind"] = "Event";
  out["apiVersion"] = "v1";
  if (const json::value* m = present(ev, "metadata")) out["metadata"] = *m;
  out["involvedObject"] = structOrEmpty(ev, "regarding");
  copyIfSet(ev, "reason", out, "reason");
  copyIfSet(ev, "note", out, "message");
  out["source"] = structOrEmpty(ev, "deprecatedSource");
  out["firstTimestamp"] = timeOrNull(ev, "deprecatedFirstTimestamp");
  out["lastTimestamp"] = timeOrNull(ev, "deprecatedLastTimestamp");
  copyIfSet(ev, "deprecatedCount", out, "count");
  copyIfSet(ev, "type", out, "type");
  out["eventTime"] = timeOrNull(ev, "eventTime");
  copyIfSet(ev, "series", out, "series");
  copyIfSet(ev, "action", out, "action");
  copyIfSet(ev, "related", out, "related");
  out["reportingComponent"] = str(ev, "reportingController");
  out["reportingInstance"] = str(ev, "reportingInstance");
  return out;
}

json::object coreToEventsV1(const json::object& ev) {
  json::object out;
  out["kind"] = "Event";
  out["apiVersion"] = "events.k8s.io/v1";
  if (const json::value* m = present(ev, "metadata")) out["metadata"] = *m;
  out["eventTime"] = timeOrNull(ev, "eventTime");
  copyIfSet(ev, "series", out, "series");
  copyIfSet(ev, "reportingComponent", out, "reportingController");
  copyIfSet(ev, "reportingInstance", out, "reportingInstance");
  copyIfSet(ev, "action", out, "action");
  copyIfSet(ev, "reason", out, "reason");
  out["regarding"] = structOrEmpty(ev, "involvedObject");
  copyIfSet(ev, "related", out, "related");
  copyIfSet(ev, "message", out, "note");
  copyIfSet(ev, "type", out, "type");
  out["deprecatedSource"] = structOrEmpty(ev, "source");
  out["deprecatedFirstTimestamp"] = timeOrNull(ev, "firstTimestamp");
  out["deprecatedLastTimestamp"] = timeOrNull(ev, "lastTimestamp");
  copyIfSet(ev, "count", out, "deprecatedCount");
  return out;
}

void validateEventsV1Event(const json::object& ev, const json::object* old, FieldErrors& errs) {
  legacyValidate(ev, errs);
  if (!old) {
    validateObjectMeta(ev, nullptr, true, NameRule::kDns1123Subdomain, errs);
    validateSeries(ev, errs);
    if (str(ev, "eventTime").empty()) errs.required("eventTime");
    std::string type = str(ev, "type");
    if (type != "Normal" && type != "Warning") errs.invalid("type", "\"\"", "has invalid value: " + type);
    if (!str(ev, "firstTimestamp").empty()) errs.invalid("deprecatedFirstTimestamp", "\"\"", "needs to be unset");
    if (!str(ev, "lastTimestamp").empty()) errs.invalid("deprecatedLastTimestamp", "\"\"", "needs to be unset");
    if (intAt(ev, {"count"}).value_or(0) != 0) errs.invalid("deprecatedCount", "\"\"", "needs to be unset");
    if (!strAt(ev, {"source", "component"}).empty() || !strAt(ev, {"source", "host"}).empty())
      errs.invalid("deprecatedSource", "\"\"", "needs to be unset");
    return;
  }
  validateObjectMeta(ev, old, true, NameRule::kDns1123Subdomain, errs);
  if (!jsonEqual(present(ev, "series"), present(*old, "series"))) validateSeries(ev, errs);
  auto immutable = [&](std::string_view key) {
    validateImmutable(present(ev, key), present(*old, key), std::string(key), errs);
  };
  // Upstream's list, in its order (it checks reason twice).
  for (std::string_view key : {"involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp",
                               "count", "reason", "type"})
    immutable(key);
  // Sub-microsecond changes are tolerated (kubernetes#111928).
  if (microTime(ev, "eventTime") != microTime(*old, "eventTime")) immutable("eventTime");
  immutable("action");
  immutable("related");
  validateImmutable(present(ev, "reportingComponent"), present(*old, "reportingComponent"), "reportingController",
                    errs);
  immutable("reportingInstance");
}

std::vector<PrinterColumn> eventColumns() {
  return {column("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
          column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
          column("Reason", "string",
                 "This should be a short, machine understandable string that gives the reason for the transition "
                 "into the object's current status."),
          column("Object", "string", "The object that this event is about."),
          column("Subobject", "string",
                 "If referring to a piece of an object instead of an entire object, this string should contain a "
                 "valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
                 1),
          column("Source", "string", "The component reporting this event. Should be a short machine understandable string.",
                 1),
          column("Message", "string", "A human-readable description of the status of this operation."),
          column("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
                 1),
          column("Count", "string", "The number of times this event has occurred.", 1),
          column("Name", "string", "Name must be unique within a namespace.", 1, "name")};
}

json::array eventCells(const json::object& ev, const KindContext& ctx) {
  std::string first = timestampSince(present(ev, "firstTimestamp"), ctx.now);
  if (str(ev, "firstTimestamp").empty()) first = timestampSince(present(ev, "eventTime"), ctx.now);
  std::string last = timestampSince(present(ev, "lastTimestamp"), ctx.now);
  if (str(ev, "lastTimestamp").empty()) last = first;
  int64_t count = intAt(ev, {"count"}).value_or(0);
  if (const json::object* series = asObj(present(ev, "series"))) {
    last = timestampSince(at(*series, {"lastObservedTime"}), ctx.now);
    count = intAt(*series, {"count"}).value_or(0);
  } else if (count == 0) {
    // Singleton events don't have a count set in the new API.
    count = 1;
  }
  std::string kind = lower(strAt(ev, {"involvedObject", "kind"}));
  std::string name = strAt(ev, {"involvedObject", "name"});
  std::string target = name.empty() ? kind : kind + "/" + name;
  // formatEventSource: source.component/host, else reportingComponent/Instance.
  std::string component = strAt(ev, {"source", "component"});
  if (component.empty()) component = str(ev, "reportingComponent");
  std::string host = strAt(ev, {"source", "host"});
  if (host.empty()) host = str(ev, "reportingInstance");
  std::string source = host.empty() ? component : component + ", " + host;
  return json::array{last,
                     str(ev, "type"),
                     str(ev, "reason"),
                     target,
                     strAt(ev, {"involvedObject", "fieldPath"}),
                     source,
                     trimSpace(str(ev, "message")),
                     first,
                     count,
                     strAt(ev, {"metadata", "name"})};
}

void registerEventsV1Kind(KindRegistry& r) {
  KindInfo k;
  k.group = "events.k8s.io";
  k.version = "v1";
  k.kind = "Event";
  k.resource = "events";
  k.singular = "event";
  k.namespaced = true;
  k.short_names = {};  // "ev" belongs to core/v1 events; short names must be unique.
  k.schema_type = "events.v1.Event";
  k.storage_resource = "events";
  k.to_storage = eventsV1ToCore;
  k.from_storage = coreToEventsV1;
  k.validate = [](const Object& obj, const Object* old, FieldErrors& errs) {
    json::object core = eventsV1ToCore(obj);
    if (old) {
      json::object old_core = eventsV1ToCore(*old);
      validateEventsV1Event(core, &old_core, errs);
    } else {
      validateEventsV1Event(core, nullptr, errs);
    }
  };
  const KindInfo* core_event = r.byKind("", "v1", "Event");
  if (core_event && core_event->cells) {
    k.columns = core_event->columns;
    auto core_cells = core_event->cells;
    k.cells = [core_cells](const Object& obj, const KindContext& ctx) { return core_cells(eventsV1ToCore(obj), ctx); };
  } else {
    k.columns = eventColumns();
    k.cells = [](const Object& obj, const KindContext& ctx) { return eventCells(eventsV1ToCore(obj), ctx); };
  }
  // Field selectors in this version's names (upstream's field label
  // conversions map them onto the core fields).
  k.selectable_fields = [](const Object& obj) {
    std::map<std::string, std::string> f;
    for (const char* key : {"kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"})
      f[std::string("regarding.") + key] = strAt(obj, {"regarding", key});
    f["reportingController"] = strAt(obj, {"reportingController"});
    f["reason"] = strAt(obj, {"reason"});
    f["type"] = strAt(obj, {"type"});
    return f;
  };
  r.add(std::move(k));
}

}  // namespace berth::api
