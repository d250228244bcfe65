#include "client/https_client.h"

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

namespace berth::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

std::string_view ClientResponse::header(std::string_view lowercase_name) const {
  for (const auto& [k, v] : headers)
    if (k == lowercase_name) return v;
  return {};
}

namespace {

Error transportError(const std::string& what, error_code ec) {
  ErrorCode code = ec == beast::error::timeout ? ErrorCode::kTimeout : ErrorCode::kUnavailable;
  return makeError(code, what + ": " + ec.message());
}

// Errors that on a reused connection mean "the server had already closed
// it": the request never reached a handler, so sending it again is safe
// (Go's transport retries the same way).
bool staleConnection(error_code ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

class HttpsClient::Impl {
 public:
  explicit Impl(ClientOptions o) : options_(std::move(o)), ssl_ctx_(ssl::context::tls_client) {
    SSL_CTX_set_min_proto_version(ssl_ctx_.native_handle(), TLS1_2_VERSION);
    if (options_.tls) {
      error_code ec;
      if (!options_.ca_pem.empty())
        ssl_ctx_.add_certificate_authority(asio::buffer(options_.ca_pem), ec);
      else
        ssl_ctx_.set_default_verify_paths(ec);
      if (ec) setup_error_ = "ca: " + ec.message();
      if (!options_.client_cert_pem.empty()) {
        ssl_ctx_.use_certificate_chain(asio::buffer(options_.client_cert_pem), ec);
        if (!ec)
          ssl_ctx_.use_private_key(asio::buffer(options_.client_key_pem), ssl::context::pem, ec);
        if (ec) setup_error_ = "client certificate: " + ec.message();
      }
      ssl_ctx_.set_verify_mode(ssl::verify_peer);
      static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
      SSL_CTX_set_alpn_protos(ssl_ctx_.native_handle(), kAlpn, sizeof(kAlpn));
    }
    host_header_ =
        options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host;
    host_header_ += ":" + std::to_string(options_.port);
  }

  Result<ClientResponse> request(std::string_view method, std::string_view target,
                                 std::string_view body, const Headers& headers) {
    dropUnreadStream();
    for (int attempt = 0;; ++attempt) {
      bool reused = connected();
      BERTH_RETURN_IF_ERROR(ensureConnected());
      bhttp::request<bhttp::string_body> req = buildRequest(method, target, body, headers);
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(boost::none);
      parser.header_limit(1024 * 1024);
      error_code ec;
      expiresAfter(options_.request_timeout);
      withStream([&](auto& s) {
        bhttp::async_write(s, req, [&](error_code e, size_t) {
          if (e) {
            ec = e;
            return;
          }
          bhttp::async_read(s, buffer_, parser, [&](error_code e2, size_t) { ec = e2; });
        });
      });
      if (!run()) return cancelledError();
      if (ec) {
        bool got_nothing = !parser.got_some();
        close();
        if (reused && got_nothing && attempt == 0 && staleConnection(ec)) continue;
        return transportError(std::string(method) + " " + std::string(target), ec);
      }
      auto msg = parser.release();
      ClientResponse out = toResponse(msg);
      out.body = std::move(msg.body());
      if (!msg.keep_alive()) close();
      return out;
    }
  }

  Result<ClientResponse> stream(std::string_view method, std::string_view target,
                                const std::function<bool(std::string_view)>& on_line,
                                std::string_view body, const Headers& headers) {
    BERTH_ASSIGN_OR_RETURN(auto out, openStream(method, target, body, headers));
    if (out.status >= 200 && out.status < 300) BERTH_RETURN_IF_ERROR(readStream(on_line));
    return out;
  }

  Result<ClientResponse> openStream(std::string_view method, std::string_view target,
                                    std::string_view body, const Headers& headers) {
    dropUnreadStream();
    for (int attempt = 0;; ++attempt) {
      bool reused = connected();
      BERTH_RETURN_IF_ERROR(ensureConnected());
      bhttp::request<bhttp::string_body> req = buildRequest(method, target, body, headers);
      auto& parser = stream_parser_.emplace();
      parser.body_limit(boost::none);
      parser.header_limit(1024 * 1024);
      error_code ec;
      expiresAfter(options_.request_timeout);
      withStream([&](auto& s) {
        bhttp::async_write(s, req, [&](error_code e, size_t) {
          if (e) {
            ec = e;
            return;
          }
          bhttp::async_read_header(s, buffer_, parser, [&](error_code e2, size_t) { ec = e2; });
        });
      });
      if (!run()) return cancelledError();
      if (ec) {
        bool got_nothing = !parser.got_some();
        close();
        if (reused && got_nothing && attempt == 0 && staleConnection(ec)) continue;
        return transportError(std::string(method) + " " + std::string(target), ec);
      }
      ClientResponse out = toResponse(parser.get());
      stream_target_ = std::string(target);
      stream_keep_alive_ = parser.get().keep_alive();
      if (out.status >= 200 && out.status < 300) return out;
      // An error answer is read whole, within the request deadline.
      BERTH_RETURN_IF_ERROR(readBody(false, [&](std::string_view piece) {
        out.body.append(piece);
        return true;
      }));
      return out;
    }
  }

  Status readStream(const std::function<bool(std::string_view)>& on_line) {
    if (!stream_parser_) return makeError(ErrorCode::kInternal, "http client: no stream is open");
    std::string partial;
    bool more = true;
    BERTH_RETURN_IF_ERROR(readBody(true, [&](std::string_view piece) {
      partial.append(piece);
      size_t start = 0;
      for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!on_line(std::string_view(partial).substr(start, nl - start))) {
          more = false;
          return false;
        }
      }
      partial.erase(0, start);
      return true;
    }));
    if (more && !partial.empty()) on_line(partial);
    return okStatus();
  }

