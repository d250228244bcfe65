#include "agent/probe/grpc_prober.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace berth::agent::probe {
namespace {

using hpack::Header;
using std::chrono::milliseconds;

std::string unhex(std::string_view hex) {
  std::string out;
  std::string digits;
  for (char c : hex) {
    if (c != ' ') digits.push_back(c);
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// --- HPACK against RFC 7541 Appendix C ---

TEST(HpackTest, HuffmanMatchesRfcExamples) {
  // C.4.1, C.4.2 and C.6.1 string literals.
  EXPECT_EQ(hpack::huffmanEncode("www.example.com"), unhex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"));
  EXPECT_EQ(hpack::huffmanEncode("no-cache"), unhex("a8eb 1064 9cbf"));
  EXPECT_EQ(hpack::huffmanEncode("private"), unhex("aec3 771a 4b"));
  EXPECT_EQ(hpack::huffmanEncode("302"), unhex("6402"));
  EXPECT_EQ(*hpack::huffmanDecode(unhex("f1e3 c2e5 f23a 6ba0 ab90 f4ff")), "www.example.com");
  EXPECT_EQ(*hpack::huffmanDecode(unhex("aec3 771a 4b")), "private");
  EXPECT_EQ(*hpack::huffmanDecode(""), "");
}

TEST(HpackTest, HuffmanRoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  auto decoded = hpack::huffmanDecode(hpack::huffmanEncode(all));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(*decoded, all);
}

TEST(HpackTest, HuffmanRejectsBadPadding) {
  // "0" is 00000 (5 bits); padding must be ones.
  EXPECT_EQ(*hpack::huffmanDecode(unhex("07")), "0");
  EXPECT_FALSE(hpack::huffmanDecode(unhex("00")).ok());  // zero padding
  // A whole byte of ones is more than 7 bits of padding.
  EXPECT_FALSE(hpack::huffmanDecode(unhex("07 ff")).ok());
  // EOS (30 ones) inside a string.
  EXPECT_FALSE(hpack::huffmanDecode(unhex("ff ff ff ff")).ok());
}

TEST(HpackTest, IntegersWithPrefixes) {
  // C.1.1-C.1.3.
  EXPECT_EQ(hpack::encodeInteger(10, 5, 0), unhex("0a"));
  EXPECT_EQ(hpack::encodeInteger(1337, 5, 0), unhex("1f 9a 0a"));
  EXPECT_EQ(hpack::encodeInteger(42, 8, 0), unhex("2a"));
}

TEST(HpackTest, DecodesRfcRequestsWithTheDynamicTable) {
  hpack::Decoder d;
  // C.4.1
  auto first = d.decode(unhex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, (std::vector<Header>{{":method", "GET"},
                                         {":scheme", "http"},
                                         {":path", "/"},
                                         {":authority", "www.example.com"}}));
  EXPECT_EQ(d.tableBytes(), 57u);
  // C.4.2: index 62 is the entry added above.
  auto second = d.decode(unhex("8286 84be 5886 a8eb 1064 9cbf"));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->at(3), (Header{":authority", "www.example.com"}));
  EXPECT_EQ(second->at(4), (Header{"cache-control", "no-cache"}));
  EXPECT_EQ(d.tableBytes(), 110u);
  // C.4.3
  auto third = d.decode(unhex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"));
  ASSERT_TRUE(third.ok()) << third.error().message;
  EXPECT_EQ(third->at(2), (Header{":path", "/index.html"}));
  EXPECT_EQ(third->at(3), (Header{":authority", "www.example.com"}));
  EXPECT_EQ(third->at(4), (Header{"custom-key", "custom-value"}));
  EXPECT_EQ(d.tableBytes(), 164u);
  EXPECT_EQ(d.tableEntries(), 3u);
}

TEST(HpackTest, DecodesRfcResponseAndEvicts) {
  // C.6.1 with a 256-byte table, then C.6.2, which evicts the oldest entry.
  hpack::Decoder d(256);
  auto first = d.decode(
      unhex("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 "
            "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, (std::vector<Header>{{":status", "302"},
                                         {"cache-control", "private"},
                                         {"date", "Mon, 21 Oct 2013 20:13:21 GMT"},
                                         {"location", "https://www.example.com"}}));
  EXPECT_EQ(d.tableBytes(), 222u);
  auto second = d.decode(unhex("4883 640e ff c1 c0 bf"));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(*second, (std::vector<Header>{{":status", "307"},
                                          {"cache-control", "private"},
                                          {"date", "Mon, 21 Oct 2013 20:13:21 GMT"},
                                          {"location", "https://www.example.com"}}));
  EXPECT_EQ(d.tableBytes(), 222u);
  EXPECT_EQ(d.tableEntries(), 4u);
}

TEST(HpackTest, TableSizeUpdatesAndErrors) {
  hpack::Decoder d;
  ASSERT_TRUE(d.decode(unhex("4006") + "abcdef" + unhex("01") + "x").ok());
  EXPECT_EQ(d.tableEntries(), 1u);
  // A size update to 0 empties the table; one back to 4096 is allowed too.
  auto updated = d.decode(unhex("20 3fe11f 88"));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(*updated, (std::vector<Header>{{":status", "200"}}));
  EXPECT_EQ(d.tableEntries(), 0u);
  EXPECT_FALSE(d.decode(unhex("be")).ok());         // no dynamic entry 62
  EXPECT_FALSE(d.decode(unhex("3fe21f")).ok());     // 4097 > the announced 4096
  EXPECT_FALSE(d.decode(unhex("88 20")).ok());      // update after a field
  EXPECT_FALSE(d.decode(unhex("0085 f1e3")).ok());  // string past the end
  EXPECT_FALSE(d.decode(unhex("80")).ok());         // index 0
}

TEST(GrpcMessagesTest, HealthCheckRequestAndResponse) {
  EXPECT_EQ(healthCheckRequest(""), "");
  EXPECT_EQ(healthCheckRequest("foo"), unhex("0a03") + "foo");
  EXPECT_EQ(healthCheckRequest(std::string(200, 'a')).substr(0, 3), unhex("0ac801"));
  EXPECT_EQ(*parseHealthCheckResponse(unhex("0801")), 1);
  EXPECT_EQ(*parseHealthCheckResponse(unhex("0802")), 2);
  EXPECT_EQ(*parseHealthCheckResponse(""), 0);
  // Unknown fields are skipped.
  EXPECT_EQ(*parseHealthCheckResponse(unhex("1203 616263 0801")), 1);
  EXPECT_FALSE(parseHealthCheckResponse(unhex("08")).ok());
  EXPECT_EQ(grpcCodeName(5), "NotFound");
  EXPECT_EQ(grpcCodeName(16), "Unauthenticated");
}

// --- probeGrpc against an h2c server in the test ---

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  size_t n = payload.size();
  f += static_cast<char>(n >> 16);
  f += static_cast<char>((n >> 8) & 0xff);
  f += static_cast<char>(n & 0xff);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  f += static_cast<char>((stream >> 24) & 0x7f);
  f += static_cast<char>((stream >> 16) & 0xff);
  f += static_cast<char>((stream >> 8) & 0xff);
  f += static_cast<char>(stream & 0xff);
  return f + std::string(payload);
}

std::string grpcMessage(const std::string& protobuf) {
  std::string m(5, '\0');
  m[4] = static_cast<char>(protobuf.size());
  return m + protobuf;
}

// What the server answers: raw frames written after the request arrived
// (none: it stays silent until the client hangs up).
struct Reply {
  std::string frames;
};

// A one-connection HTTP/2 cleartext server on 127.0.0.1 in a thread. It
// reads the client preface and frames until the request stream ends, sends
// SETTINGS and a PING, then the reply, and reads on until the client closes
// (recording the client's ACKs). Everything it saw is readable after join().
class H2cServer {
 public:
  explicit H2cServer(Reply reply) : reply_(std::move(reply)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 1);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~H2cServer() {
    join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  bool preface_ok = false;
  std::vector<Header> request_headers;
  std::string request_data;
  bool request_ended = false;
  bool settings_acked = false;  // the client ACKed our SETTINGS
  bool ping_acked = false;      // ...and answered our PING

 private:
  // Reads exactly n bytes (false at EOF, error, or after 10 s of silence: a
  // bound so that a broken client cannot hang the test).
  bool readN(int fd, size_t n, std::string* out) {
    out->clear();
    while (out->size() < n) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) return false;
      char buf[4096];
      ssize_t got = ::read(fd, buf, std::min(sizeof(buf), n - out->size()));
      if (got <= 0) return false;
      out->append(buf, static_cast<size_t>(got));
    }
    return true;
  }

  bool readFrame(int fd, uint8_t* type, uint8_t* flags, uint32_t* stream, std::string* payload) {
    std::string head;
    if (!readN(fd, 9, &head)) return false;
    size_t len = (static_cast<uint8_t>(head[0]) << 16) | (static_cast<uint8_t>(head[1]) << 8) |
                 static_cast<uint8_t>(head[2]);
    *type = static_cast<uint8_t>(head[3]);
    *flags = static_cast<uint8_t>(head[4]);
    *stream = static_cast<uint8_t>(head[8]);
    return readN(fd, len, payload);
  }

  void serve() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    std::string preface;
    preface_ok = readN(fd, 24, &preface) && preface == "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    hpack::Decoder decoder;
    uint8_t type, flags;
    uint32_t stream;
    std::string payload;
    bool replied = false;
    while (readFrame(fd, &type, &flags, &stream, &payload)) {
      if (type == 4 && (flags & 1)) settings_acked = true;
      if (type == 6 && (flags & 1) && payload == "berthpng") ping_acked = true;
      if (type == 1 && stream == 1) {
        auto headers = decoder.decode(payload);
        if (headers.ok()) request_headers = *headers;
        if (flags & 1) request_ended = true;
      }
      if (type == 0 && stream == 1) {
        request_data += payload;
        if (flags & 1) request_ended = true;
      }
      if (request_ended && !replied) {
        replied = true;
        std::string out = frame(4, 0, 0, "") + frame(6, 0, 0, "berthpng") + reply_.frames;
        (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      }
    }
    ::close(fd);
  }

  Reply reply_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

constexpr uint8_t kHeaders = 1, kData = 0, kContinuation = 9;
constexpr uint8_t kEndStream = 1, kEndHeaders = 4;

std::string literal(std::string_view name, std::string_view value) {
  return hpack::encodeLiteral(name, value);
}

// A full reply: HEADERS (:status 200 indexed, content-type), DATA with the
// HealthCheckResponse, trailers with grpc-status.
Reply normalReply(int serving_status) {
  std::string headers = "\x88" + literal("content-type", "application/grpc");
  std::string body = grpcMessage(std::string("\x08", 1) + static_cast<char>(serving_status));
  std::string trailers = literal("grpc-status", "0") + literal("grpc-message", "");
  return {frame(kHeaders, kEndHeaders, 1, headers) + frame(kData, 0, 1, body) +
          frame(kHeaders, kEndHeaders | kEndStream, 1, trailers)};
}

// An error status the gRPC way: one HEADERS frame with END_STREAM.
Reply trailersOnly(int code, const std::string& message) {
  std::string block = "\x88" + literal("content-type", "application/grpc") +
                      literal("grpc-status", std::to_string(code)) +
                      literal("grpc-message", message);
  return {frame(kHeaders, kEndHeaders | kEndStream, 1, block)};
}

TEST(GrpcProberTest, ServingIsSuccessAndTheRequestIsWellFormed) {
  H2cServer server(normalReply(1));
  auto outcome = probeGrpc("127.0.0.1", server.port(), "foo", milliseconds(5000));
  server.join();
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess) << outcome.output;
  EXPECT_EQ(outcome.output, "service healthy");

  EXPECT_TRUE(server.preface_ok);
  EXPECT_TRUE(server.request_ended);
  EXPECT_TRUE(server.settings_acked);
  EXPECT_TRUE(server.ping_acked);
  std::string authority = "127.0.0.1:" + std::to_string(server.port());
  std::vector<Header> expected = {{":method", "POST"},
                                  {":scheme", "http"},
                                  {":path", "/grpc.health.v1.Health/Check"},
                                  {":authority", authority},
                                  {"content-type", "application/grpc"},
                                  {"user-agent", kProbeUserAgent},
                                  {"te", "trailers"},
                                  {"grpc-timeout", "5000m"}};
  EXPECT_EQ(server.request_headers, expected);
  EXPECT_EQ(server.request_data, unhex("00 00000005 0a03") + "foo");
}

TEST(GrpcProberTest, NotServingIsFailure) {
  H2cServer server(normalReply(2));
  auto outcome = probeGrpc("127.0.0.1", server.port(), "", milliseconds(5000));
  server.join();
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.output, "service unhealthy (responded with \"NOT_SERVING\")");
  // The empty service name is an empty message.
  EXPECT_EQ(server.request_data, unhex("00 00000000"));
}

