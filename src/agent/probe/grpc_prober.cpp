#include "agent/probe/grpc_prober.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>

#include "agent/probe/dial.h"
#include "agent/probe/exec_prober.h"

namespace berth::agent::probe {

namespace hpack {
namespace {

// Code lengths of symbols 0..255 and EOS (256), RFC 7541 Appendix B. The
// code is canonical: codes follow from the lengths alone (symbols sorted by
// length, then value, counting up), which is how the table is built here.
constexpr uint8_t kCodeLengths[257] = {
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6,  10, 10, 12, 13, 6,  8,  11, 10, 10, 8,  11, 8,  6,  6,  6,
    5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8,  15, 6,  12, 10, 13, 6,  7,  7,  7,  7,  7,  7,
    7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8,  13, 19, 13, 14, 6,
    15, 5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,  6,  7,  6,  5,  5,  6,  7,  7,
    7,  7,  7,  15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21,
    23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24,
    21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30};
constexpr int kMaxCodeLength = 30;
constexpr int kEos = 256;

struct HuffmanTable {
  std::array<uint32_t, 257> codes{};
  // Canonical decoding: per length, the first code, how many codes, and
  // where its symbols start in `sorted`.
  std::array<uint32_t, kMaxCodeLength + 1> first{};
  std::array<uint32_t, kMaxCodeLength + 1> count{};
  std::array<uint32_t, kMaxCodeLength + 1> offset{};
  std::array<uint16_t, 257> sorted{};

  HuffmanTable() {
    for (int s = 0; s < 257; ++s) sorted[s] = static_cast<uint16_t>(s);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](uint16_t a, uint16_t b) { return kCodeLengths[a] < kCodeLengths[b]; });
    uint32_t code = 0;
    int prev_len = kCodeLengths[sorted[0]];
    for (int i = 0; i < 257; ++i) {
      int len = kCodeLengths[sorted[i]];
      if (i > 0) code = (code + 1) << (len - prev_len);
      prev_len = len;
      codes[sorted[i]] = code;
      if (count[len] == 0) {
        first[len] = code;
        offset[len] = static_cast<uint32_t>(i);
      }
      ++count[len];
    }
  }
};

const HuffmanTable& huffman() {
  static const HuffmanTable table;
  return table;
}

// RFC 7541 Appendix A.
constexpr std::pair<const char*, const char*> kStaticTable[61] = {
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
};

Error hpackError(const std::string& what) {
  return makeError(ErrorCode::kInternal, "hpack: " + what);
}

// Reads an N-bit-prefix integer at *pos.
Result<uint64_t> decodeInteger(std::string_view in, size_t* pos, int prefix_bits) {
  if (*pos >= in.size()) return hpackError("truncated integer");
  uint64_t max_prefix = (1u << prefix_bits) - 1;
  uint64_t value = static_cast<uint8_t>(in[(*pos)++]) & max_prefix;
  if (value < max_prefix) return value;
  for (int shift = 0;; shift += 7) {
    if (*pos >= in.size()) return hpackError("truncated integer");
    if (shift > 56) return hpackError("integer overflow");
    uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
    value += static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return value;
  }
}

Result<std::string> decodeString(std::string_view in, size_t* pos) {
  if (*pos >= in.size()) return hpackError("truncated string");
  bool huffman_coded = (static_cast<uint8_t>(in[*pos]) & 0x80) != 0;
  BERTH_ASSIGN_OR_RETURN(uint64_t len, decodeInteger(in, pos, 7));
  if (len > in.size() - *pos) return hpackError("string longer than the block");
  std::string_view raw = in.substr(*pos, len);
  *pos += len;
  if (huffman_coded) return huffmanDecode(raw);
  return std::string(raw);
}

}  // namespace

