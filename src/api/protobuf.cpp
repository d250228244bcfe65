#include "api/protobuf.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "api/patch.h"

namespace berth::api {

namespace json = boost::json;

namespace {

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
enum WireType : int { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

Error badRequest(std::string msg) { return makeError(ErrorCode::kBadRequest, std::move(msg)); }

// A bounded cursor over a protobuf buffer; every read checks the bounds.
class Reader {
 public:
  explicit Reader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  bool done() const { return p_ >= end_; }

  bool varint(std::uint64_t* out) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      auto b = static_cast<std::uint8_t>(*p_++);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *out = v;
        return true;
      }
    }
    return false;  // more than 10 bytes: malformed
  }
  bool fixed64(std::uint64_t* out) {
    if (end_ - p_ < 8) return false;
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p_[i]);
    p_ += 8;
    *out = v;
    return true;
  }
  bool skip(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  bool bytes(std::string_view* out) {
    std::uint64_t len = 0;
    if (!varint(&len)) return false;
    if (len > static_cast<std::uint64_t>(end_ - p_)) return false;
    *out = std::string_view(p_, static_cast<std::size_t>(len));
    p_ += len;
    return true;
  }

 private:
  const char* p_;
  const char* end_;
};

const char* wireName(int wire) {
  switch (wire) {
    case kVarint: return "varint";
    case kFixed64: return "fixed64";
    case kLengthDelimited: return "length-delimited";
    case kFixed32: return "fixed32";
    default: return "invalid";
  }
}

// Reads one tag; false on malformed input.
bool readTag(Reader& r, int* number, int* wire) {
  std::uint64_t tag = 0;
  if (!r.varint(&tag)) return false;
  std::uint64_t n = tag >> 3;
  if (n == 0 || n > 0x1fffffff) return false;
  *number = static_cast<int>(n);
  *wire = static_cast<int>(tag & 7);
  return true;
}

// Skips the value of an unknown field.
Status skipValue(Reader& r, int wire) {
  std::uint64_t v;
  std::string_view s;
  switch (wire) {
    case kVarint:
      if (r.varint(&v)) return okStatus();
      break;
    case kFixed64:
      if (r.skip(8)) return okStatus();
      break;
    case kLengthDelimited:
      if (r.bytes(&s)) return okStatus();
      break;
    case kFixed32:
      if (r.skip(4)) return okStatus();
      break;
    default:
      return badRequest("protobuf: unsupported wire type " + std::to_string(wire));
  }
  return badRequest("protobuf: truncated field value");
}

// Go's encoding/json replaces invalid UTF-8 with U+FFFD; do the same so the
// JSON we produce is always valid.
std::string sanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (int k = 1; ok && k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Reject overlong forms, surrogates and values beyond U+10FFFF.
    if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
               (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff))
      ok = false;
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

bool isZero(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return true;
    case json::kind::bool_: return !v.get_bool();
    case json::kind::int64: return v.get_int64() == 0;
    case json::kind::uint64: return v.get_uint64() == 0;
    case json::kind::double_: return v.get_double() == 0;
    case json::kind::string: return v.get_string().empty();
    case json::kind::array: return v.get_array().empty();
    case json::kind::object: return v.get_object().empty();
  }
  return false;
}

// Go's zero value of a type, for a map entry that carries no value.
json::value zeroValue(const SchemaType& t) {
  switch (t.kind) {
    case SchemaKind::kString:
    case SchemaKind::kBytes:
    case SchemaKind::kDuration: return json::string();
    case SchemaKind::kInt32:
    case SchemaKind::kInt64:
    case SchemaKind::kDouble:
    case SchemaKind::kIntOrString: return std::int64_t(0);
    case SchemaKind::kQuantity: return json::string("0");
    case SchemaKind::kBool: return false;
    case SchemaKind::kObject: return json::object();
    default: return nullptr;
  }
}

class Decoder {
 public:
  Result<json::object> message(std::string_view bytes, const SchemaType& type, int depth);

 private:
  Result<json::value> value(Reader& r, int wire, const SchemaType& t, const SchemaField& f, const SchemaType& owner,
                            int depth);
  Status repeated(Reader& r, int wire, const SchemaType& elem, const SchemaField& f, const SchemaType& owner,
                  int depth, json::array& out);
  Status mapEntry(std::string_view entry, const SchemaType& elem, const SchemaField& f, const SchemaType& owner,
                  int depth, json::object& out);
  Result<json::value> special(std::string_view bytes, const SchemaType& t, const std::string& where, int depth);
};

