#include "api/strategic_merge.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "api/patch.h"

namespace berth::api {

namespace json = boost::json;

namespace {

// Directive spellings, as strategicpatch's constants.
constexpr std::string_view kDirectiveMarker = "$patch";
constexpr std::string_view kDeleteDirective = "delete";
constexpr std::string_view kReplaceDirective = "replace";
constexpr std::string_view kMergeDirective = "merge";
constexpr std::string_view kRetainKeysDirective = "$retainKeys";
constexpr std::string_view kDeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList";
constexpr std::string_view kSetElementOrderPrefix = "$setElementOrder";

// mergepatch's sentinel errors and how the apiserver classifies them.
Error badRequest(std::string msg) { return makeError(ErrorCode::kBadRequest, std::move(msg)); }
Error unclassified(std::string msg) { return makeError(ErrorCode::kInternal, std::move(msg)); }
Error errBadJsonDoc() { return badRequest("invalid JSON document"); }
Error errPrimitiveListFormat() { return badRequest("invalid patch format of primitive list"); }
Error errRetainKeysFormat() { return badRequest("invalid patch format of retainKeys"); }
Error errSetElementOrderFormat() { return badRequest("invalid patch format of setElementOrder list"); }
Error errNoListOfLists() { return patchNotApplicableError(); }  // "lists of lists are not supported"

bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Go's dynamic type of a decoded JSON value (ints are int64 because the
// apiserver decodes with UnmarshalCaseSensitivePreserveInts).
enum class GoType { kNil, kBool, kInt, kFloat, kString, kMap, kSlice };

GoType goType(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return GoType::kNil;
    case json::kind::bool_: return GoType::kBool;
    case json::kind::int64:
    case json::kind::uint64: return GoType::kInt;
    case json::kind::double_: return GoType::kFloat;
    case json::kind::string: return GoType::kString;
    case json::kind::object: return GoType::kMap;
    case json::kind::array: return GoType::kSlice;
  }
  return GoType::kNil;
}

const char* goTypeName(const json::value& v) {
  switch (goType(v)) {
    case GoType::kNil: return "<nil>";
    case GoType::kBool: return "bool";
    case GoType::kInt: return "int64";
    case GoType::kFloat: return "float64";
    case GoType::kString: return "string";
    case GoType::kMap: return "map[string]interface {}";
    case GoType::kSlice: return "[]interface {}";
  }
  return "<nil>";
}

Error errBadArgType(const char* expected, const json::value& actual) {
  return unclassified(std::string("expected a ") + expected + ", but received a " + goTypeName(actual));
}
Error errNoMergeKey(const json::value& m, std::string_view key) {
  return unclassified("map: " + goFormat(m) + " does not contain declared merge key: " + std::string(key));
}

// Key identifying a scalar under Go's interface ==; nullopt for maps and
// slices, which Go cannot compare (upstream would panic; here they never
// match).
std::optional<std::string> identity(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return std::string("n");
    case json::kind::bool_: return std::string(v.get_bool() ? "b1" : "b0");
    case json::kind::int64: return "i" + std::to_string(v.get_int64());
    case json::kind::uint64: return "i" + std::to_string(v.get_uint64());
    case json::kind::double_: {
      double d = v.get_double();
      if (d == 0) d = 0;  // -0 == 0 in Go
      char buf[sizeof(double)];
      std::memcpy(buf, &d, sizeof d);
      return "f" + std::string(buf, sizeof buf);
    }
    case json::kind::string: return "s" + std::string(v.get_string());
    default: return std::nullopt;
  }
}

// The value `index()` compares: the merge key's value for maps (nil when the
// key is absent, as a Go map lookup), the item itself for scalars.
std::optional<std::string> orderIdentity(const json::value& item, std::string_view merge_key, bool is_map) {
  if (!is_map) return identity(item);
  const auto* obj = item.if_object();
  if (!obj) return std::string("n");
  auto it = obj->find(merge_key);
  return it == obj->end() ? std::string("n") : identity(it->value());
}