std::string huffmanEncode(std::string_view text) {
  const auto& table = huffman();
  std::string out;
  uint64_t bits = 0;
  int nbits = 0;
  for (unsigned char c : text) {
    bits = (bits << kCodeLengths[c]) | table.codes[c];
    nbits += kCodeLengths[c];
    while (nbits >= 8) {
      nbits -= 8;
      out.push_back(static_cast<char>((bits >> nbits) & 0xff));
    }
  }
  if (nbits > 0) {
    // Padded with the most significant bits of EOS (all ones).
    out.push_back(static_cast<char>(((bits << (8 - nbits)) | ((1u << (8 - nbits)) - 1)) & 0xff));
  }
  return out;
}

Result<std::string> huffmanDecode(std::string_view encoded) {
  const auto& t = huffman();
  std::string out;
  uint32_t code = 0;
  int len = 0;
  for (unsigned char byte : encoded) {
    for (int bit = 7; bit >= 0; --bit) {
      code = (code << 1) | ((byte >> bit) & 1);
      ++len;
      if (len > kMaxCodeLength) return hpackError("invalid Huffman code");
      if (t.count[len] != 0 && code >= t.first[len] && code - t.first[len] < t.count[len]) {
        int symbol = t.sorted[t.offset[len] + (code - t.first[len])];
        if (symbol == kEos) return hpackError("EOS in a Huffman string");
        out.push_back(static_cast<char>(symbol));
        code = 0;
        len = 0;
      }
    }
  }
  // What is left must be padding: fewer than 8 bits, all ones (RFC 7541 5.2).
  if (len > 7 || code != (1u << len) - 1) return hpackError("invalid Huffman padding");
  return out;
}

std::string encodeInteger(uint64_t value, int prefix_bits, uint8_t first_byte) {
  std::string out;
  uint64_t max_prefix = (1u << prefix_bits) - 1;
  if (value < max_prefix) {
    out.push_back(static_cast<char>(first_byte | value));
    return out;
  }
  out.push_back(static_cast<char>(first_byte | max_prefix));
  value -= max_prefix;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

std::string encodeLiteral(std::string_view name, std::string_view value, bool huffman_coded) {
  auto str = [&](std::string_view s) {
    if (!huffman_coded) return encodeInteger(s.size(), 7, 0x00) + std::string(s);
    std::string coded = huffmanEncode(s);
    return encodeInteger(coded.size(), 7, 0x80) + coded;
  };
  return std::string(1, '\0') + str(name) + str(value);
}

Result<Header> Decoder::lookup(uint64_t index) const {
  if (index == 0) return hpackError("index 0");
  if (index <= 61) return Header{kStaticTable[index - 1].first, kStaticTable[index - 1].second};
  if (index - 62 < table_.size()) return table_[index - 62];
  return hpackError("index " + std::to_string(index) + " beyond the dynamic table");
}

void Decoder::evict() {
  while (bytes_ > size_ && !table_.empty()) {
    bytes_ -= table_.back().name.size() + table_.back().value.size() + 32;
    table_.pop_back();
  }
}

void Decoder::insert(Header header) {
  size_t entry = header.name.size() + header.value.size() + 32;
  if (entry > size_) {
    // An entry larger than the table empties it (RFC 7541 4.4).
    table_.clear();
    bytes_ = 0;
    return;
  }
  bytes_ += entry;
  table_.push_front(std::move(header));
  evict();
}

Result<std::vector<Header>> Decoder::decode(std::string_view block) {
  std::vector<Header> headers;
  size_t pos = 0;
  bool header_seen = false;
  while (pos < block.size()) {
    uint8_t b = static_cast<uint8_t>(block[pos]);
    if (b & 0x80) {  // indexed header field
      BERTH_ASSIGN_OR_RETURN(uint64_t index, decodeInteger(block, &pos, 7));
      BERTH_ASSIGN_OR_RETURN(auto header, lookup(index));
      headers.push_back(std::move(header));
      header_seen = true;
      continue;
    }
    if ((b & 0xe0) == 0x20) {  // dynamic table size update
      if (header_seen) return hpackError("table size update after a header field");
      BERTH_ASSIGN_OR_RETURN(uint64_t size, decodeInteger(block, &pos, 5));
      if (size > max_size_) return hpackError("table size update above the announced maximum");
      size_ = size;
      evict();
      continue;
    }
    // Literal: with incremental indexing (01, 6-bit index), without
    // indexing (0000, 4-bit) or never indexed (0001, 4-bit).
    bool indexing = (b & 0xc0) == 0x40;
    int prefix = indexing ? 6 : 4;
    BERTH_ASSIGN_OR_RETURN(uint64_t name_index, decodeInteger(block, &pos, prefix));
    Header header;
    if (name_index != 0) {
      BERTH_ASSIGN_OR_RETURN(auto named, lookup(name_index));
      header.name = std::move(named.name);
    } else {
      BERTH_ASSIGN_OR_RETURN(header.name, decodeString(block, &pos));
    }
    BERTH_ASSIGN_OR_RETURN(header.value, decodeString(block, &pos));
    if (indexing) insert(header);
    headers.push_back(std::move(header));
    header_seen = true;
  }
  return headers;
}

}  // namespace hpack

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint8_t kData = 0, kHeaders = 1, kRstStream = 3, kSettings = 4, kPushPromise = 5,
                  kPing = 6, kGoaway = 7, kContinuation = 9;