std::string fieldWhere(const SchemaType& owner, const SchemaField& f) {
  return (owner.name.empty() ? std::string("message") : owner.name) + "." + f.json_name;
}

Error wrongWire(const SchemaType& owner, const SchemaField& f, int wire) {
  return badRequest("protobuf: field " + fieldWhere(owner, f) + " (number " + std::to_string(f.proto_number) +
                    "): unexpected wire type " + wireName(wire));
}

bool isVarintKind(SchemaKind k) {
  return k == SchemaKind::kInt32 || k == SchemaKind::kInt64 || k == SchemaKind::kBool;
}

Result<json::value> Decoder::value(Reader& r, int wire, const SchemaType& t, const SchemaField& f,
                                   const SchemaType& owner, int depth) {
  switch (t.kind) {
    case SchemaKind::kInt32:
    case SchemaKind::kInt64:
    case SchemaKind::kBool: {
      if (wire != kVarint) return wrongWire(owner, f, wire);
      std::uint64_t v = 0;
      if (!r.varint(&v)) return badRequest("protobuf: truncated varint in " + fieldWhere(owner, f));
      if (t.kind == SchemaKind::kBool) return json::value(v != 0);
      // Kubernetes uses plain (not zigzag) varints: negative numbers are
      // sign-extended to 64 bits, and int32 keeps the low 32 bits.
      if (t.kind == SchemaKind::kInt32) return json::value(std::int64_t(static_cast<std::int32_t>(v)));
      return json::value(static_cast<std::int64_t>(v));
    }
    case SchemaKind::kDouble: {
      if (wire != kFixed64) return wrongWire(owner, f, wire);
      std::uint64_t bits = 0;
      if (!r.fixed64(&bits)) return badRequest("protobuf: truncated double in " + fieldWhere(owner, f));
      double d;
      std::memcpy(&d, &bits, sizeof d);
      if (!std::isfinite(d)) return badRequest("protobuf: non-finite number in " + fieldWhere(owner, f));
      return json::value(d);
    }
    default: break;
  }
  if (wire != kLengthDelimited) return wrongWire(owner, f, wire);
  std::string_view bytes;
  if (!r.bytes(&bytes)) return badRequest("protobuf: length beyond the buffer in " + fieldWhere(owner, f));
  switch (t.kind) {
    case SchemaKind::kString: return json::value(json::string(sanitizeUtf8(bytes)));
    case SchemaKind::kBytes: return json::value(json::string(base64Encode(bytes)));
    case SchemaKind::kObject: {
      BERTH_ASSIGN_OR_RETURN(auto obj, message(bytes, t, depth + 1));
      return json::value(std::move(obj));
    }
    case SchemaKind::kArray: {
      // A list that is a map value or a list element: go-to-protobuf wraps
      // it in a message whose field 1 is the list (e.g. ExtraValue).
      if (depth + 1 > kMaxProtoDepth) return badRequest("protobuf: message nesting deeper than 64");
      json::array arr;
      Reader inner(bytes);
      while (!inner.done()) {
        int number = 0, w = 0;
        if (!readTag(inner, &number, &w)) return badRequest("protobuf: malformed tag in " + fieldWhere(owner, f));
        if (number != 1) {
          BERTH_RETURN_IF_ERROR(skipValue(inner, w));
          continue;
        }
        BERTH_RETURN_IF_ERROR(repeated(inner, w, *t.elem, f, owner, depth + 1, arr));
      }
      return json::value(std::move(arr));
    }
    case SchemaKind::kMap: {
      // A map as a map value or list element: a message whose field 1 holds the entries.
      if (depth + 1 > kMaxProtoDepth) return badRequest("protobuf: message nesting deeper than 64");
      json::object obj;
      Reader inner(bytes);
      while (!inner.done()) {
        int number = 0, w = 0;
        if (!readTag(inner, &number, &w)) return badRequest("protobuf: malformed tag in " + fieldWhere(owner, f));
        if (number != 1) {
          BERTH_RETURN_IF_ERROR(skipValue(inner, w));
          continue;
        }
        if (w != kLengthDelimited) return wrongWire(owner, f, w);
        std::string_view entry;
        if (!inner.bytes(&entry)) return badRequest("protobuf: length beyond the buffer in " + fieldWhere(owner, f));
        BERTH_RETURN_IF_ERROR(mapEntry(entry, *t.elem, f, owner, depth + 1, obj));
      }
      return json::value(std::move(obj));
    }
    default: return special(bytes, t, fieldWhere(owner, f), depth + 1);
  }
}