// First position of each identity in a list: upstream's index() without the
// quadratic scan.
class OrderIndex {
 public:
  OrderIndex(const json::array& order, std::string_view merge_key, bool is_map) : merge_key_(merge_key), is_map_(is_map) {
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (auto id = orderIdentity(order[i], merge_key, is_map)) first_.emplace(std::move(*id), static_cast<long>(i));
    }
  }
  long find(const json::value& item) const {
    auto id = orderIdentity(item, merge_key_, is_map_);
    if (!id) return -1;
    auto it = first_.find(*id);
    return it == first_.end() ? -1 : it->second;
  }

 private:
  std::string merge_key_;
  bool is_map_;
  std::unordered_map<std::string, long> first_;
};

// Where the schema knows a field: its type and (for lists) its strategy.
struct FieldMeta {
  const SchemaType* type = nullptr;
  const SchemaField* field = nullptr;
  bool merge() const { return field && field->merge; }
  std::string_view mergeKey() const { return field ? std::string_view(field->merge_key) : std::string_view(); }
  const SchemaType* elem() const {
    return type && type->kind == SchemaKind::kArray ? type->elem.get() : nullptr;
  }
};

FieldMeta lookupField(const SchemaType* t, std::string_view key) {
  if (!t) return {};
  if (t->kind == SchemaKind::kObject) {
    for (const auto& f : t->fields)
      if (f.json_name == key) return {f.type.get(), &f};
    return {};
  }
  if (t->kind == SchemaKind::kMap) return {t->elem.get(), nullptr};
  return {};
}

bool isDirectiveKey(std::string_view k) {
  return k == kDirectiveMarker || k == kRetainKeysDirective || startsWith(k, kSetElementOrderPrefix) ||
         startsWith(k, kDeleteFromPrimitiveListPrefix);
}

// discardNullValuesFromPatch + removeDirectives for values that land in the
// result without being merged. Returns false when the value itself is a
// directive map and must be dropped.
bool cleanPatchValue(json::value& v) {
  if (auto* obj = v.if_object()) {
    if (obj->contains(kDirectiveMarker)) return false;
    for (auto it = obj->begin(); it != obj->end();) {
      if (it->value().is_null() || isDirectiveKey(it->key()) || !cleanPatchValue(it->value())) {
        it = obj->erase(it);
      } else {
        ++it;
      }
    }
  } else if (auto* arr = v.if_array()) {
    json::array kept;
    kept.reserve(arr->size());
    for (auto& e : *arr)
      if (cleanPatchValue(e)) kept.push_back(std::move(e));
    *arr = std::move(kept);
  }
  return true;
}

// sliceElementType: every element of both lists must have the same Go type,
// and lists of lists are refused. Returns nullopt when both are empty.
Result<std::optional<GoType>> sliceElementType(const json::array& a, const json::array& b) {
  std::optional<GoType> prev;
  for (const json::array* s : {&a, &b}) {
    for (const auto& v : *s) {
      GoType t = goType(v);
      if (!prev) {
        if (t == GoType::kSlice) return errNoListOfLists();
        prev = t;
      } else if (*prev != t) {
        return unclassified("list element types are not identical: [" + goFormat(json::value(a)) + " " +
                            goFormat(json::value(b)) + "]");
      }
    }
  }
  return prev;
}

Status validateMergeKeyInList(std::string_view merge_key, const json::array& list) {
  for (const auto& item : list) {
    const auto* m = item.if_object();
    if (!m) return errBadArgType("map[string]interface {}", item);
    if (!m->contains(merge_key)) return errNoMergeKey(item, merge_key);
  }
  return okStatus();
}

bool isDeleteItem(const json::value& v) {
  const auto* m = v.if_object();
  if (!m) return false;
  auto it = m->find(kDirectiveMarker);
  return it != m->end() && it->value().is_string() && it->value().get_string() == kDeleteDirective;
}