TEST(GrpcProberTest, GrpcErrorStatusIsFailureWithCodeAndMessage) {
  H2cServer server(trailersOnly(5, "unknown%20service"));
  auto outcome = probeGrpc("127.0.0.1", server.port(), "nope", milliseconds(5000));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.output,
            "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service");
}

TEST(GrpcProberTest, UnimplementedHealthServiceHasItsOwnText) {
  H2cServer server(trailersOnly(12, "unknown service grpc.health.v1.Health"));
  auto outcome = probeGrpc("127.0.0.1", server.port(), "", milliseconds(5000));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.output,
            "error: this server does not implement the grpc health protocol "
            "(grpc.health.v1.Health): unknown service grpc.health.v1.Health");
}

TEST(GrpcProberTest, HuffmanCodedIndexedAndContinuedResponseHeaders) {
  // Response headers: a table size update, :status 200 as a Huffman literal
  // with indexing, content-type Huffman-coded, and cache-control: private
  // hand-encoded as in RFC 7541 C.6.1 (58 85 aec3771a4b), split over
  // HEADERS + CONTINUATION. Trailers refer back to the dynamic table.
  std::string block =
      hpack::encodeInteger(4096, 5, 0x20) + "\x48" +
      hpack::encodeInteger(hpack::huffmanEncode("200").size(), 7, 0x80) +
      hpack::huffmanEncode("200") + "\x5f" +
      hpack::encodeInteger(hpack::huffmanEncode("application/grpc").size(), 7, 0x80) +
      hpack::huffmanEncode("application/grpc") + unhex("5885 aec3 771a 4b");
  std::string trailers = hpack::encodeLiteral("grpc-status", "0", /*huffman=*/true) + "\xbf";
  std::string body = grpcMessage(unhex("0801"));
  Reply reply{frame(kHeaders, 0, 1, block.substr(0, 7)) +
              frame(kContinuation, kEndHeaders, 1, block.substr(7)) + frame(kData, 0, 1, body) +
              frame(kHeaders, kEndHeaders | kEndStream, 1, trailers)};
  H2cServer server(reply);
  auto outcome = probeGrpc("127.0.0.1", server.port(), "", milliseconds(5000));
  EXPECT_EQ(outcome.result, ProbeResult::kSuccess) << outcome.output;

  // The same reply with the Huffman bytes of "private" corrupted no longer
  // decodes, so the probe's success above depended on the decoding.
  std::string bad = reply.frames;
  size_t at = bad.find(unhex("aec3 771a 4b"));
  ASSERT_NE(at, std::string::npos);
  bad[at + 4] = '\x00';
  H2cServer broken(Reply{bad});
  auto failed = probeGrpc("127.0.0.1", broken.port(), "", milliseconds(5000));
  EXPECT_EQ(failed.result, ProbeResult::kFailure);
  EXPECT_NE(failed.output.find("hpack"), std::string::npos) << failed.output;
}

