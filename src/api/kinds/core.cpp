// core/v1: registration, and the configuration kinds (ConfigMap, Secret,
// Namespace, ServiceAccount, Event). Pods, Services, cluster and workload
// kinds live in core_*.cpp.

#include <boost/json.hpp>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/core_kinds.h"
#include "api/kinds/printing.h"
#include "api/validation.h"

namespace berth::api {

namespace json = boost::json;

namespace {

constexpr size_t kMaxSecretSize = 1024 * 1024;  // core.MaxSecretSize, also MaxConfigMapSize

std::string q(const std::string& s) { return FieldErrors::quote(s); }

// Decoded length of a base64 string (what upstream counts for Secret data).
size_t base64DecodedSize(std::string_view s) {
  size_t n = s.size();
  size_t pad = 0;
  while (n > 0 && s[n - 1] == '=' && pad < 2) --n, ++pad;
  return n * 3 / 4;
}

bool base64Decode(std::string_view in, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out->clear();
  int buf = 0, bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = val(c);
    if (v < 0) return false;
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return true;
}

std::string base64Encode(std::string_view in) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kChars[(n >> 18) & 63];
    out += kChars[(n >> 12) & 63];
    out += kChars[(n >> 6) & 63];
    out += kChars[n & 63];
  }
  if (i + 1 == in.size()) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    out += kChars[(n >> 18) & 63];
    out += kChars[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kChars[(n >> 18) & 63];
    out += kChars[(n >> 12) & 63];
    out += kChars[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

void validateDataKeys(const json::object* data, const std::string& path, FieldErrors& errs) {
  if (!data) return;
  for (const auto& kv : *data) {
    std::string k(kv.key());
    for (const auto& m : isConfigMapKey(k)) errs.invalid(path + "[" + k + "]", q(k), m);
  }
}

// The `immutable: true` rule shared by ConfigMap and Secret.
void validateImmutableData(const Object& obj, const Object& old, const std::vector<const char*>& fields,
                           FieldErrors& errs) {
  if (!boolAt(old, {"immutable"}).value_or(false)) return;
  if (!boolAt(obj, {"immutable"}).value_or(false))
    errs.forbidden("immutable", "field is immutable when `immutable` is set");
  for (const char* f : fields)
    if (!jsonEqual(at(obj, {f}), at(old, {f}))) errs.forbidden(f, "field is immutable when `immutable` is set");
}

size_t countKeys(const Object& obj, const char* field) {
  const json::object* o = objAt(obj, {field});
  return o ? o->size() : 0;
}

KindInfo configMapKind() {
  KindInfo k = makeKind("", "v1", "ConfigMap", "configmaps", true, {"cm"});
  k.validate = [](const Object& cm, const Object* old, FieldErrors& errs) {
    validateObjectMeta(cm, old, true, NameRule::kDns1123Subdomain, errs);
    const json::object* data = objAt(cm, {"data"});
    const json::object* binary = objAt(cm, {"binaryData"});
    validateDataKeys(data, "data", errs);
    validateDataKeys(binary, "binaryData", errs);
    size_t total = 0;
    if (data)
      for (const auto& kv : *data) total += asStr(&kv.value()).size();
    if (binary)
      for (const auto& kv : *binary) {
        total += base64DecodedSize(asStr(&kv.value()));
        if (data && data->contains(kv.key()))
          errs.invalid("data[" + std::string(kv.key()) + "]", q(std::string(kv.key())),
                       "duplicate of key present in binaryData");
      }
    if (total > kMaxSecretSize) errs.tooLong("", "", static_cast<int>(kMaxSecretSize));
    if (old) validateImmutableData(cm, *old, {"data", "binaryData"}, errs);
  };
  k.columns = {column("Data", "string", "Data contains the configuration data."), ageColumn()};
  k.cells = [](const Object& cm, const KindContext& ctx) {
    return json::array{static_cast<int64_t>(countKeys(cm, "data") + countKeys(cm, "binaryData")), ageCell(cm, ctx)};
  };
  return k;
}

void validateSecretType(const Object& s, FieldErrors& errs) {
  std::string type = strAt(s, {"type"});
  const json::object* data = objAt(s, {"data"});
  auto has = [&](const char* key) { return data && !asStr(at(*data, {key})).empty(); };
  auto requireJson = [&](const char* key) {
    if (!has(key)) {
      errs.required(std::string("data[") + key + "]");
      return;
    }
    std::string decoded;
    boost::system::error_code ec;
    if (!base64Decode(asStr(at(*data, {key})), &decoded) || (json::parse(decoded, ec), ec))
      errs.invalid(std::string("data[") + key + "]", "\"<secret contents redacted>\"",
                   "invalid character in secret JSON");
  };
  if (type == "kubernetes.io/service-account-token") {
    if (strAt(s, {"metadata", "annotations", "kubernetes.io/service-account.name"}).empty())
      errs.required("metadata.annotations[kubernetes.io/service-account.name]");
  } else if (type == "kubernetes.io/dockercfg") {
    requireJson(".dockercfg");
  } else if (type == "kubernetes.io/dockerconfigjson") {
    requireJson(".dockerconfigjson");
  } else if (type == "kubernetes.io/basic-auth") {
    if (!has("username") && !has("password")) {
      errs.required("data[username]");
      errs.required("data[password]");
    }
  } else if (type == "kubernetes.io/ssh-auth") {
    if (!has("ssh-privatekey")) errs.required("data[ssh-privatekey]");
  } else if (type == "kubernetes.io/tls") {
    if (!has("tls.crt")) errs.required("data[tls.crt]");
    if (!has("tls.key")) errs.required("data[tls.key]");
  }
}

KindInfo secretKind() {
  KindInfo k = makeKind("", "v1", "Secret", "secrets", true);
  k.defaults = [](Object& s) {
    if (isZero(s, "type")) s["type"] = "Opaque";
    // Convert_v1_Secret_To_core_Secret: stringData entries overwrite data.
    if (const json::object* sd = objAt(s, {"stringData"})) {
      json::object copy = *sd;
      json::object& data = ensureObj(s, "data");
      for (const auto& kv : copy) data[kv.key()] = base64Encode(asStr(&kv.value()));
    }
    s.erase("stringData");
  };
  k.validate = [](const Object& s, const Object* old, FieldErrors& errs) {
    validateObjectMeta(s, old, true, NameRule::kDns1123Subdomain, errs);
    const json::object* data = objAt(s, {"data"});
    validateDataKeys(data, "data", errs);
    size_t total = 0;
    if (data)
      for (const auto& kv : *data) total += kv.key().size() + base64DecodedSize(asStr(&kv.value()));
    if (total > kMaxSecretSize) errs.tooLong("data", "", static_cast<int>(kMaxSecretSize));
    validateSecretType(s, errs);
    if (old) {
      validateImmutable(at(s, {"type"}), at(*old, {"type"}), "type", errs);
      validateImmutableData(s, *old, {"data"}, errs);
    }
  };
  k.columns = {column("Type", "string", "The type of the secret"),
               column("Data", "string", "The number of entries in the secret data"), ageColumn()};
  k.cells = [](const Object& s, const KindContext& ctx) {
    return json::array{strAt(s, {"type"}), static_cast<int64_t>(countKeys(s, "data")), ageCell(s, ctx)};
  };
  k.selectable_fields = [](const Object& s) {
    return std::map<std::string, std::string>{{"type", strAt(s, {"type"})}};
  };
  return k;
}

KindInfo namespaceKind() {
  KindInfo k = makeKind("", "v1", "Namespace", "namespaces", false, {"ns"});
  k.has_status = true;
  k.defaults = [](Object& ns) {
    std::string name = strAt(ns, {"metadata", "name"});
    if (!name.empty()) ensureObj(ensureObj(ns, "metadata"), "labels")["kubernetes.io/metadata.name"] = name;
    json::object& status = ensureObj(ns, "status");
    if (isZero(status, "phase")) status["phase"] = "Active";
  };
  k.validate = [](const Object& ns, const Object* old, FieldErrors& errs) {
    validateObjectMeta(ns, old, false, NameRule::kDns1123Label, errs);
    if (const json::array* fins = arrAt(ns, {"spec", "finalizers"}))
      for (const auto& f : *fins) {
        std::string name = asStr(&f);
        for (const auto& m : isQualifiedName(name)) errs.invalid("spec.finalizers", q(name), m);
        if (name.find('/') == std::string::npos && name != "kubernetes")
          errs.invalid("spec.finalizers", q(name), "name is neither a standard finalizer name nor is it fully qualified");
      }
  };
  k.prepare = [](Object& ns, const Object* old) {
    if (!old) {
      // namespaceStrategy.PrepareForCreate.
      ensureObj(ns, "spec")["finalizers"] = json::array{"kubernetes"};
      ns["status"] = json::object{{"phase", "Active"}};
      return;
    }
    // Finalizers change only through the finalize subresource.
    json::object& spec = ensureObj(ns, "spec");
    if (const json::value* f = at(*old, {"spec", "finalizers"})) spec["finalizers"] = *f;
    else spec.erase("finalizers");
  };
  k.columns = {column("Status", "string", "The status of the namespace"), ageColumn()};
  k.cells = [](const Object& ns, const KindContext& ctx) {
    return json::array{strAt(ns, {"status", "phase"}), ageCell(ns, ctx)};
  };
  k.selectable_fields = [](const Object& ns) {
    return std::map<std::string, std::string>{{"status.phase", strAt(ns, {"status", "phase"})}};
  };
  return k;
}

KindInfo serviceAccountKind() {
  KindInfo k = makeKind("", "v1", "ServiceAccount", "serviceaccounts", true, {"sa"});
  k.validate = [](const Object& sa, const Object* old, FieldErrors& errs) {
    validateObjectMeta(sa, old, true, NameRule::kDns1123Subdomain, errs);
  };
  k.columns = {column("Secrets", "string",
                      "Secrets is a list of the secrets in the same namespace that pods running using this "
                      "ServiceAccount are allowed to use."),
               ageColumn()};
  k.cells = [](const Object& sa, const KindContext& ctx) {
    const json::array* secrets = arrAt(sa, {"secrets"});
    return json::array{static_cast<int64_t>(secrets ? secrets->size() : 0), ageCell(sa, ctx)};
  };
  return k;
}

std::string eventSource(const Object& ev) {
  std::string component = strAt(ev, {"source", "component"});
  std::string host = strAt(ev, {"source", "host"});
  std::vector<std::string> parts{component};
  if (!host.empty()) parts.push_back(host);
  if (component.empty() && host.empty()) {
    parts = {strAt(ev, {"reportingComponent"})};
    if (!strAt(ev, {"reportingInstance"}).empty()) parts.push_back(strAt(ev, {"reportingInstance"}));
  }
  return join(parts, ", ");
}

KindInfo eventKind() {
  KindInfo k = makeKind("", "v1", "Event", "events", true, {"ev"});
  k.validate = [](const Object& ev, const Object* old, FieldErrors& errs) {
    validateObjectMeta(ev, old, true, NameRule::kDns1123Subdomain, errs);
    // ValidateEventCreate (core/v1 rules): the involved object lives in the
    // event's namespace unless it is cluster-scoped.
    std::string ns = strAt(ev, {"metadata", "namespace"});
    std::string obj_ns = strAt(ev, {"involvedObject", "namespace"});
    if (!obj_ns.empty() && obj_ns != ns)
      errs.invalid("involvedObject.namespace", q(obj_ns), "does not match event.namespace");
    std::string type = strAt(ev, {"type"});
    if (!type.empty() && type != "Normal" && type != "Warning")
      errs.notSupported("type", q(type), {"Normal", "Warning"});
    if (strAt(ev, {"reason"}).size() > 128) errs.tooLong("reason", "", 128);
    if (strAt(ev, {"message"}).size() > 4096) errs.tooLong("message", "", 4096);
  };
  k.columns = {
      column("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
      column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
      column("Reason", "string", "This should be a short, machine understandable string that gives the reason for "
                                 "the transition into the object's current status."),
      column("Object", "string", "The object that this event is about."),
      column("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string "
                                    "should contain a valid JSON/Go field access statement.", 1),
      column("Source", "string", "The component reporting this event. Should be a short machine understandable "
                                 "string.", 1),
      column("Message", "string", "A human-readable description of the status of this operation."),
      column("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in "
                                     "TypeMeta.)", 1),
      column("Count", "string", "The number of times this event has occurred.", 1),
      column("Name", "string", "Name must be unique within a namespace.", 1, "name"),
  };
  k.cells = [](const Object& ev, const KindContext& ctx) {
    std::string first = strAt(ev, {"firstTimestamp"});
    std::string first_cell = timestampSince(first.empty() ? strAt(ev, {"eventTime"}) : first, ctx.now);
    std::string last = strAt(ev, {"lastTimestamp"});
    std::string last_cell = last.empty() ? first_cell : timestampSince(last, ctx.now);
    int64_t count = intAt(ev, {"count"}).value_or(0);
    if (objAt(ev, {"series"})) {
      last_cell = timestampSince(strAt(ev, {"series", "lastObservedTime"}), ctx.now);
      count = intAt(ev, {"series", "count"}).value_or(0);
    } else if (count == 0) {
      count = 1;
    }
    std::string kind = strAt(ev, {"involvedObject", "kind"});
    for (auto& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string name = strAt(ev, {"involvedObject", "name"});
    std::string target = name.empty() ? kind : kind + "/" + name;
    std::string message = strAt(ev, {"message"});
    size_t b = message.find_first_not_of(" \t\r\n"), e = message.find_last_not_of(" \t\r\n");
    message = b == std::string::npos ? "" : message.substr(b, e - b + 1);
    return json::array{last_cell,
                       strAt(ev, {"type"}),
                       strAt(ev, {"reason"}),
                       target,
                       strAt(ev, {"involvedObject", "fieldPath"}),
                       eventSource(ev),
                       message,
                       first_cell,
                       count,
                       strAt(ev, {"metadata", "name"})};
  };
  k.selectable_fields = [](const Object& ev) {
    std::string source = strAt(ev, {"source", "component"});
    if (source.empty()) source = strAt(ev, {"reportingComponent"});
    return std::map<std::string, std::string>{
        {"involvedObject.kind", strAt(ev, {"involvedObject", "kind"})},
        {"involvedObject.namespace", strAt(ev, {"involvedObject", "namespace"})},
        {"involvedObject.name", strAt(ev, {"involvedObject", "name"})},
        {"involvedObject.uid", strAt(ev, {"involvedObject", "uid"})},
        {"involvedObject.apiVersion", strAt(ev, {"involvedObject", "apiVersion"})},
        {"involvedObject.resourceVersion", strAt(ev, {"involvedObject", "resourceVersion"})},
        {"involvedObject.fieldPath", strAt(ev, {"involvedObject", "fieldPath"})},
        {"reason", strAt(ev, {"reason"})},
        {"reportingComponent", strAt(ev, {"reportingComponent"})},
        {"source", source},
        {"type", strAt(ev, {"type"})},
    };
  };
  return k;
}

}  // namespace

void registerCoreKinds(KindRegistry& r) {
  r.add(podKind());
  r.add(serviceKind());
  r.add(endpointsKind());
  r.add(namespaceKind());
  r.add(configMapKind());
  r.add(secretKind());
  r.add(serviceAccountKind());
  r.add(eventKind());
  r.add(nodeKind());
  r.add(persistentVolumeKind());
  r.add(persistentVolumeClaimKind());
  r.add(resourceQuotaKind());
  r.add(limitRangeKind());
  r.add(replicationControllerKind());
  r.add(podTemplateKind());
}

}  // namespace berth::api