// normalizeSliceOrder: sorts `to_sort` by the position of each item in
// `order` (items absent from it first), `$patch: delete` items last.
Result<json::array> normalizeSliceOrder(json::array to_sort, const json::array& order, std::string_view merge_key,
                                        bool is_map) {
  json::array to_delete;
  if (is_map) {
    BERTH_RETURN_IF_ERROR(validateMergeKeyInList(merge_key, to_sort));
    BERTH_RETURN_IF_ERROR(validateMergeKeyInList(merge_key, order));
    json::array keep;
    for (auto& v : to_sort) (isDeleteItem(v) ? to_delete : keep).push_back(std::move(v));
    to_sort = std::move(keep);
  }
  OrderIndex index(order, merge_key, is_map);
  std::vector<std::pair<long, std::size_t>> keys;
  keys.reserve(to_sort.size());
  for (std::size_t i = 0; i < to_sort.size(); ++i) keys.emplace_back(index.find(to_sort[i]), i);
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json::array out;
  out.reserve(to_sort.size() + to_delete.size());
  for (const auto& k : keys) out.push_back(std::move(to_sort[k.second]));
  for (auto& v : to_delete) out.push_back(std::move(v));
  return out;
}

// mergeSortedSlice: interleaves server-only items (left) with patch items
// (right); a server-only item goes first only when both are found in the live
// order and it precedes the patch item there.
json::array mergeSortedSlice(json::array left, json::array right, const json::array& server_order,
                             std::string_view merge_key, bool is_map) {
  OrderIndex index(server_order, merge_key, is_map);
  json::array out;
  out.reserve(left.size() + right.size());
  std::size_t i = 0, j = 0;
  while (i < left.size() || j < right.size()) {
    if (i >= left.size()) {
      out.push_back(std::move(right[j++]));
    } else if (j >= right.size()) {
      out.push_back(std::move(left[i++]));
    } else {
      long li = index.find(left[i]);
      long ri = index.find(right[j]);
      if (li >= 0 && ri >= 0 && li < ri) {
        out.push_back(std::move(left[i++]));
      } else {
        out.push_back(std::move(right[j++]));
      }
    }
  }
  return out;
}

Result<json::array> normalizeElementOrder(json::array patch_items, json::array server_only, const json::array& patch_order,
                                          const json::array& server_order, std::string_view merge_key, bool is_map) {
  BERTH_ASSIGN_OR_RETURN(auto patch_sorted, normalizeSliceOrder(std::move(patch_items), patch_order, merge_key, is_map));
  BERTH_ASSIGN_OR_RETURN(auto server_sorted,
                         normalizeSliceOrder(std::move(server_only), server_order, merge_key, is_map));
  return mergeSortedSlice(std::move(server_sorted), std::move(patch_sorted), server_order, merge_key, is_map);
}

// partitionPrimitivesByPresentInList / partitionMapsByPresentInList.
Result<std::pair<json::array, json::array>> partitionByPresence(json::array merged, const json::array& by,
                                                      std::string_view merge_key) {
  json::array in_patch, server_only;
  if (merge_key.empty()) {
    std::unordered_set<std::string> present;
    for (const auto& v : by)
      if (auto id = identity(v)) present.insert(std::move(*id));
    for (auto& v : merged) {
      auto id = identity(v);
      (id && present.count(*id) ? in_patch : server_only).push_back(std::move(v));
    }
  } else {
    std::unordered_set<std::string> present;
    for (const auto& v : by) {
      const auto* m = v.if_object();
      if (!m) return unclassified("value for key is not a map.");
      auto it = m->find(merge_key);
      if (it != m->end())
        if (auto id = identity(it->value())) present.insert(std::move(*id));
    }
    for (auto& v : merged) {
      const auto* m = v.if_object();
      if (!m) return errBadArgType("map[string]interface {}", v);
      auto it = m->find(merge_key);
      if (it == m->end()) return errNoMergeKey(v, merge_key);
      auto id = identity(it->value());
      (id && present.count(*id) ? in_patch : server_only).push_back(std::move(v));
    }
  }
  return std::make_pair(std::move(in_patch), std::move(server_only));
}