  // Called from any thread: the abort itself runs on the thread inside
  // run(), the only one that touches the connection.
  void cancel() {
    cancelled_ = true;
    asio::post(ioc_, [this] { abortNow(); });
  }

  Status tlsStatus() const {
    if (setup_error_.empty()) return okStatus();
    return makeError(ErrorCode::kInvalid, setup_error_);
  }

  int connectionsOpened() const { return connections_opened_; }

  void close() {
    abortNow();
    // Complete the aborted handlers while what they reference still lives,
    // so the next operation starts clean.
    ioc_.restart();
    ioc_.poll();
    tls_stream_.reset();
    plain_stream_.reset();
    stream_parser_.reset();
    buffer_.clear();
  }

 private:
  static Error cancelledError() {
    return makeError(ErrorCode::kUnavailable, "http client: cancelled");
  }

  // A stream opened but not read to its end leaves the connection mid-body.
  void dropUnreadStream() {
    if (stream_parser_) close();
  }

  bool connected() const { return tls_stream_.has_value() || plain_stream_.has_value(); }

  template <class F>
  void withStream(F&& f) {
    if (tls_stream_)
      f(*tls_stream_);
    else
      f(*plain_stream_);
  }

  beast::tcp_stream& tcpStream() {
    return tls_stream_ ? beast::get_lowest_layer(*tls_stream_) : *plain_stream_;
  }
  void expiresAfter(std::chrono::milliseconds d) { tcpStream().expires_after(d); }
  void expiresNever() { tcpStream().expires_never(); }

  // Runs the started operations to completion. False once cancel() was
  // called, with the connection dropped.
  bool run() {
    // A cancel() that came between two runs: its abort may already have
    // run, before these operations started.
    if (cancelled_) abortNow();
    ioc_.restart();
    ioc_.run();
    if (!cancelled_) return true;
    close();
    return false;
  }

  // On the thread inside run() (or close()): ends whatever is in progress,
  // the name lookup and the connect included; the handlers see
  // operation_aborted.
  void abortNow() {
    error_code ignored;
    resolver_.cancel();
    if (!connected()) return;
    tcpStream().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcpStream().close();
  }

  // Reads the open stream's body piece by piece until it ends (the
  // connection stays for the next request when both sides keep it alive),
  // `on_piece` returns false (mid-body the connection cannot be reused) or
  // it fails. While `streaming`, silences are bounded by stream_idle_timeout
  // instead of the request deadline.
  Status readBody(bool streaming, const std::function<bool(std::string_view)>& on_piece) {
    auto& parser = *stream_parser_;
    char buf[16 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = buf;
      parser.get().body().size = sizeof(buf);
      if (streaming && options_.stream_idle_timeout.count() > 0)
        expiresAfter(options_.stream_idle_timeout);
      else if (streaming)
        expiresNever();
      error_code ec;
      withStream([&](auto& s) {
        // read_some returns as soon as a piece arrived: each watch event
        // reaches the caller without waiting for the buffer to fill.
        bhttp::async_read_some(s, buffer_, parser, [&](error_code e, size_t) { ec = e; });
      });
      if (!run()) return cancelledError();
      if (ec == bhttp::error::need_buffer) ec = {};
      size_t got = sizeof(buf) - parser.get().body().size;
      if (got > 0 && !on_piece(std::string_view(buf, got))) {
        close();
        return okStatus();
      }
      if (ec) {
        close();
        return transportError("stream " + stream_target_, ec);
      }
    }
    stream_parser_.reset();
    if (!stream_keep_alive_) close();
    return okStatus();
  }

