#pragma once

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/schema.h"
#include "common/result.h"

namespace berth::api {

// Decoding of Kubernetes protobuf request bodies
// (Content-Type: application/vnd.kubernetes.protobuf), which kubectl's
// `create <kind>` and `autoscale` commands send and never retry as JSON.
//
// The body is the magic "k8s\0" followed by a runtime.Unknown message
//   {1: TypeMeta{1 apiVersion, 2 kind}, 2: raw, 3: contentEncoding, 4: contentType}
// whose raw bytes are the object in Kubernetes' generated (gogo) protobuf
// encoding. The SchemaType of the kind drives the decoding; the result is
// the JSON the same object would have had, as upstream's JSON serializer
// would write it: gogo writes every non-pointer field even when empty, while
// JSON's omitempty drops it, so zero values are dropped unless the field is
// marked `keep` in the schema. Requests only: responses are always JSON.

struct DecodedProto {
  std::string api_version;
  std::string kind;
  // The object with "kind" and "apiVersion" set, fields in schema order.
  boost::json::object object;
};

// Finds the schema of the top-level type for an apiVersion and kind; returns
// nullptr when the kind is not served.
using ProtoSchemaLookup =
    std::function<std::shared_ptr<const SchemaType>(std::string_view api_version, std::string_view kind)>;

// Decodes a whole request body. Malformed input of any kind (wrong magic,
// truncated varints, lengths beyond the buffer, wrong wire types, nesting
// deeper than kMaxProtoDepth, non-finite doubles, times outside years
// 0-9999) gives kBadRequest; an unknown kind gives kBadRequest as well.
Result<DecodedProto> decodeKubernetesProtobuf(std::string_view body, const ProtoSchemaLookup& lookup);

// Decodes one message of object type `type` (the raw bytes of an Unknown).
Result<boost::json::object> decodeProtobufMessage(std::string_view bytes, const SchemaType& type);

inline constexpr int kMaxProtoDepth = 64;

// Standard base64 with padding, as Go's encoding/json writes []byte.
std::string base64Encode(std::string_view bytes);
// Decodes standard base64 (padding required, as Go's json for []byte); false
// if the text is not valid base64.
bool base64Decode(std::string_view text, std::string* out);

// Formats Unix seconds (+ nanoseconds) as RFC 3339 in UTC, with `fraction_digits`
// digits of fraction (0 = metav1.Time, 6 = metav1.MicroTime). False if the year
// falls outside 0000-9999, which Go refuses to marshal.
bool formatRfc3339(std::int64_t seconds, std::int32_t nanos, int fraction_digits, std::string* out);

// Go's time.Duration.String(): "1h2m3.5s", "150ms", "0s".
std::string formatGoDuration(std::int64_t nanoseconds);

}  // namespace berth::api