class Merger {
 public:
  Result<json::object> mergeMap(json::object original, json::object patch, const SchemaType* schema, std::size_t depth);

 private:
  Result<json::array> mergeSlice(json::array original, json::array patch, const SchemaType* elem,
                                 std::string_view merge_key, bool is_delete_list, std::size_t depth);
  Result<json::array> mergeSliceHandler(json::array original, json::array patch, const FieldMeta& meta,
                                        bool is_delete_list, std::size_t depth);
  Status applyRetainKeys(json::object& original, json::object& patch);
  Status mergePatchIntoOriginal(json::object& original, json::object& patch, const SchemaType* schema,
                                std::size_t depth);
};

Status Merger::applyRetainKeys(json::object& original, json::object& patch) {
  auto it = patch.find(kRetainKeysDirective);
  if (it == patch.end()) return okStatus();
  json::value retain = std::move(it->value());
  patch.erase(it);
  const auto* list = retain.if_array();
  if (!list) return errRetainKeysFormat();
  std::unordered_set<std::string> keep;
  for (const auto& v : *list)
    if (v.is_string()) keep.insert(std::string(v.get_string()));
  for (const auto& kv : patch) {
    std::string_view k = kv.key();
    if (kv.value().is_null() || startsWith(k, kDeleteFromPrimitiveListPrefix) || startsWith(k, kSetElementOrderPrefix))
      continue;
    if (!keep.count(std::string(k))) return errRetainKeysFormat();
  }
  for (auto oit = original.begin(); oit != original.end();) {
    if (!keep.count(std::string(oit->key()))) {
      oit = original.erase(oit);
    } else {
      ++oit;
    }
  }
  return okStatus();
}

// extractKey: "<prefix>/<field>".
Result<std::string> extractKey(std::string_view key, std::string_view prefix) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos || key.substr(0, slash) != prefix) {
    return prefix == kDeleteFromPrimitiveListPrefix ? errPrimitiveListFormat() : errSetElementOrderFormat();
  }
  return std::string(key.substr(slash + 1));
}

// validatePatchWithSetOrderList: the patch list's items (deletions and
// directive items aside) must appear in $setElementOrder in the same order.
Status validatePatchWithSetOrderList(const json::array& patch_list, const json::array& order, std::string_view merge_key) {
  if (order.empty() || patch_list.empty()) return okStatus();
  std::vector<const json::value*> non_delete;
  for (const auto& v : patch_list) {
    if (!merge_key.empty()) {
      if (!v.is_object()) return errBadArgType("map[string]interface {}", v);
      if (isDeleteItem(v)) continue;
    }
    non_delete.push_back(&v);
  }
  std::size_t pi = 0, oi = 0;
  while (pi < non_delete.size() && oi < order.size()) {
    const json::value& item = *non_delete[pi];
    if (item.is_object() && item.get_object().contains(kDirectiveMarker)) {
      ++pi;
      continue;
    }
    bool equal;
    if (merge_key.empty()) {
      auto a = identity(item), b = identity(order[oi]);
      equal = a && b && *a == *b;
    } else {
      const auto* l = item.if_object();
      const auto* r = order[oi].if_object();
      if (!l) return errBadArgType("map[string]interface {}", item);
      if (!r) return errBadArgType("map[string]interface {}", order[oi]);
      auto lk = l->find(merge_key);
      if (lk == l->end()) return errNoMergeKey(item, merge_key);
      auto rk = r->find(merge_key);
      if (rk == r->end()) return errNoMergeKey(order[oi], merge_key);
      auto a = identity(lk->value()), b = identity(rk->value());
      equal = a && b && *a == *b;
    }
    if (equal) ++pi;
    ++oi;
  }
  if (pi < non_delete.size() && oi >= order.size()) {
    return unclassified("The order in patch list:\n" + goFormat(json::value(patch_list)) + "\n doesn't match " +
                        std::string(kSetElementOrderPrefix) + " list:\n" + goFormat(json::value(order)) + "\n");
  }
  return okStatus();
}