constexpr uint8_t kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4, kPadded = 0x8, kPriority = 0x20;
constexpr size_t kMaxFrameSize = 16384;  // SETTINGS_MAX_FRAME_SIZE default; we announce no other
constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  size_t n = payload.size();
  f.push_back(static_cast<char>((n >> 16) & 0xff));
  f.push_back(static_cast<char>((n >> 8) & 0xff));
  f.push_back(static_cast<char>(n & 0xff));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) {
    f.push_back(static_cast<char>((stream >> shift) & 0xff));
  }
  f.append(payload);
  return f;
}

uint32_t be32(std::string_view s, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(s[at + 3]));
}

// The outcome of the call before it is judged: a transport or protocol
// failure, a timeout, or the response.
struct CallFailure {
  bool timeout = false;
  int code = 14;  // Unavailable
  std::string message;
};

class H2Connection {
 public:
  H2Connection(int fd, Clock::time_point deadline) : fd_(fd), deadline_(deadline) {}
  ~H2Connection() { ::close(fd_); }

  bool send(std::string_view data, CallFailure* failure) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (!waitFor(POLLOUT, failure)) return false;
        continue;
      }
      if (n < 0) {
        failure->message = "connection error: " + errnoText(errno);
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one frame; false (and *failure) on EOF, error or the deadline.
  bool readFrame(uint8_t* type, uint8_t* flags, uint32_t* stream, std::string* payload,
                 CallFailure* failure) {
    if (!fill(9, failure)) return false;
    size_t len = (static_cast<size_t>(static_cast<uint8_t>(in_[0])) << 16) |
                 (static_cast<size_t>(static_cast<uint8_t>(in_[1])) << 8) |
                 static_cast<uint8_t>(in_[2]);
    *type = static_cast<uint8_t>(in_[3]);
    *flags = static_cast<uint8_t>(in_[4]);
    *stream = be32(in_, 5) & 0x7fffffff;
    if (len > kMaxFrameSize) {
      failure->code = 13;  // Internal
      failure->message = "connection error: frame too large (" + std::to_string(len) + " bytes)";
      return false;
    }
    if (!fill(9 + len, failure)) return false;
    payload->assign(in_, 9, len);
    in_.erase(0, 9 + len);
    return true;
  }

 private:
  bool waitFor(short events, CallFailure* failure) {
    pollfd p{fd_, events, 0};
    int n;
    do {
      n = ::poll(&p, 1, remainingMs(deadline_));
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      failure->timeout = true;
      return false;
    }
    if (n < 0) {
      failure->message = "connection error: " + errnoText(errno);
      return false;
    }
    return true;
  }

  bool fill(size_t want, CallFailure* failure) {
    while (in_.size() < want) {
      char buf[16384];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {
        failure->message = "error reading from server: EOF";
        return false;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        failure->message = "error reading from server: " + errnoText(errno);
        return false;
      }
      if (!waitFor(POLLIN, failure)) return false;
    }
    return true;
  }

  int fd_;
  Clock::time_point deadline_;
  std::string in_;
};

