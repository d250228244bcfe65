#pragma once

// The gRPC probe, as upstream's pkg/probe/grpc: one grpc.health.v1.Health/
// Check call over HTTP/2 cleartext (prior knowledge, no TLS, as upstream's
// WithInsecure), with the probe's timeout for connecting and the call.
//
// SERVING: success ("service healthy"); another status: failure
// `service unhealthy (responded with "NOT_SERVING")`; a gRPC error status:
// failure `error: health rpc probe failed: rpc error: code = NotFound desc =
// ...` (Unimplemented and DeadlineExceeded have their own texts); no
// connection: failure `error: failed to connect service at "host:port": ...`
// or `timeout: failed to connect service "host:port" within 1s: ...`.
//
// The HTTP/2 client is minimal but real: preface, SETTINGS (ACKed both
// ways), PING answered, one stream with HEADERS (+CONTINUATION) and DATA,
// padding and priority flags understood, GOAWAY and RST_STREAM reported.
// Request headers are HPACK literals without indexing; responses are
// decoded with the static and dynamic tables, Huffman strings and table
// size updates (RFC 7541).

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/probe/probers.h"
#include "common/result.h"

namespace berth::agent::probe {

ProbeOutcome probeGrpc(const std::string& host, int port, const std::string& service,
                       std::chrono::milliseconds timeout);

// grpc.health.v1 messages (protobuf wire format).
std::string healthCheckRequest(const std::string& service);
// HealthCheckResponse.status (0 UNKNOWN, 1 SERVING, 2 NOT_SERVING, 3 SERVICE_UNKNOWN).
Result<int> parseHealthCheckResponse(std::string_view message);
const char* servingStatusName(int status);
// grpc-go's codes.Code String() ("NotFound", "Unimplemented", ...).
std::string grpcCodeName(int code);

namespace hpack {

struct Header {
  std::string name;
  std::string value;
  bool operator==(const Header&) const = default;
};

// The canonical Huffman code of RFC 7541 Appendix B.
std::string huffmanEncode(std::string_view text);
Result<std::string> huffmanDecode(std::string_view encoded);

// An integer with an N-bit prefix (RFC 7541 5.1); first_byte holds the
// representation's flag bits above the prefix.
std::string encodeInteger(uint64_t value, int prefix_bits, uint8_t first_byte);
// A literal header field without indexing, new name (RFC 7541 6.2.2).
std::string encodeLiteral(std::string_view name, std::string_view value, bool huffman = false);

// A header block decoder with its dynamic table; one per connection, fed
// every header block in order.
class Decoder {
 public:
  explicit Decoder(size_t max_table_size = 4096)
      : max_size_(max_table_size), size_(max_table_size) {}
  Result<std::vector<Header>> decode(std::string_view block);
  size_t tableBytes() const { return bytes_; }
  size_t tableEntries() const { return table_.size(); }

 private:
  Result<Header> lookup(uint64_t index) const;
  void insert(Header header);
  void evict();

  size_t max_size_;  // SETTINGS_HEADER_TABLE_SIZE we announced
  size_t size_;      // the encoder's current choice (<= max_size_)
  size_t bytes_ = 0;
  std::deque<Header> table_;  // front: newest (index 62)
};

}  // namespace hpack
}  // namespace berth::agent::probe
