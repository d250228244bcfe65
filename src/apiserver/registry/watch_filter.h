#pragma once

#include <optional>

#include "api/kind.h"
#include "apiserver/registry/selection.h"
#include "storage/store.h"

namespace berth::apiserver {

// What a watcher with `selection` sees of one store event (not a bookmark),
// as upstream's cacheWatcher decides it (convertToWatchEvent): an object that
// starts matching the selectors is ADDED, one that stops matching is DELETED
// (carrying its new state), and a change to an object that matches neither
// before nor after is not seen. Shared by the REST watch stream and the
// in-process client so that both filter alike.
//
// Returns nullopt when the watcher does not see the event; otherwise the
// event type to report, with `*kv` set to the decorated value (resourceVersion
// injected, ObjectAttrs attached).
std::optional<storage::EventType> selectWatchEvent(const api::KindRegistry& kinds,
                                                   const Selection& selection,
                                                   const storage::Event& event,
                                                   storage::KeyValue* kv);

}  // namespace berth::apiserver
