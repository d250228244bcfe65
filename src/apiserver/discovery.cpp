// Discovery (aggregated apidiscovery.k8s.io/v2 and the legacy documents) and
// a minimal OpenAPI v3, per KUBE-API.md.
#include <functional>
#include <map>
#include <mutex>

#include "api/object.h"
#include "api/openapi_schema.h"
#include "api/schema.h"
#include "apiserver/api_server.h"
#include "apiserver/status.h"

namespace berth::apiserver {

namespace json = boost::json;

namespace {

const std::vector<std::string>& allVerbs() {
  static const std::vector<std::string> v = {"create", "delete", "deletecollection", "get",
                                             "list",   "patch",  "update",           "watch"};
  return v;
}

json::array toArray(const std::vector<std::string>& v) {
  json::array a;
  for (auto& s : v) a.push_back(json::string(s));
  return a;
}

struct GroupInfo {
  std::string name;
  std::vector<std::string> versions;  // in registration order: first = preferred
};

std::vector<GroupInfo> groups(const api::KindRegistry& kinds) {
  std::vector<GroupInfo> out;
  for (const auto& k : kinds.all()) {
    if (k->group.empty()) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const GroupInfo& g) { return g.name == k->group; });
    if (it == out.end()) {
      out.push_back({k->group, {}});
      it = out.end() - 1;
    }
    if (std::find(it->versions.begin(), it->versions.end(), k->version) == it->versions.end())
      it->versions.push_back(k->version);
  }
  return out;
}

json::object gvk(const std::string& g, const std::string& v, const std::string& k) {
  return json::object{{"group", g}, {"version", v}, {"kind", k}};
}

// Subresources served for a kind: {name, responseKind, verbs}.
std::vector<std::tuple<std::string, json::object, std::vector<std::string>>> subresources(const api::KindInfo& k) {
  std::vector<std::tuple<std::string, json::object, std::vector<std::string>>> out;
  if (k.has_status) out.emplace_back("status", gvk(k.group, k.version, k.kind), std::vector<std::string>{"get", "patch", "update"});
  if (k.has_scale)
    out.emplace_back("scale", gvk("autoscaling", "v1", "Scale"), std::vector<std::string>{"get", "patch", "update"});
  if (k.group.empty() && k.kind == "Namespace")
    out.emplace_back("finalize", gvk("", "v1", "Namespace"), std::vector<std::string>{"update"});
  if (k.group.empty() && k.kind == "Pod")
    out.emplace_back("binding", gvk("", "v1", "Binding"), std::vector<std::string>{"create"});
  if (k.group.empty() && k.kind == "Pod")
    out.emplace_back("eviction", gvk("policy", "v1", "Eviction"),
                     std::vector<std::string>{"create"});
  return out;
}

json::object aggregatedVersion(const api::KindRegistry& kinds, const std::string& group, const std::string& version) {
  json::array resources;
  for (const auto& k : kinds.all()) {
    if (k->group != group || k->version != version) continue;
    json::object r;
    r["resource"] = k->resource;
    r["responseKind"] = gvk(k->group, k->version, k->kind);
    r["scope"] = k->namespaced ? "Namespaced" : "Cluster";
    r["singularResource"] = k->singular;
    r["verbs"] = toArray(k->verbs.empty() ? allVerbs() : k->verbs);
    if (!k->short_names.empty()) r["shortNames"] = toArray(k->short_names);
    if (!k->categories.empty()) r["categories"] = toArray(k->categories);
    json::array subs;
    for (auto& [name, kind, verbs] : subresources(*k))
      subs.push_back(json::object{{"subresource", name}, {"responseKind", kind}, {"verbs", toArray(verbs)}});
    if (!subs.empty()) r["subresources"] = std::move(subs);
    resources.push_back(std::move(r));
  }
  return json::object{{"version", version}, {"resources", std::move(resources)}, {"freshness", "Current"}};
}