Status Merger::mergePatchIntoOriginal(json::object& original, json::object& patch, const SchemaType* schema,
                                      std::size_t depth) {
  std::vector<std::string> order_keys;
  for (const auto& kv : patch)
    if (startsWith(kv.key(), kSetElementOrderPrefix)) order_keys.emplace_back(kv.key());
  for (const auto& key : order_keys) {
    json::value order_value = std::move(patch[key]);
    patch.erase(key);
    if (!order_value.is_array()) return errBadArgType("[]interface {}", order_value);
    const json::array& order = order_value.get_array();
    BERTH_ASSIGN_OR_RETURN(std::string field_key, extractKey(key, kSetElementOrderPrefix));

    auto oit = original.find(field_key);
    auto pit = patch.find(field_key);
    bool found_original = oit != original.end();
    bool found_patch = pit != patch.end();
    static const json::array kEmpty;
    if (found_original && !oit->value().is_array()) return errBadArgType("[]interface {}", oit->value());
    if (found_patch && !pit->value().is_array()) return errBadArgType("[]interface {}", pit->value());
    const json::array& original_list = found_original ? oit->value().get_array() : kEmpty;
    const json::array& patch_list = found_patch ? pit->value().get_array() : kEmpty;

    FieldMeta meta = lookupField(schema, field_key);
    std::string merge_key(meta.mergeKey());
    BERTH_RETURN_IF_ERROR(validatePatchWithSetOrderList(patch_list, order, merge_key));

    json::array merged;
    if (found_original && !found_patch) {
      merged = original_list;
    } else if (!found_original && found_patch) {
      json::value v = patch_list;
      cleanPatchValue(v);
      merged = std::move(v.get_array());
    } else if (found_original && found_patch) {
      BERTH_ASSIGN_OR_RETURN(merged, mergeSliceHandler(original_list, patch_list, meta, false, depth + 1));
    } else {
      continue;
    }

    BERTH_ASSIGN_OR_RETURN(auto elem_type, sliceElementType(original_list, patch_list));
    json::array server_order = original_list;
    if (!elem_type) {
      original[field_key] = std::move(merged);
      patch.erase(field_key);
      continue;
    }
    BERTH_ASSIGN_OR_RETURN(auto parts, partitionByPresence(std::move(merged), order, merge_key));
    BERTH_ASSIGN_OR_RETURN(auto both, normalizeElementOrder(std::move(parts.first), std::move(parts.second), order,
                                                            server_order, merge_key, *elem_type == GoType::kMap));
    original[field_key] = std::move(both);
    patch.erase(field_key);
  }
  return okStatus();
}

Result<json::array> Merger::mergeSliceHandler(json::array original, json::array patch, const FieldMeta& meta,
                                              bool is_delete_list, std::size_t depth) {
  // Delete lists apply whatever the field's strategy.
  if (meta.merge() || is_delete_list)
    return mergeSlice(std::move(original), std::move(patch), meta.elem(), meta.mergeKey(), is_delete_list, depth);
  json::value v = std::move(patch);
  cleanPatchValue(v);
  return std::move(v.get_array());
}

