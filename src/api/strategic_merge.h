#pragma once

#include <boost/json.hpp>
#include <string_view>

#include "api/schema.h"
#include "common/result.h"

namespace berth::api {

// Strategic merge patch (application/strategic-merge-patch+json), after
// k8s.io/apimachinery/pkg/util/strategicpatch StrategicMergeMapPatch as the
// apiserver runs it (MergeParallelList and IgnoreUnmatchedNulls on).
//
// The schema of the patched kind (SchemaType of kind kObject) drives list
// handling: a field with `merge=KEY` merges lists of objects by KEY, `merge`
// alone merges lists of scalars as sets, other lists are replaced; maps merge
// recursively and null deletes. Where the schema says nothing (schema ==
// nullptr, kAny, unknown field) the patch has merge-patch semantics: objects
// merge, lists are replaced.
//
// Directives: `$patch: replace|delete` on maps, `$patch: delete|replace` as a
// list element (`merge` in a list is refused as upstream does),
// `$setElementOrder/<field>`, `$retainKeys`, `$deleteFromPrimitiveList/<field>`.
//
// List order follows upstream: with $setElementOrder the patch order wins and
// server-only items keep their place relative to the live list; without it
// items named in the patch keep the patch's order, and a new item goes before
// the live items that follow it in the merge (upstream's mergeSortedSlice
// puts items it cannot place in the live order first).
//
// Errors, mirroring the apiserver's interpretStrategicMergePatchError:
//   kBadRequest "invalid JSON document" (doc not an object), "invalid patch
//     format of primitive list | retainKeys | setElementOrder list", and the
//     decoder's message for a patch that is not a JSON object;
//   kInvalid (generic 422) "lists of lists are not supported";
//   kInternal for everything else upstream returns unclassified (e.g. "map:
//     map[image:x] does not contain declared merge key: name").
//
// Differences from upstream, on purpose: values taken from the patch where the
// live object has nothing (new fields, new list items, replaced lists) are
// cleaned of nulls and of every directive key, not only of `$patch` maps, so
// that strict decoding of the result does not trip over `$setElementOrder`
// leftovers; a `$setElementOrder` for a list that is empty on both sides is a
// no-op instead of an error.
Result<boost::json::value> applyStrategicMergePatch(const boost::json::value& doc, const boost::json::value& patch,
                                                    const SchemaType* schema);

// Same, decoding the request body first (invalid JSON is kBadRequest).
Result<boost::json::value> applyStrategicMergePatchText(const boost::json::value& doc, std::string_view patch,
                                                        const SchemaType* schema);

}  // namespace berth::api
