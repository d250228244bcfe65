#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
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

enum class SchemaKind {
  kString, kInt32, kInt64, kBool, kDouble, kBytes, kTime, kMicroTime, kQuantity,
  kIntOrString, kDuration, kAny, kObject, kArray, kMap,
};

struct SchemaField;

struct SchemaType {
  SchemaKind kind = SchemaKind::kAny;
  std::string name;                        // for kObject: the type name
  std::vector<SchemaField> fields;         // for kObject, in declaration order
  std::shared_ptr<const SchemaType> elem;  // for kArray and kMap: the element type
  const SchemaField* field(std::string_view json_name) const;
  const SchemaField* fieldByNumber(int number) const;
};

struct SchemaField {
  std::string json_name;
  int proto_number = 0;
  std::shared_ptr<const SchemaType> type;
  std::string merge_key;  // patchMergeKey, for lists of objects
  bool merge = false;     // patchStrategy contains merge
  bool retain_keys = false;
  bool keep_zero = false;
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
  static const SchemaRegistry& builtin();

 private:
  std::map<std::string, std::shared_ptr<SchemaType>, std::less<>> types_;
};

}  // namespace berth::api