Result<json::array> Merger::mergeSlice(json::array original, json::array patch, const SchemaType* elem,
                                       std::string_view merge_key, bool is_delete_list, std::size_t depth) {
  if (depth > kMaxJsonDepth) return badRequest("patch nested too deeply");
  if (original.empty() && patch.empty()) return original;
  BERTH_ASSIGN_OR_RETURN(auto elem_type, sliceElementType(original, patch));
  bool is_map = elem_type && *elem_type == GoType::kMap;

  json::array merged;
  if (!is_map) {
    if (is_delete_list) {
      // deleteFromSlice
      std::unordered_set<std::string> drop;
      for (const auto& v : patch)
        if (auto id = identity(v)) drop.insert(std::move(*id));
      json::array out;
      for (auto& v : original) {
        auto id = identity(v);
        if (!id || !drop.count(*id)) out.push_back(std::move(v));
      }
      return out;
    }
    // Concatenate and deduplicate (first occurrence wins; the order is
    // normalized below anyway).
    std::unordered_set<std::string> seen;
    for (const json::array* s : {&original, &patch}) {
      for (const auto& v : *s) {
        auto id = identity(v);
        if (id && !seen.insert(*id).second) continue;
        json::value copy = v;
        if (s == &patch) cleanPatchValue(copy);
        merged.push_back(std::move(copy));
      }
    }
  } else {
    if (merge_key.empty())
      return unclassified("cannot merge lists without merge key for " + (elem ? elem->name : std::string("map")));

    // mergeSliceWithSpecialElements: `$patch` items in the list.
    json::array plain;
    bool replace = false;
    std::unordered_set<std::string> deleted;
    for (auto& v : patch) {
      auto& m = v.get_object();
      auto dit = m.find(kDirectiveMarker);
      if (dit == m.end()) {
        plain.push_back(std::move(v));
        continue;
      }
      const json::value& d = dit->value();
      if (d.is_string() && d.get_string() == kDeleteDirective) {
        auto kit = m.find(merge_key);
        if (kit == m.end()) return errNoMergeKey(v, merge_key);
        if (auto id = identity(kit->value())) deleted.insert(std::move(*id));
      } else if (d.is_string() && d.get_string() == kReplaceDirective) {
        replace = true;
      } else if (d.is_string() && d.get_string() == kMergeDirective) {
        return unclassified("merging lists cannot yet be specified in the patch");
      } else {
        return unclassified("unknown patch type: " + goFormat(d) + " in map: " + goFormat(v));
      }
    }
    if (replace) {
      json::value v = std::move(plain);
      cleanPatchValue(v);
      original = std::move(v.get_array());
      patch.clear();
    } else {
      if (!deleted.empty()) {
        json::array kept;
        for (auto& v : original) {
          const auto* m = v.if_object();
          if (!m) return unclassified("value for key is not a map.");
          auto kit = m->find(merge_key);
          if (kit != m->end()) {
            auto id = identity(kit->value());
            if (id && deleted.count(*id)) continue;
          }
          kept.push_back(std::move(v));
        }
        original = std::move(kept);
      }
      patch = std::move(plain);
    }

    // mergeSliceWithoutSpecialElements: merge items with the same key, append
    // the others.
    merged = original;
    std::unordered_map<std::string, std::size_t> position;
    for (std::size_t i = 0; i < merged.size(); ++i) {
      const auto* m = merged[i].if_object();
      if (!m) return unclassified("value for key " + std::to_string(i) + " is not a map.");
      auto kit = m->find(merge_key);
      if (kit == m->end()) continue;
      if (auto id = identity(kit->value())) position.emplace(std::move(*id), i);
    }
    for (const auto& v : patch) {
      const auto& m = v.get_object();
      auto kit = m.find(merge_key);
      if (kit == m.end()) return errNoMergeKey(v, merge_key);
      auto id = identity(kit->value());
      auto pos = id ? position.find(*id) : position.end();
      if (pos != position.end()) {
        BERTH_ASSIGN_OR_RETURN(auto mm, mergeMap(std::move(merged[pos->second].get_object()), m, elem, depth + 1));
        merged[pos->second] = std::move(mm);
      } else {
        json::value copy = v;
        cleanPatchValue(copy);
        if (id) position.emplace(std::move(*id), merged.size());
        merged.push_back(std::move(copy));
      }
    }
  }

  // Enforce the order.
  BERTH_ASSIGN_OR_RETURN(auto parts, partitionByPresence(std::move(merged), patch, is_map ? merge_key : std::string_view()));
  return normalizeElementOrder(std::move(parts.first), std::move(parts.second), patch, original,
                               is_map ? merge_key : std::string_view(), is_map);
}