// Strips the PADDED (and for HEADERS the PRIORITY) fields of a payload.
bool unpad(uint8_t type, uint8_t flags, std::string* payload) {
  size_t start = 0, pad = 0;
  if (flags & kPadded) {
    if (payload->empty()) return false;
    pad = static_cast<uint8_t>((*payload)[0]);
    start = 1;
  }
  if (type == kHeaders && (flags & kPriority)) start += 5;
  if (start + pad > payload->size()) return false;
  *payload = payload->substr(start, payload->size() - start - pad);
  return true;
}

std::string percentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// grpc-go's mapping of a non-200 HTTP status to a gRPC code.
int codeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return 13;  // Internal
    case 401:
      return 16;  // Unauthenticated
    case 403:
      return 7;  // PermissionDenied
    case 404:
      return 12;  // Unimplemented
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;  // Unavailable
    default:
      return 2;  // Unknown
  }
}

std::string rstStreamCode(uint32_t code) {
  // RFC 9113 7 error codes grpc-go names in its message.
  static const char* kNames[] = {"NO_ERROR",
                                 "PROTOCOL_ERROR",
                                 "INTERNAL_ERROR",
                                 "FLOW_CONTROL_ERROR",
                                 "SETTINGS_TIMEOUT",
                                 "STREAM_CLOSED",
                                 "FRAME_SIZE_ERROR",
                                 "REFUSED_STREAM",
                                 "CANCEL",
                                 "COMPRESSION_ERROR",
                                 "CONNECT_ERROR",
                                 "ENHANCE_YOUR_CALM",
                                 "INADEQUATE_SECURITY",
                                 "HTTP_1_1_REQUIRED"};
  if (code < sizeof(kNames) / sizeof(kNames[0])) return kNames[code];
  return std::to_string(code);
}

struct CallResponse {
  std::map<std::string, std::string> headers;   // response headers
  std::map<std::string, std::string> trailers;  // trailers (or the trailers-only headers)
  std::string data;
};

