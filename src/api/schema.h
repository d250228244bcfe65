#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace berth::api {

// The shape of Kubernetes API types, as far as the server needs it: which
// fields exist (strict field validation, OpenAPI), their JSON types (decode
// errors), their protobuf field numbers (protobuf request bodies), and their
// strategic-merge-patch strategy and merge key. One description serves all of
// these so they cannot disagree.
//
// Types are written in a small text format (src/api/types/*.schema) that is
// compiled into the binary and parsed once at startup:
//
//   # comment
//   type ObjectMeta
//     name               string            1
//     generation         int64             7
//     creationTimestamp  time              8
//     labels             map[string]       11
//     ownerReferences    []OwnerReference  13  merge=uid
//     finalizers         []string          14  merge
//     replicas           int32             1   keep
//
// A field line is: json name, type, protobuf field number, then flags:
//   merge=KEY   list merges by KEY (patchStrategy=merge, patchMergeKey=KEY)
//   merge       list of scalars merges as a set (patchStrategy=merge)
//   retainKeys  patchStrategy=retainKeys (may combine: merge=name,retainKeys)
//   keep        a zero value decoded from protobuf is kept (Go pointer or a
//               field without omitempty); otherwise zero values are dropped
//   noproto     field has no protobuf number (use 0 as the number)
//
// Types: string int32 int64 bool double bytes (base64 in JSON) time (RFC 3339
// string; protobuf {1 seconds, 2 nanos}) microtime (same, microseconds)
// quantity (string or number; protobuf {1 string}) intorstr (int or string;
// protobuf {1 type, 2 intVal, 3 strVal}) duration (string; protobuf {1 string})
// any (any JSON; protobuf RawExtension {1 raw bytes}), a named type, []T, map[T].
//
// Also accepted (used by src/api/types/*.schema):
//   inline      Go embedded struct with `json:",inline"`: its fields appear at
//               this level in JSON, while protobuf carries it as a nested
//               message under this field's number.
//   map[[]T]    a map whose values are lists; go-to-protobuf wraps each value
//               in a message whose field 1 is the list (e.g. ExtraValue).

enum class SchemaKind {
  kString, kInt32, kInt64, kBool, kDouble, kBytes, kTime, kMicroTime, kQuantity,
  kIntOrString, kDuration, kAny, kObject, kArray, kMap,
};

struct SchemaField;

struct SchemaType {
  SchemaKind kind = SchemaKind::kAny;
  std::string name;                        // for kObject: the type name
  // For kObject: the fields as JSON sees them, in declaration order. After
  // SchemaRegistry::resolve() the fields of `inline` members are expanded in
  // place (and the inline member itself is not listed), so JSON consumers
  // (strict decoding, strategic merge, OpenAPI) need not know about inline.
  std::vector<SchemaField> fields;
  // For kObject after resolve(): the fields as protobuf sees them, in
  // declaration order, including `inline` members as nested messages. Empty
  // for hand-built types, where `fields` serves both views.
  std::vector<SchemaField> proto_fields;
  std::shared_ptr<const SchemaType> elem;  // for kArray and kMap: the element type

  // Lookup by JSON name (among `fields`) and by protobuf number (among
  // `proto_fields`, or `fields` when that is empty). Hash lookups once
  // resolve() has indexed the type; a linear scan for hand-built types.
  const SchemaField* field(std::string_view json_name) const;
  const SchemaField* fieldByNumber(int number) const;
  // Builds the lookup indexes; resolve() calls it for every named type. Call
  // it on hand-built types only after their field vectors are final.
  void buildIndex();

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>> by_name_;
  std::unordered_map<int, std::size_t> by_number_;
  bool indexed_ = false;
};

struct SchemaField {
  std::string json_name;
  int proto_number = 0;
  std::shared_ptr<const SchemaType> type;
  std::string merge_key;  // patchMergeKey, for lists of objects
  bool merge = false;     // patchStrategy contains merge
  bool retain_keys = false;
  bool keep_zero = false;
  bool is_inline = false;  // `inline` flag: Go embedded struct, see above
  bool no_proto = false;   // `noproto` flag: JSON only (e.g. kind, apiVersion)
};

// All named types, parsed from the embedded .schema sources.
class SchemaRegistry {
 public:
  // Parses schema text (may be called for several sources before resolve()).
  Status add(std::string_view source_name, std::string_view text);
  // Resolves named type references; fails naming any unknown type.
  Status resolve();
  std::shared_ptr<const SchemaType> find(std::string_view type_name) const;

  // The registry built from the sources compiled into berth.
  // Aborts with a message if the embedded sources do not parse or resolve:
  // that is a build defect, not a runtime condition.
  static const SchemaRegistry& builtin();

  // Every named type, sorted by name (for tests, OpenAPI and diagnostics).
  std::vector<std::string> typeNames() const;

 private:
  struct SourceLocation {
    std::string source;
    int line = 0;
  };
  // Where each named type was declared, for error messages.
  std::map<std::string, SourceLocation, std::less<>> declared_at_;
  // Line of each "Type.field" declaration, until resolve() has run.
  std::map<std::string, int, std::less<>> field_lines_;
  bool resolved_ = false;

  std::map<std::string, std::shared_ptr<SchemaType>, std::less<>> types_;
};

}  // namespace berth::api