json::object resourceList(const api::KindRegistry& kinds, const std::string& group, const std::string& version) {
  json::array resources;
  for (const auto& k : kinds.all()) {
    if (k->group != group || k->version != version) continue;
    json::object r;
    r["name"] = k->resource;
    r["singularName"] = k->singular;
    r["namespaced"] = k->namespaced;
    r["kind"] = k->kind;
    r["verbs"] = toArray(k->verbs.empty() ? allVerbs() : k->verbs);
    if (!k->short_names.empty()) r["shortNames"] = toArray(k->short_names);
    if (!k->categories.empty()) r["categories"] = toArray(k->categories);
    resources.push_back(std::move(r));
    for (auto& [name, kind, verbs] : subresources(*k)) {
      json::object s;
      s["name"] = k->resource + "/" + name;
      s["singularName"] = "";
      s["namespaced"] = k->namespaced;
      if (!json::value_to<std::string>(kind["group"]).empty()) s["group"] = kind["group"];
      // kubectl drain needs group and version of pods/eviction.
      if (name == "scale" || name == "eviction") s["version"] = "v1";
      s["kind"] = kind["kind"];
      s["verbs"] = toArray(verbs);
      resources.push_back(std::move(s));
    }
  }
  std::string gv = group.empty() ? version : group + "/" + version;
  return json::object{{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", gv},
                      {"resources", std::move(resources)}};
}

json::object apiGroup(const GroupInfo& g) {
  json::array versions;
  for (auto& v : g.versions)
    versions.push_back(json::object{{"groupVersion", g.name + "/" + v}, {"version", v}});
  json::object preferred{{"groupVersion", g.name + "/" + g.versions[0]}, {"version", g.versions[0]}};
  return json::object{{"name", g.name}, {"versions", std::move(versions)}, {"preferredVersion", std::move(preferred)}};
}

// Which aggregated discovery version the client accepts, "" for none.
std::string aggregatedAccept(const Request& req) {
  std::string_view accept = req.header("accept");
  if (accept.find("as=APIGroupDiscoveryList") == std::string_view::npos) return "";
  if (accept.find("v=v2;") != std::string_view::npos || accept.find("v=v2,") != std::string_view::npos ||
      (accept.find("v=v2") != std::string_view::npos && accept.find("v=v2beta1") == std::string_view::npos))
    return "v2";
  if (accept.find("v=v2beta1") != std::string_view::npos) {
    // Both may be listed; v2 is preferred when present anywhere.
    std::string a(accept);
    size_t pos = 0;
    while ((pos = a.find("v=v2", pos)) != std::string::npos) {
      if (a.compare(pos, 9, "v=v2beta1") != 0) return "v2";
      pos += 4;
    }
    return "v2beta1";
  }
  return "";
}

Response aggregated(json::array items, const std::string& version) {
  json::object list{{"kind", "APIGroupDiscoveryList"},
                    {"apiVersion", "apidiscovery.k8s.io/" + version},
                    {"metadata", json::object()},
                    {"items", std::move(items)}};
  return jsonResponse(200, json::serialize(list),
                      "application/json;g=apidiscovery.k8s.io;v=" + version + ";as=APIGroupDiscoveryList");
}

}  // namespace