  Status ensureConnected() {
    if (connected()) return okStatus();
    if (cancelled_) return cancelledError();
    if (!setup_error_.empty()) return makeError(ErrorCode::kInvalid, setup_error_);
    error_code ec;
    tcp::resolver::results_type endpoints;
    resolver_.async_resolve(options_.host, std::to_string(options_.port),
                            [&](error_code e, tcp::resolver::results_type r) {
                              ec = e;
                              endpoints = std::move(r);
                            });
    if (!run()) return cancelledError();
    if (ec) return transportError("resolve " + options_.host, ec);
    // The connecting stream is a member so that cancel() reaches it.
    plain_stream_.emplace(ioc_);
    plain_stream_->expires_after(options_.connect_timeout);
    plain_stream_->async_connect(endpoints, [&](error_code e, const tcp::endpoint&) { ec = e; });
    if (!run()) return cancelledError();
    if (ec) {
      close();
      return transportError("connect " + host_header_, ec);
    }
    plain_stream_->socket().set_option(tcp::no_delay(true), ec);
    ++connections_opened_;
    if (!options_.tls) return okStatus();
    tls_stream_.emplace(std::move(*plain_stream_), ssl_ctx_);
    plain_stream_.reset();
    // SNI only for names; the certificate check covers names and IPs.
    error_code addr_ec;
    asio::ip::make_address(options_.host, addr_ec);
    if (addr_ec) SSL_set_tlsext_host_name(tls_stream_->native_handle(), options_.host.c_str());
    tls_stream_->set_verify_callback(ssl::host_name_verification(options_.host));
    beast::get_lowest_layer(*tls_stream_).expires_after(options_.connect_timeout);
    tls_stream_->async_handshake(ssl::stream_base::client, [&](error_code e) { ec = e; });
    if (!run()) return cancelledError();
    if (ec) {
      close();
      return transportError("tls handshake " + host_header_, ec);
    }
    return okStatus();
  }

  bhttp::request<bhttp::string_body> buildRequest(std::string_view method, std::string_view target,
                                                  std::string_view body, const Headers& headers) {
    bhttp::request<bhttp::string_body> req;
    bhttp::verb verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown)
      req.method_string(method);
    else
      req.method(verb);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, host_header_);
    req.set(bhttp::field::user_agent, options_.user_agent);
    if (!options_.bearer_token.empty())
      req.set(bhttp::field::authorization, "Bearer " + options_.bearer_token);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = std::string(body);
    if (!body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put ||
        verb == bhttp::verb::patch)
      req.prepare_payload();
    req.keep_alive(true);
    return req;
  }

  template <class Msg>
  static ClientResponse toResponse(const Msg& msg) {
    ClientResponse out;
    out.status = static_cast<int>(msg.result_int());
    for (const auto& f : msg)
      out.headers.emplace_back(lower(f.name_string()), std::string(f.value()));
    return out;
  }

  ClientOptions options_;
  asio::io_context ioc_{1};
  ssl::context ssl_ctx_;
  std::string setup_error_;
  std::string host_header_;
  tcp::resolver resolver_{ioc_};
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream_;
  std::optional<beast::tcp_stream> plain_stream_;
  beast::flat_buffer buffer_;
  // Between openStream() and the end of its body.
  std::optional<bhttp::response_parser<bhttp::buffer_body>> stream_parser_;
  std::string stream_target_;
  bool stream_keep_alive_ = true;
  std::atomic<bool> cancelled_{false};
  int connections_opened_ = 0;
};

HttpsClient::HttpsClient(ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpsClient::~HttpsClient() = default;

Result<ClientResponse> HttpsClient::request(std::string_view method, std::string_view target,
                                            std::string_view body, const Headers& headers) {
  try {
    return impl_->request(method, target, body, headers);
  } catch (const std::exception& e) {
    impl_->close();
    return makeError(ErrorCode::kInternal, std::string("http client: ") + e.what());
  }
}

Result<ClientResponse> HttpsClient::stream(std::string_view method, std::string_view target,
                                           const std::function<bool(std::string_view)>& on_line,
                                           std::string_view body, const Headers& headers) {
  try {
    return impl_->stream(method, target, on_line, body, headers);
  } catch (const std::exception& e) {
    impl_->close();
    return makeError(ErrorCode::kInternal, std::string("http client: ") + e.what());
  }
}

Result<ClientResponse> HttpsClient::openStream(std::string_view method, std::string_view target,
                                               std::string_view body, const Headers& headers) {
  try {
    return impl_->openStream(method, target, body, headers);
  } catch (const std::exception& e) {
    impl_->close();
    return makeError(ErrorCode::kInternal, std::string("http client: ") + e.what());
  }
}

Status HttpsClient::readStream(const std::function<bool(std::string_view)>& on_line) {
  try {
    return impl_->readStream(on_line);
  } catch (const std::exception& e) {
    impl_->close();
    return makeError(ErrorCode::kInternal, std::string("http client: ") + e.what());
  }
}

void HttpsClient::cancel() { impl_->cancel(); }

Status HttpsClient::tlsStatus() const { return impl_->tlsStatus(); }

int HttpsClient::connectionsOpened() const { return impl_->connectionsOpened(); }

void HttpsClient::close() { impl_->close(); }

}  // namespace berth::client