// One Health/Check call on an open connection. False with *failure on any
// transport, protocol or timeout failure.
bool call(int fd, const std::string& authority, const std::string& service,
          std::chrono::milliseconds timeout, Clock::time_point deadline, CallResponse* response,
          CallFailure* failure) {
  H2Connection conn(fd, deadline);
  using hpack::encodeLiteral;
  std::string block =
      encodeLiteral(":method", "POST") + encodeLiteral(":scheme", "http") +
      encodeLiteral(":path", "/grpc.health.v1.Health/Check") +
      encodeLiteral(":authority", authority) + encodeLiteral("content-type", "application/grpc") +
      encodeLiteral("user-agent", kProbeUserAgent) + encodeLiteral("te", "trailers") +
      encodeLiteral("grpc-timeout", std::to_string(timeout.count()) + "m");
  std::string message = healthCheckRequest(service);
  std::string data(5, '\0');  // uncompressed, then the length (big endian)
  for (int i = 0; i < 4; ++i) {
    data[1 + i] = static_cast<char>((message.size() >> (24 - 8 * i)) & 0xff);
  }
  data += message;
  // SETTINGS_ENABLE_PUSH (2) = 0: the probe takes no pushed streams.
  std::string settings = {0, 2, 0, 0, 0, 0};
  std::string out = std::string(kPreface, sizeof(kPreface) - 1) + frame(kSettings, 0, 0, settings) +
                    frame(kHeaders, kEndHeaders, 1, block) + frame(kData, kEndStream, 1, data);
  if (!conn.send(out, failure)) return false;

  hpack::Decoder decoder;
  bool got_headers = false;
  std::string pending_block;  // a header block waiting for CONTINUATION
  uint8_t pending_flags = 0;
  while (true) {
    uint8_t type = 0, flags = 0;
    uint32_t stream = 0;
    std::string payload;
    if (!conn.readFrame(&type, &flags, &stream, &payload, failure)) return false;
    if (!pending_block.empty() || (pending_flags & 0x80)) {
      if (type != kContinuation || stream != 1) {
        failure->code = 13;
        failure->message = "connection error: expected CONTINUATION";
        return false;
      }
    }
    switch (type) {
      case kSettings:
        if (!(flags & kAck) && !conn.send(frame(kSettings, kAck, 0, ""), failure)) return false;
        continue;
      case kPing:
        if (!(flags & kAck) && !conn.send(frame(kPing, kAck, 0, payload), failure)) return false;
        continue;
      case kGoaway: {
        uint32_t code = payload.size() >= 8 ? be32(payload, 4) : 0;
        failure->message = "the connection is draining (GOAWAY " + rstStreamCode(code) +
                           (payload.size() > 8 ? ", \"" + payload.substr(8) + "\"" : "") + ")";
        return false;
      }
      case kRstStream:
        if (stream != 1) continue;
        {
          uint32_t code = payload.size() >= 4 ? be32(payload, 0) : 0;
          failure->code = code == 7 ? 14 : code == 8 ? 1 : 13;  // REFUSED_STREAM, CANCEL, else
          failure->message =
              "stream terminated by RST_STREAM with error code: " + rstStreamCode(code);
        }
        return false;
      case kPushPromise:
        failure->code = 13;
        failure->message = "connection error: PUSH_PROMISE although push is disabled";
        return false;
      case kData:
        if (stream != 1) continue;
        if (!unpad(type, flags, &payload)) {
          failure->code = 13;
          failure->message = "connection error: bad padding";
          return false;
        }
        response->data += payload;
        if (flags & kEndStream) {
          failure->code = 13;
          failure->message = "server closed the stream without sending trailers";
          return false;
        }
        continue;
      case kHeaders:
      case kContinuation: {
        if (type == kHeaders) {
          if (!unpad(type, flags, &payload)) {
            failure->code = 13;
            failure->message = "connection error: bad padding";
            return false;
          }
          pending_flags = flags;
        }
        pending_block += payload;
        if (!(flags & kEndHeaders)) {
          pending_flags |= 0x80;  // marks "CONTINUATION expected" even for an empty fragment
          continue;
        }
        // Every block goes through the decoder (it shares one dynamic table).
        auto headers = decoder.decode(pending_block);
        pending_block.clear();
        bool end_stream = (pending_flags & kEndStream) != 0;
        pending_flags = 0;
        if (!headers.ok()) {
          failure->code = 13;
          failure->message = "connection error: " + headers.error().message;
          return false;
        }
        if (stream != 1) continue;
        auto& target = got_headers || end_stream ? response->trailers : response->headers;
        if (!got_headers && end_stream) {
          // Trailers-only: the one block has both :status and grpc-status.
          for (const auto& h : *headers) response->headers[h.name] = h.value;
        }
        for (const auto& h : *headers) target[h.name] = h.value;
        got_headers = true;
        if (end_stream) return true;
        continue;
      }
      default:
        continue;  // PRIORITY, WINDOW_UPDATE, unknown types: nothing to do
    }
  }
}

}  // namespace