// The apimachinery wrapper messages: Time, MicroTime, Quantity, IntOrString,
// Duration and RawExtension.
Result<json::value> Decoder::special(std::string_view bytes, const SchemaType& t, const std::string& where,
                                     int depth) {
  if (depth > kMaxProtoDepth) return badRequest("protobuf: message nesting deeper than 64");
  std::int64_t ints[4] = {0, 0, 0, 0};
  std::string_view strs[4];
  bool seen[4] = {false, false, false, false};
  Reader r(bytes);
  while (!r.done()) {
    int number = 0, wire = 0;
    if (!readTag(r, &number, &wire)) return badRequest("protobuf: malformed tag in " + where);
    if (number > 3) {
      BERTH_RETURN_IF_ERROR(skipValue(r, wire));
      continue;
    }
    seen[number] = true;
    if (wire == kVarint) {
      std::uint64_t v = 0;
      if (!r.varint(&v)) return badRequest("protobuf: truncated varint in " + where);
      ints[number] = static_cast<std::int64_t>(v);
    } else if (wire == kLengthDelimited) {
      if (!r.bytes(&strs[number])) return badRequest("protobuf: length beyond the buffer in " + where);
    } else {
      BERTH_RETURN_IF_ERROR(skipValue(r, wire));
    }
  }
  switch (t.kind) {
    case SchemaKind::kTime:
    case SchemaKind::kMicroTime: {
      // metav1.Time{1 seconds, 2 nanos}. An empty message is the zero time,
      // which Go's JSON writes as null (dropped by the caller).
      constexpr std::int64_t kGoZeroTimeSeconds = -62135596800;  // 0001-01-01T00:00:00Z
      if (!seen[1] && !seen[2]) return json::value(nullptr);
      if (ints[1] == kGoZeroTimeSeconds && ints[2] == 0) return json::value(nullptr);
      auto nanos = static_cast<std::int32_t>(ints[2]);
      if (nanos < 0 || nanos > 999999999) return badRequest("protobuf: invalid nanoseconds in " + where);
      std::string s;
      // metav1.Time keeps seconds only (its Unmarshal truncates); MicroTime keeps microseconds.
      if (!formatRfc3339(ints[1], nanos, t.kind == SchemaKind::kTime ? 0 : 6, &s))
        return badRequest("protobuf: time out of range in " + where);
      return json::value(json::string(s));
    }
    case SchemaKind::kQuantity:
      // resource.Quantity{1 string}; kept verbatim (validation parses it).
      return json::value(json::string(sanitizeUtf8(strs[1])));
    case SchemaKind::kIntOrString:
      // intstr.IntOrString{1 type (0 Int, 1 String), 2 intVal, 3 strVal}.
      if (ints[1] == 1) return json::value(json::string(sanitizeUtf8(strs[3])));
      return json::value(std::int64_t(static_cast<std::int32_t>(ints[2])));
    case SchemaKind::kDuration:
      // metav1.Duration{1 int64 nanoseconds}; JSON is Go's Duration.String().
      if (!strs[1].empty()) return json::value(json::string(sanitizeUtf8(strs[1])));
      if (!seen[1]) return json::value(json::string());
      return json::value(json::string(formatGoDuration(ints[1])));
    case SchemaKind::kAny: {
      // runtime.RawExtension{1 raw}: raw bytes are JSON for every client we
      // know; otherwise keep them as base64 so nothing is lost.
      if (strs[1].empty()) return json::value(nullptr);
      boost::system::error_code ec;
      json::parse_options opts;
      opts.max_depth = kMaxJsonDepth;
      json::value v = json::parse(json::string_view(strs[1].data(), strs[1].size()), ec, {}, opts);
      if (!ec) return v;
      return json::value(json::string(base64Encode(strs[1])));
    }
    default: break;
  }
  return badRequest("protobuf: unsupported type in " + where);
}

