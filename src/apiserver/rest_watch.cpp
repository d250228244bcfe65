// Watch streams: GET ...?watch=true, one JSON event per line, from the
// watch cache, filtered by namespace and selectors.
#include "api/object.h"
#include "apiserver/api_server.h"
#include "apiserver/registry/selection.h"
#include "apiserver/registry/watch_filter.h"
#include "apiserver/status.h"
#include "common/log.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

namespace {

struct WatchState {
  std::mutex mu;
  std::shared_ptr<StreamWriter> writer;
  std::vector<std::shared_ptr<const std::string>> buffered;
  std::unique_ptr<storage::WatchHandle> handle;
  Timers::Id timer = 0;
  bool done = false;
  bool columns_sent = false;
};

const char* typeName(storage::EventType t) {
  switch (t) {
    case storage::EventType::kAdded: return "ADDED";
    case storage::EventType::kModified: return "MODIFIED";
    case storage::EventType::kDeleted: return "DELETED";
    case storage::EventType::kBookmark: return "BOOKMARK";
  }
  return "ERROR";
}
}  // namespace

void ApiServer::handleWatch(const Request& req, const ResourcePath& path,
                            const std::shared_ptr<Responder>& responder) {
  const api::KindInfo& kind = *path.kind;
  std::string field_selector(req.queryParam("fieldSelector"));
  if (!path.name.empty()) {
    field_selector = "metadata.name=" + path.name + (field_selector.empty() ? "" : "," + field_selector);
  }
  auto sel = Selection::parse(kind, std::string(req.queryParam("labelSelector")), field_selector);
  if (!sel.ok()) return responder->respond(errorResponse(sel.error()));
  storage::WatchOptions wo;
  wo.prefix = Registry::prefix(kind, path.namespace_);
  wo.bookmarks = req.queryParam("allowWatchBookmarks") == "true";
  std::string rv(req.queryParam("resourceVersion"));
  if (rv.empty() || rv == "0") {
    wo.initial_state = true;
  } else {
    bool ok;
    wo.after_revision = parseResourceVersion(rv, &ok);
    if (!ok) return responder->respond(errorResponse(badRequest("invalid resource version \"" + rv + "\"")));
  }
  int timeout = options_.default_watch_seconds;
  if (auto t = req.queryParam("timeoutSeconds"); !t.empty()) {
    bool ok;
    timeout = static_cast<int>(parseResourceVersion(std::string(t), &ok));
    if (!ok) return responder->respond(errorResponse(badRequest("invalid timeoutSeconds")));
  }
  const bool table = wantsTable(req);
  const api::KindInfo& sk = registry_.storageKind(kind);
  const bool convert = &sk != &kind;
  auto state = std::make_shared<WatchState>();
  auto selection = std::make_shared<Selection>(std::move(sel).value());
  const api::KindRegistry& kinds = registry_.kinds();
  Registry* registry = &registry_;
  const size_t max_pending = options_.max_watch_pending_bytes;
  auto now_fn = [registry] { return registry->clock().now(); };

  auto encode = [&kind, table, convert, registry, state, now_fn](const char* type,
                                                                 const storage::KeyValue& kv) -> std::string {
    std::string out = "{\"type\":\"";
    out += type;
    out += "\",\"object\":";
    if (!table && !convert) {
      out += *kv.value;
    } else {
      json::error_code ec;
      auto v = json::parse(*kv.value, ec);
      if (ec || !v.is_object()) return {};
      Object obj = registry->fromStorage(kind, std::move(v.get_object()));
      if (table) {
        out += json::serialize(tableFor(kind, {obj}, "Metadata", !state->columns_sent, now_fn()));
        state->columns_sent = true;
      } else {
        out += json::serialize(obj);
      }
    }
    out += "}\n";
    return out;
  };

  auto deliver = [state, max_pending](std::string line) {
    auto chunk = std::make_shared<const std::string>(std::move(line));
    std::shared_ptr<StreamWriter> writer;
    {
      std::lock_guard lock(state->mu);
      if (state->done) return;
      if (!state->writer) {
        state->buffered.push_back(std::move(chunk));
        return;
      }
      writer = state->writer;
    }
    if (writer->pendingBytes() > max_pending) {
      // A consumer this far behind is cut off, as upstream's cacher does;
      // clients re-list and watch again.
      BERTH_LOG(kWarning, "watch") << "closing slow watch pending_bytes=" << writer->pendingBytes();
      {
        std::lock_guard lock(state->mu);
        state->done = true;
      }
      writer->finish();
      return;
    }
    writer->write(std::move(chunk));
  };

  storage::WatchSink sink;
  sink.on_event = [=, &kinds, &kind](const storage::Event& ev) {
    if (ev.type == storage::EventType::kBookmark) {
      if (!wo.bookmarks) return;
      std::string line = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"" + kind.kind + "\",\"apiVersion\":\"" +
                         kind.groupVersion() + "\",\"metadata\":{\"resourceVersion\":\"" +
                         std::to_string(ev.kv.mod_revision) + "\"}}}\n";
      deliver(std::move(line));
      return;
    }
    storage::KeyValue kv;
    auto type = selectWatchEvent(kinds, *selection, ev, &kv);
    if (!type) return;
    std::string line = encode(typeName(*type), kv);
    if (!line.empty()) deliver(std::move(line));
  };
  sink.on_close = [state](const Error& e) {
    std::shared_ptr<StreamWriter> writer;
    {
      std::lock_guard lock(state->mu);
      state->done = true;
      writer = state->writer;
    }
    if (writer) writer->finish();
  };

  auto handle = registry_.store().watch(wo, std::move(sink));
  if (!handle.ok()) {
    Error e = handle.error();
    if (e.code == ErrorCode::kExpired && e.message.empty()) e.message = "too old resource version";
    return responder->respond(errorResponse(e));
  }
  auto writer = responder->startStream(200, {{"Content-Type", "application/json"}});
  std::vector<std::shared_ptr<const std::string>> buffered;
  {
    std::lock_guard lock(state->mu);
    state->handle = std::move(handle).value();
    buffered.swap(state->buffered);
    state->writer = writer;
  }
  for (auto& chunk : buffered) writer->write(std::move(chunk));
  Timers* timers = &timers_;
  auto cleanup = [state, timers] {
    std::unique_ptr<storage::WatchHandle> h;
    Timers::Id timer;
    std::shared_ptr<StreamWriter> w;
    {
      std::lock_guard lock(state->mu);
      state->done = true;
      h = std::move(state->handle);
      timer = state->timer;
      w = std::move(state->writer);
    }
    if (timer) timers->cancel(timer);
    h.reset();
    if (w) w->finish();
  };
  writer->onClosed([cleanup] { cleanup(); });
  auto timer = timers_.after(std::chrono::seconds(timeout), [state, timers] {
    std::unique_ptr<storage::WatchHandle> h;
    std::shared_ptr<StreamWriter> w;
    {
      std::lock_guard lock(state->mu);
      state->done = true;
      state->timer = 0;
      h = std::move(state->handle);
      w = std::move(state->writer);
    }
    h.reset();
    if (w) w->finish();
  });
  std::lock_guard lock(state->mu);
  if (!state->done) state->timer = timer;
}

}  // namespace berth::apiserver