Result<json::object> Merger::mergeMap(json::object original, json::object patch, const SchemaType* schema,
                                      std::size_t depth) {
  if (depth > kMaxJsonDepth) return badRequest("patch nested too deeply");
  // handleDirectiveInMergeMap
  if (auto dit = patch.find(kDirectiveMarker); dit != patch.end()) {
    const json::value& d = dit->value();
    if (d.is_string() && d.get_string() == kReplaceDirective) {
      patch.erase(dit);
      json::value v = std::move(patch);
      cleanPatchValue(v);
      return std::move(v.get_object());
    }
    if (d.is_string() && d.get_string() == kDeleteDirective) return json::object();
    return unclassified("unknown patch type: " + goFormat(d) + " in map: " + goFormat(json::value(patch)));
  }

  BERTH_RETURN_IF_ERROR(applyRetainKeys(original, patch));
  BERTH_RETURN_IF_ERROR(mergePatchIntoOriginal(original, patch, schema, depth));

  for (auto& kv : patch) {
    std::string key(kv.key());
    json::value& patch_v = kv.value();
    bool is_delete_list = false;
    if (startsWith(key, kDeleteFromPrimitiveListPrefix)) {
      BERTH_ASSIGN_OR_RETURN(key, extractKey(key, kDeleteFromPrimitiveListPrefix));
      is_delete_list = true;
    }

    if (patch_v.is_null()) {
      original.erase(key);
      continue;
    }

    auto oit = original.find(key);
    if (oit == original.end() || goType(oit->value()) != goType(patch_v)) {
      // Not in the original document (or of another type): take the patch
      // value, cleaned. A delete list for a missing list adds nothing.
      if (!is_delete_list) {
        json::value v = std::move(patch_v);
        if (cleanPatchValue(v)) {
          original[key] = std::move(v);
        } else {
          original.erase(key);
        }
      }
      continue;
    }

    FieldMeta meta = lookupField(schema, key);
    json::value& orig_v = oit->value();
    if (orig_v.is_object()) {
      BERTH_ASSIGN_OR_RETURN(auto merged,
                             mergeMap(std::move(orig_v.get_object()), std::move(patch_v.get_object()), meta.type, depth + 1));
      original[key] = std::move(merged);
    } else if (orig_v.is_array()) {
      BERTH_ASSIGN_OR_RETURN(auto merged, mergeSliceHandler(std::move(orig_v.get_array()), std::move(patch_v.get_array()),
                                                            meta, is_delete_list, depth + 1));
      original[key] = std::move(merged);
    } else {
      original[key] = std::move(patch_v);
    }
  }
  return original;
}

}  // namespace

Result<json::value> applyStrategicMergePatch(const json::value& doc, const json::value& patch, const SchemaType* schema) {
  if (!doc.is_object()) return errBadJsonDoc();
  if (patch.is_null()) return doc;
  if (!patch.is_object()) {
    std::string kind = patch.is_array() ? "array" : patch.is_string() ? "string" : patch.is_bool() ? "bool" : "number";
    return badRequest("json: cannot unmarshal " + kind + " into Go value of type map[string]interface {}");
  }
  if (jsonDepth(patch) > kMaxJsonDepth) return badRequest("patch nested too deeply");
  Merger merger;
  auto merged = merger.mergeMap(doc.get_object(), patch.get_object(), schema, 0);
  if (!merged.ok()) return std::move(merged).error();
  return json::value(std::move(*merged));
}

Result<json::value> applyStrategicMergePatchText(const json::value& doc, std::string_view patch,
                                                 const SchemaType* schema) {
  auto parsed = parseJsonLimited(patch, "error decoding patch");
  if (!parsed.ok()) return std::move(parsed).error();
  return applyStrategicMergePatch(doc, *parsed, schema);
}

}  // namespace berth::api
