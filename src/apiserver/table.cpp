// meta.k8s.io/v1 Table output for kubectl get.
#include "api/object.h"
#include "apiserver/api_server.h"

namespace berth::apiserver {

namespace json = boost::json;

bool wantsTable(const Request& req) {
  std::string_view accept = req.header("accept");
  return accept.find("as=Table") != std::string_view::npos && accept.find("g=meta.k8s.io") != std::string_view::npos;
}

json::object tableFor(const api::KindInfo& kind, const std::vector<api::Object>& objects,
                      const std::string& include_object, bool with_columns,
                      std::chrono::system_clock::time_point now) {
  json::object table;
  table["kind"] = "Table";
  table["apiVersion"] = "meta.k8s.io/v1";
  table["metadata"] = json::object();
  // Kinds whose columns carry their own name column (events: NAME is a wide
  // column at the end) get no leading NAME.
  bool own_name = false;
  for (const auto& c : kind.columns)
    if (c.format == "name") own_name = true;
  if (with_columns) {
    json::array cols;
    if (!own_name) cols.push_back(json::object{{"name", "Name"},
                                {"type", "string"},
                                {"format", "name"},
                                {"description", "Name must be unique within a namespace."},
                                {"priority", 0}});
    if (kind.columns.empty() || !kind.cells) {
      cols.push_back(json::object{{"name", "Age"}, {"type", "string"}, {"format", ""},
                                  {"description", "CreationTimestamp is a timestamp representing the server time "
                                                  "when this object was created."},
                                  {"priority", 0}});
    } else {
      for (const auto& c : kind.columns)
        cols.push_back(json::object{{"name", c.name}, {"type", c.type}, {"format", c.format},
                                    {"description", c.description}, {"priority", c.priority}});
    }
    table["columnDefinitions"] = std::move(cols);
  } else {
    table["columnDefinitions"] = nullptr;
  }
  json::array rows;
  api::KindContext ctx{now};
  for (const auto& obj : objects) {
    json::array cells;
    if (!own_name) cells.push_back(json::string(api::name(obj)));
    if (kind.columns.empty() || !kind.cells) {
      std::string ts = api::getStringPath(obj, "metadata.creationTimestamp");
      std::chrono::system_clock::time_point t;
      cells.push_back(json::string(parseRfc3339(ts, &t) ? humanDuration(now - t) : "<unknown>"));
    } else {
      for (auto& c : kind.cells(obj, ctx)) cells.push_back(c);
    }
    json::object row{{"cells", std::move(cells)}};
    if (include_object == "Object") {
      row["object"] = obj;
    } else if (include_object != "None") {
      json::object partial{{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}};
      if (auto* md = api::metadata(obj)) partial["metadata"] = *md;
      row["object"] = std::move(partial);
    }
    rows.push_back(std::move(row));
  }
  table["rows"] = std::move(rows);
  return table;
}

}  // namespace berth::apiserver