std::string healthCheckRequest(const std::string& service) {
  if (service.empty()) return "";  // proto3 leaves the default out
  std::string msg = "\x0a";        // field 1, length-delimited
  size_t n = service.size();
  while (n >= 0x80) {
    msg.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  msg.push_back(static_cast<char>(n));
  return msg + service;
}

Result<int> parseHealthCheckResponse(std::string_view m) {
  size_t pos = 0;
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= m.size()) return false;
      uint8_t b = static_cast<uint8_t>(m[pos++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  int status = 0;
  while (pos < m.size()) {
    uint64_t key = 0, v = 0;
    if (!varint(&key)) return makeError(ErrorCode::kInternal, "truncated HealthCheckResponse");
    switch (key & 7) {
      case 0:
        if (!varint(&v)) return makeError(ErrorCode::kInternal, "truncated HealthCheckResponse");
        if ((key >> 3) == 1) status = static_cast<int>(v);
        break;
      case 1:
        pos += 8;
        break;
      case 2:
        if (!varint(&v)) return makeError(ErrorCode::kInternal, "truncated HealthCheckResponse");
        pos += v;
        break;
      case 5:
        pos += 4;
        break;
      default:
        return makeError(ErrorCode::kInternal, "bad wire type in HealthCheckResponse");
    }
    if (pos > m.size()) return makeError(ErrorCode::kInternal, "truncated HealthCheckResponse");
  }
  return status;
}

const char* servingStatusName(int status) {
  switch (status) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return nullptr;
  }
}

std::string grpcCodeName(int code) {
  static const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  if (code >= 0 && code <= 16) return kNames[code];
  return "Code(" + std::to_string(code) + ")";
}

ProbeOutcome probeGrpc(const std::string& host, int port, const std::string& service,
                       std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  bool v6 = host.find(':') != std::string::npos;
  std::string addr = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string within = goDuration(timeout);
  auto fail = [](std::string text) { return ProbeOutcome{ProbeResult::kFailure, std::move(text)}; };

  CallFailure failure;
  Dialed dialed = dialTcp(host, port, deadline);
  int fd = dialed.fd;
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  failure.timeout = dialed.timed_out;
  failure.message = dialed.error;
  if (fd < 0) {
    if (failure.timeout) {
      return fail("timeout: failed to connect service \"" + addr + "\" within " + within +
                  ": context deadline exceeded");
    }
    return fail("error: failed to connect service at \"" + addr + "\": " + failure.message);
  }
  auto rpcError = [&](int code, const std::string& message) {
    if (code == 12) {
      return fail(
          "error: this server does not implement the grpc health protocol "
          "(grpc.health.v1.Health): " +
          message);
    }
    if (code == 4) return fail("timeout: health rpc did not complete within " + within);
    return fail("error: health rpc probe failed: rpc error: code = " + grpcCodeName(code) +
                " desc = " + message);
  };

  CallResponse response;
  if (!call(fd, addr, service, timeout, deadline, &response, &failure)) {
    if (failure.timeout) return rpcError(4, "context deadline exceeded");
    return rpcError(failure.code, failure.message);
  }
  const auto& status_text = response.headers[":status"];
  if (status_text != "200") {
    int http_status = std::atoi(status_text.c_str());
    return rpcError(codeForHttpStatus(http_status),
                    "unexpected HTTP status code received from server: " + status_text);
  }
  if (response.headers["content-type"].rfind("application/grpc", 0) != 0) {
    return rpcError(2, "unexpected content-type \"" + response.headers["content-type"] + "\"");
  }
  auto grpc_status = response.trailers.find("grpc-status");
  if (grpc_status == response.trailers.end()) {
    return rpcError(13, "server closed the stream without sending trailers");
  }
  int code = std::atoi(grpc_status->second.c_str());
  if (code != 0) return rpcError(code, percentDecode(response.trailers["grpc-message"]));

  const std::string& data = response.data;
  if (data.size() < 5) return rpcError(13, "grpc: no response message");
  if (data[0] != 0) return rpcError(13, "grpc: compressed response without negotiation");
  uint32_t len = be32(data, 1);
  if (data.size() - 5 < len) return rpcError(13, "grpc: truncated response message");
  auto health = parseHealthCheckResponse(std::string_view(data).substr(5, len));
  if (!health.ok())
    return rpcError(13, "grpc: failed to unmarshal the response: " + health.error().message);
  if (*health != 1) {
    const char* name = servingStatusName(*health);
    return fail("service unhealthy (responded with \"" +
                (name ? std::string(name) : std::to_string(*health)) + "\")");
  }
  return {ProbeResult::kSuccess, "service healthy"};
}

}  // namespace berth::agent::probe