Status Decoder::repeated(Reader& r, int wire, const SchemaType& elem, const SchemaField& f, const SchemaType& owner,
                         int depth, json::array& out) {
  // Packed encoding for scalar numbers: one length-delimited run of values.
  if (wire == kLengthDelimited && (isVarintKind(elem.kind) || elem.kind == SchemaKind::kDouble)) {
    std::string_view run;
    if (!r.bytes(&run)) return badRequest("protobuf: length beyond the buffer in " + fieldWhere(owner, f));
    Reader pr(run);
    while (!pr.done()) {
      BERTH_ASSIGN_OR_RETURN(auto v, value(pr, isVarintKind(elem.kind) ? kVarint : kFixed64, elem, f, owner, depth));
      out.push_back(std::move(v));
    }
    return okStatus();
  }
  BERTH_ASSIGN_OR_RETURN(auto v, value(r, wire, elem, f, owner, depth));
  // A list element keeps its value even when it is zero ("" or 0 or {}).
  if (v.is_null() && elem.kind != SchemaKind::kAny) v = zeroValue(elem);
  out.push_back(std::move(v));
  return okStatus();
}

Status Decoder::mapEntry(std::string_view entry, const SchemaType& elem, const SchemaField& f,
                         const SchemaType& owner, int depth, json::object& out) {
  if (depth > kMaxProtoDepth) return badRequest("protobuf: message nesting deeper than 64");
  std::string key;
  json::value val;
  bool has_val = false;
  Reader r(entry);
  while (!r.done()) {
    int number = 0, wire = 0;
    if (!readTag(r, &number, &wire)) return badRequest("protobuf: malformed map entry in " + fieldWhere(owner, f));
    if (number == 1) {
      if (wire == kLengthDelimited) {
        std::string_view k;
        if (!r.bytes(&k)) return badRequest("protobuf: length beyond the buffer in " + fieldWhere(owner, f));
        key = sanitizeUtf8(k);
      } else if (wire == kVarint) {
        // Integer keys, as Go's JSON writes them: decimal strings.
        std::uint64_t k = 0;
        if (!r.varint(&k)) return badRequest("protobuf: truncated varint in " + fieldWhere(owner, f));
        key = std::to_string(static_cast<std::int64_t>(k));
      } else {
        return wrongWire(owner, f, wire);
      }
    } else if (number == 2) {
      BERTH_ASSIGN_OR_RETURN(val, value(r, wire, elem, f, owner, depth));
      has_val = true;
    } else {
      BERTH_RETURN_IF_ERROR(skipValue(r, wire));
    }
  }
  if (!has_val || (val.is_null() && elem.kind != SchemaKind::kAny)) val = zeroValue(elem);
  out[key] = std::move(val);
  return okStatus();
}

Result<json::object> Decoder::message(std::string_view bytes, const SchemaType& type, int depth) {
  if (depth > kMaxProtoDepth) return badRequest("protobuf: message nesting deeper than 64");
  json::object obj;
  Reader r(bytes);
  while (!r.done()) {
    int number = 0, wire = 0;
    if (!readTag(r, &number, &wire))
      return badRequest("protobuf: malformed field tag in " + (type.name.empty() ? "message" : type.name));
    const SchemaField* f = type.kind == SchemaKind::kObject ? type.fieldByNumber(number) : nullptr;
    if (!f || !f->type) {
      // Unknown field numbers come from newer clients; skip them like Go does.
      BERTH_RETURN_IF_ERROR(skipValue(r, wire));
      continue;
    }
    const SchemaType& ft = *f->type;
    if (f->is_inline) {
      // An embedded struct: its fields land at this level in JSON.
      if (wire != kLengthDelimited) return wrongWire(type, *f, wire);
      std::string_view inner;
      if (!r.bytes(&inner)) return badRequest("protobuf: length beyond the buffer in " + fieldWhere(type, *f));
      BERTH_ASSIGN_OR_RETURN(auto sub, message(inner, ft, depth + 1));
      for (auto& kv : sub) obj[kv.key()] = std::move(kv.value());
      continue;
    }
    if (ft.kind == SchemaKind::kArray) {
      auto& slot = obj[f->json_name];
      if (!slot.is_array()) slot = json::array();
      BERTH_RETURN_IF_ERROR(repeated(r, wire, *ft.elem, *f, type, depth, slot.get_array()));
      continue;
    }
    if (ft.kind == SchemaKind::kMap) {
      if (wire != kLengthDelimited) return wrongWire(type, *f, wire);
      std::string_view entry;
      if (!r.bytes(&entry)) return badRequest("protobuf: length beyond the buffer in " + fieldWhere(type, *f));
      auto& slot = obj[f->json_name];
      if (!slot.is_object()) slot = json::object();
      BERTH_RETURN_IF_ERROR(mapEntry(entry, *ft.elem, *f, type, depth + 1, slot.get_object()));
      continue;
    }
    BERTH_ASSIGN_OR_RETURN(auto v, value(r, wire, ft, *f, type, depth));
    // gogo writes non-pointer fields even when empty; omitempty would drop
    // them from JSON. `keep` marks pointers and fields without omitempty.
    bool drop = isZero(v) && !f->keep_zero;
    if (v.is_null()) drop = true;  // a zero metav1.Time is JSON null: same as absent
    if (drop) {
      obj.erase(f->json_name);
      continue;
    }
    if (ft.kind == SchemaKind::kObject && v.is_object()) {
      // Protobuf merges repeated occurrences of a message field.
      auto it = obj.find(f->json_name);
      if (it != obj.end() && it->value().is_object()) {
        for (auto& kv : v.get_object()) it->value().get_object()[kv.key()] = std::move(kv.value());
        continue;
      }
    }
    obj[f->json_name] = std::move(v);
  }
  // Put the fields in declaration order, as Go's JSON encoder writes them.
  if (type.kind == SchemaKind::kObject && obj.size() > 1) {
    json::object ordered;
    ordered.reserve(obj.size());
    for (const auto& f : type.fields) {
      auto it = obj.find(f.json_name);
      if (it != obj.end()) ordered.emplace(f.json_name, std::move(it->value()));
    }
    return ordered;
  }
  return obj;
}

}  // namespace