Response discoveryResponse(const api::KindRegistry& kinds, const Request& req, bool* handled) {
  *handled = true;
  std::string p = req.path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::string agg = aggregatedAccept(req);
  if (p == "/api") {
    if (!agg.empty()) {
      json::array items;
      items.push_back(json::object{{"metadata", json::object{{"creationTimestamp", nullptr}}},
                                   {"versions", json::array{aggregatedVersion(kinds, "", "v1")}}});
      return aggregated(std::move(items), agg);
    }
    json::object v{{"kind", "APIVersions"},
                   {"versions", json::array{"v1"}},
                   {"serverAddressByClientCIDRs",
                    json::array{json::object{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", std::string(req.header("host"))}}}}};
    return jsonResponse(200, json::value(v));
  }
  if (p == "/apis") {
    auto gs = groups(kinds);
    if (!agg.empty()) {
      json::array items;
      for (auto& g : gs) {
        json::array versions;
        for (auto& v : g.versions) versions.push_back(aggregatedVersion(kinds, g.name, v));
        items.push_back(json::object{{"metadata", json::object{{"name", g.name}, {"creationTimestamp", nullptr}}},
                                     {"versions", std::move(versions)}});
      }
      return aggregated(std::move(items), agg);
    }
    json::array list;
    for (auto& g : gs) list.push_back(apiGroup(g));
    return jsonResponse(200, json::value(json::object{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(list)}}));
  }
  if (p == "/api/v1") return jsonResponse(200, json::value(resourceList(kinds, "", "v1")));
  if (p.compare(0, 6, "/apis/") == 0) {
    std::string rest = p.substr(6);
    auto slash = rest.find('/');
    auto gs = groups(kinds);
    if (slash == std::string::npos) {
      for (auto& g : gs) {
        if (g.name == rest) {
          json::object o = apiGroup(g);
          o["kind"] = "APIGroup";
          o["apiVersion"] = "v1";
          return jsonResponse(200, json::value(o));
        }
      }
      return errorResponse(makeError(ErrorCode::kNotFound, "the server could not find the requested resource"));
    }
    std::string group = rest.substr(0, slash), version = rest.substr(slash + 1);
    if (version.find('/') == std::string::npos) {
      for (auto& g : gs)
        if (g.name == group && std::find(g.versions.begin(), g.versions.end(), version) != g.versions.end())
          return jsonResponse(200, json::value(resourceList(kinds, group, version)));
      return errorResponse(makeError(ErrorCode::kNotFound, "the server could not find the requested resource"));
    }
  }
  *handled = false;
  return {};
}

namespace {
json::object openapiDoc(const api::KindRegistry& kinds, const std::string& group, const std::string& version) {
  json::object paths;
  json::object schemas;
  json::object field_validation{{"name", "fieldValidation"},
                                {"in", "query"},
                                {"description", "fieldValidation instructs the server on how to handle objects "
                                                "in the request containing unknown or duplicate fields."},
                                {"schema", json::object{{"type", "string"}, {"uniqueItems", true}}}};
  for (const auto& k : kinds.all()) {
    if (k->group != group || k->version != version) continue;
    std::string base = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    std::string item = base + (k->namespaced ? "/namespaces/{namespace}/" : "/") + k->resource + "/{name}";
    std::string coll = base + (k->namespaced ? "/namespaces/{namespace}/" : "/") + k->resource;
    json::object x{{"group", k->group}, {"version", k->version}, {"kind", k->kind}};
    auto op = [&](const char* verb, const char* action) {
      return json::object{{"operationId", std::string(verb) + k->kind},
                          {"parameters", json::array{field_validation}},
                          {"x-kubernetes-action", action},
                          {"x-kubernetes-group-version-kind", x}};
    };
    if (!k->ephemeral)
      paths[item] = json::object{{"patch", op("patch", "patch")}, {"put", op("replace", "put")},
                                 {"get", json::object{{"x-kubernetes-action", "get"}, {"x-kubernetes-group-version-kind", x}}}};
    paths[coll] = json::object{{"post", op("create", "post")}};
    if (auto type = api::SchemaRegistry::builtin().find(k->schema_type)) {
      api::OpenApiGvk g{k->group, k->version, k->kind};
      api::addOpenApiSchemas(*type, schemas, &g);
    }
  }
  return json::object{{"openapi", "3.0.0"},
                      {"info", json::object{{"title", "Kubernetes"}, {"version", "v1.32.2"}}},
                      {"paths", std::move(paths)},
                      {"components", json::object{{"schemas", std::move(schemas)}}}};
}

// The serialized OpenAPI document of a group version. The kinds never change
// after startup, so each document is built once.
const std::string& openapiText(const api::KindRegistry& kinds, const std::string& group, const std::string& version) {
  static std::mutex mu;
  static std::map<std::pair<const api::KindRegistry*, std::string>, std::string> cache;
  std::lock_guard lock(mu);
  auto& doc = cache[{&kinds, group + "/" + version}];
  if (doc.empty()) doc = json::serialize(openapiDoc(kinds, group, version));
  return doc;
}

std::string hashOf(const std::string& s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016zX", std::hash<std::string>{}(s));
  return buf;
}
}  // namespace

Response openapiResponse(const api::KindRegistry& kinds, const Request& req, bool* handled) {
  *handled = true;
  std::string p = req.path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p == "/openapi/v3") {
    json::object paths;
    auto add = [&](const std::string& g, const std::string& v) {
      std::string key = g.empty() ? "api/" + v : "apis/" + g + "/" + v;
      const std::string& doc = openapiText(kinds, g, v);
      paths[key] = json::object{{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + hashOf(doc)}};
    };
    add("", "v1");
    for (auto& g : groups(kinds))
      for (auto& v : g.versions) add(g.name, v);
    return jsonResponse(200, json::value(json::object{{"paths", std::move(paths)}}));
  }
  if (p.compare(0, 12, "/openapi/v3/") == 0) {
    std::string rest = p.substr(12);
    std::string group, version;
    if (rest.compare(0, 4, "api/") == 0) {
      version = rest.substr(4);
    } else if (rest.compare(0, 5, "apis/") == 0) {
      auto r = rest.substr(5);
      auto slash = r.find('/');
      if (slash == std::string::npos) {
        *handled = false;
        return {};
      }
      group = r.substr(0, slash);
      version = r.substr(slash + 1);
    }
    bool known = group.empty() ? version == "v1" : false;
    for (auto& g : groups(kinds))
      if (g.name == group && std::find(g.versions.begin(), g.versions.end(), version) != g.versions.end()) known = true;
    if (known) {
      Response r = jsonResponse(200, openapiText(kinds, group, version));
      r.headers.emplace_back("Cache-Control", "public, immutable");
      return r;
    }
  }
  *handled = false;
  return {};
}

}  // namespace berth::apiserver
