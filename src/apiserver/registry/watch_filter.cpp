#include "apiserver/registry/watch_filter.h"

#include "apiserver/registry/registry.h"

namespace berth::apiserver {

std::optional<storage::EventType> selectWatchEvent(const api::KindRegistry& kinds,
                                                   const Selection& selection,
                                                   const storage::Event& event,
                                                   storage::KeyValue* kv) {
  // The watch cache decorates every value; values straight from a backend
  // (a resume point older than the cache) are decorated here.
  *kv = event.kv.decoded ? event.kv : Registry::decorate(kinds, event.kv);
  auto* attrs = static_cast<const ObjectAttrs*>(kv->decoded.get());
  if (!attrs) return std::nullopt;
  if (selection.empty()) return event.type;
  const bool now_matches = selection.matches(*attrs);
  if (event.type != storage::EventType::kModified) {
    if (!now_matches) return std::nullopt;
    return event.type;
  }
  bool was_matching = false;
  if (event.prev_value) {
    storage::KeyValue prev{kv->key, event.prev_value, kv->create_revision, kv->mod_revision,
                           nullptr};
    prev = Registry::decorate(kinds, std::move(prev));
    if (auto* pa = static_cast<const ObjectAttrs*>(prev.decoded.get()))
      was_matching = selection.matches(*pa);
  }
  if (now_matches && !was_matching) return storage::EventType::kAdded;
  if (!now_matches && was_matching) return storage::EventType::kDeleted;
  if (!now_matches) return std::nullopt;
  return storage::EventType::kModified;
}

}  // namespace berth::apiserver