Result<json::object> decodeProtobufMessage(std::string_view bytes, const SchemaType& type) {
  try {
    Decoder d;
    return d.message(bytes, type, 1);
  } catch (const std::exception& e) {  // allocation failures inside boost::json
    return badRequest(std::string("protobuf: ") + e.what());
  }
}

Result<DecodedProto> decodeKubernetesProtobuf(std::string_view body, const ProtoSchemaLookup& lookup) {
  // runtime/serializer/protobuf: protoEncodingPrefix = "k8s\x00".
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.size() < kMagic.size() || body.substr(0, kMagic.size()) != kMagic)
    return badRequest("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]");
  Reader r(body.substr(kMagic.size()));
  DecodedProto out;
  std::string_view raw, content_encoding;
  bool has_raw = false;
  while (!r.done()) {
    int number = 0, wire = 0;
    if (!readTag(r, &number, &wire)) return badRequest("protobuf: malformed runtime.Unknown envelope");
    if (number >= 1 && number <= 4) {
      if (wire != kLengthDelimited)
        return badRequest("protobuf: runtime.Unknown field " + std::to_string(number) + ": unexpected wire type " +
                          wireName(wire));
      std::string_view bytes;
      if (!r.bytes(&bytes)) return badRequest("protobuf: length beyond the buffer in runtime.Unknown");
      if (number == 1) {
        Reader tm(bytes);
        while (!tm.done()) {
          int n = 0, w = 0;
          if (!readTag(tm, &n, &w)) return badRequest("protobuf: malformed runtime.TypeMeta");
          if ((n == 1 || n == 2) && w == kLengthDelimited) {
            std::string_view s;
            if (!tm.bytes(&s)) return badRequest("protobuf: length beyond the buffer in runtime.TypeMeta");
            (n == 1 ? out.api_version : out.kind) = sanitizeUtf8(s);
          } else {
            BERTH_RETURN_IF_ERROR(skipValue(tm, w));
          }
        }
      } else if (number == 2) {
        raw = bytes;
        has_raw = true;
      } else if (number == 3) {
        content_encoding = bytes;
      }
    } else {
      BERTH_RETURN_IF_ERROR(skipValue(r, wire));
    }
  }
  if (!content_encoding.empty())
    return badRequest("protobuf: unsupported contentEncoding \"" + sanitizeUtf8(content_encoding) + "\"");
  if (out.kind.empty()) return badRequest("Object 'Kind' is missing in protobuf runtime.Unknown");
  if (out.api_version.empty()) return badRequest("Object 'apiVersion' is missing in protobuf runtime.Unknown");
  std::shared_ptr<const SchemaType> type = lookup ? lookup(out.api_version, out.kind) : nullptr;
  if (!type || type->kind != SchemaKind::kObject)
    return badRequest("no kind \"" + out.kind + "\" is registered for version \"" + out.api_version + "\"");
  (void)has_raw;  // an absent raw is an object with every field at its zero value
  BERTH_ASSIGN_OR_RETURN(auto obj, decodeProtobufMessage(raw, *type));
  try {
    json::object result;
    result.reserve(obj.size() + 2);
    result.emplace("kind", out.kind);
    result.emplace("apiVersion", out.api_version);
    for (auto& kv : obj)
      if (kv.key() != "kind" && kv.key() != "apiVersion") result.emplace(kv.key(), std::move(kv.value()));
    out.object = std::move(result);
  } catch (const std::exception& e) {
    return badRequest(std::string("protobuf: ") + e.what());
  }
  return out;
}