TEST(GrpcProberTest, NonGrpcHttpStatusIsMappedLikeGrpcGo) {
  H2cServer server(Reply{frame(kHeaders, kEndHeaders | kEndStream, 1,
                               "\x8d" + literal("content-type", "text/plain"))});
  auto outcome = probeGrpc("127.0.0.1", server.port(), "", milliseconds(5000));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  // 404 is Unimplemented in grpc-go's HTTP status mapping.
  EXPECT_EQ(outcome.output.rfind("error: this server does not implement", 0), 0u) << outcome.output;
}

TEST(GrpcProberTest, SilentServerTimesOut) {
  H2cServer server(Reply{});
  auto outcome = probeGrpc("127.0.0.1", server.port(), "", milliseconds(200));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_EQ(outcome.output, "timeout: health rpc did not complete within 200ms");
}

TEST(GrpcProberTest, ClosedPortFailsToConnect) {
  // A port that was just bound and released: nothing listens on it.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  auto outcome = probeGrpc("127.0.0.1", port, "", milliseconds(1000));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  std::string addr_text = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(outcome.output, "error: failed to connect service at \"" + addr_text + "\": dial tcp " +
                                addr_text + ": connect: connection refused");
}

TEST(GrpcProberTest, HostNamesAreNotResolved) {
  auto outcome = probeGrpc("localhost", 1, "", milliseconds(1000));
  EXPECT_EQ(outcome.result, ProbeResult::kFailure);
  EXPECT_NE(outcome.output.find("not an IP address"), std::string::npos) << outcome.output;
}

}  // namespace
}  // namespace berth::agent::probe