// ---- Formatting helpers ------------------------------------------------------

std::string base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) | std::uint8_t(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    std::uint32_t n = std::uint8_t(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    std::uint32_t n = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

bool base64Decode(std::string_view text, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  // Go's StdEncoding skips \r and \n; nothing else.
  std::string clean;
  clean.reserve(text.size());
  for (char c : text)
    if (c != '\r' && c != '\n') clean += c;
  if (clean.size() % 4 != 0) return false;
  std::string result;
  result.reserve(clean.size() / 4 * 3);
  for (std::size_t i = 0; i < clean.size(); i += 4) {
    int a = val(clean[i]), b = val(clean[i + 1]);
    if (a < 0 || b < 0) return false;
    bool last = i + 4 == clean.size();
    char c3 = clean[i + 2], c4 = clean[i + 3];
    if (c3 == '=') {
      if (!last || c4 != '=' || (b & 15)) return false;
      result += static_cast<char>((a << 2) | (b >> 4));
      continue;
    }
    int c = val(c3);
    if (c < 0) return false;
    if (c4 == '=') {
      if (!last || (c & 3)) return false;
      result += static_cast<char>((a << 2) | (b >> 4));
      result += static_cast<char>(((b & 15) << 4) | (c >> 2));
      continue;
    }
    int d = val(c4);
    if (d < 0) return false;
    result += static_cast<char>((a << 2) | (b >> 4));
    result += static_cast<char>(((b & 15) << 4) | (c >> 2));
    result += static_cast<char>(((c & 3) << 6) | d);
  }
  if (out) *out = std::move(result);
  return true;
}

bool formatRfc3339(std::int64_t seconds, std::int32_t nanos, int fraction_digits, std::string* out) {
  // Years 0000-9999 only: RFC 3339 has four-digit years and Go's
  // MarshalJSON fails outside them.
  constexpr std::int64_t kMin = -62167219200;  // 0000-01-01T00:00:00Z
  constexpr std::int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
  if (seconds < kMin || seconds > kMax) return false;
  std::int64_t days = seconds / 86400;
  std::int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days (H. Hinnant's public-domain algorithm).
  std::int64_t z = days + 719468;
  std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", static_cast<int>(y), static_cast<int>(m),
                        static_cast<int>(d), static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                        static_cast<int>(rem % 60));
  std::string s(buf, n);
  if (fraction_digits > 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, "%09d", static_cast<int>(nanos));
    s += '.';
    s.append(frac, std::min(fraction_digits, 9));
  }
  s += 'Z';
  *out = std::move(s);
  return true;
}

std::string formatGoDuration(std::int64_t ns) {
  if (ns == 0) return "0s";
  bool neg = ns < 0;
  std::uint64_t u = neg ? std::uint64_t(0) - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  std::string out;
  auto fraction = [](std::uint64_t v, int prec) {
    // v has `prec` fractional digits; print them without trailing zeros.
    std::string digits;
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      int digit = static_cast<int>(v % 10);
      print = print || digit != 0;
      if (print) digits.insert(digits.begin(), static_cast<char>('0' + digit));
      v /= 10;
    }
    if (print) digits.insert(digits.begin(), '.');
    return std::make_pair(v, digits);
  };
  if (u < 1000000000ull) {
    // Sub-second: ns, µs or ms, as Go prints them.
    int prec;
    const char* unit;
    if (u < 1000) {
      return std::string(neg ? "-" : "") + std::to_string(u) + "ns";
    } else if (u < 1000000) {
      prec = 3;
      unit = "\xc2\xb5s";
    } else {
      prec = 6;
      unit = "ms";
    }
    auto [whole, frac] = fraction(u, prec);
    return std::string(neg ? "-" : "") + std::to_string(whole) + frac + unit;
  }
  auto [secs_total, frac] = fraction(u, 9);
  std::uint64_t secs = secs_total % 60;
  std::uint64_t mins_total = secs_total / 60;
  out = std::to_string(secs) + frac + "s";
  if (mins_total > 0) {
    out = std::to_string(mins_total % 60) + "m" + out;
    std::uint64_t hours = mins_total / 60;
    if (hours > 0) out = std::to_string(hours) + "h" + out;
  }
  return (neg ? "-" : "") + out;
}

}  // namespace berth::api
