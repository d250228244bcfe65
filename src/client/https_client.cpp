#include "client/https_client.h"

#include <openssl/ssl.h>

#include <optional>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

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
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
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
        if (!ec) ssl_ctx_.use_private_key(asio::buffer(options_.client_key_pem), ssl::context::pem, ec);
        if (ec) setup_error_ = "client certificate: " + ec.message();
      }
      ssl_ctx_.set_verify_mode(ssl::verify_peer);
      static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
      SSL_CTX_set_alpn_protos(ssl_ctx_.native_handle(), kAlpn, sizeof(kAlpn));
    }
    host_header_ = options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host;
    host_header_ += ":" + std::to_string(options_.port);
  }

  Result<ClientResponse> request(std::string_view method, std::string_view target, std::string_view body,
                                 const Headers& headers) {
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
      run();
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
                                const std::function<bool(std::string_view)>& on_line, std::string_view body,
                                const Headers& headers) {
    for (int attempt = 0;; ++attempt) {
      bool reused = connected();
      BERTH_RETURN_IF_ERROR(ensureConnected());
      bhttp::request<bhttp::string_body> req = buildRequest(method, target, body, headers);
      bhttp::response_parser<bhttp::buffer_body> parser;
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
      run();
      if (ec) {
        bool got_nothing = !parser.got_some();
        close();
        if (reused && got_nothing && attempt == 0 && staleConnection(ec)) continue;
        return transportError(std::string(method) + " " + std::string(target), ec);
      }
      ClientResponse out = toResponse(parser.get());
      bool success = out.status >= 200 && out.status < 300;
      bool keep_alive = parser.get().keep_alive();
      std::string partial;
      char buf[16 * 1024];
      while (!parser.is_done()) {
        parser.get().body().data = buf;
        parser.get().body().size = sizeof(buf);
        if (options_.stream_idle_timeout.count() > 0 && success)
          expiresAfter(options_.stream_idle_timeout);
        else if (success)
          expiresNever();
        withStream([&](auto& s) {
          // read_some returns as soon as a piece arrived: each watch event
          // reaches the caller without waiting for the buffer to fill.
          bhttp::async_read_some(s, buffer_, parser, [&](error_code e, size_t) { ec = e; });
        });
        run();
        if (ec == bhttp::error::need_buffer) ec = {};
        size_t got = sizeof(buf) - parser.get().body().size;
        if (got > 0) {
          if (!success) {
            out.body.append(buf, got);
          } else {
            partial.append(buf, got);
            size_t start = 0;
            for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
              if (!on_line(std::string_view(partial).substr(start, nl - start))) {
                // Mid-body the connection cannot be reused.
                close();
                return out;
              }
            }
            partial.erase(0, start);
          }
        }
        if (ec) {
          close();
          return transportError("stream " + std::string(target), ec);
        }
      }
      if (success && !partial.empty()) on_line(partial);
      if (!keep_alive) close();
      return out;
    }
  }

  int connectionsOpened() const { return connections_opened_; }

  void close() {
    error_code ignored;
    if (tls_stream_) {
      beast::get_lowest_layer(*tls_stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(*tls_stream_).close();
    }
    if (plain_stream_) {
      plain_stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
      plain_stream_->close();
    }
    tls_stream_.reset();
    plain_stream_.reset();
    buffer_.clear();
    // Complete any cancelled handlers so the next operation starts clean.
    ioc_.restart();
    ioc_.poll();
  }

 private:
  bool connected() const { return tls_stream_.has_value() || plain_stream_.has_value(); }

  template <class F>
  void withStream(F&& f) {
    if (tls_stream_)
      f(*tls_stream_);
    else
      f(*plain_stream_);
  }

  beast::tcp_stream& tcpStream() { return tls_stream_ ? beast::get_lowest_layer(*tls_stream_) : *plain_stream_; }
  void expiresAfter(std::chrono::milliseconds d) { tcpStream().expires_after(d); }
  void expiresNever() { tcpStream().expires_never(); }

  void run() {
    ioc_.restart();
    ioc_.run();
  }

  Status ensureConnected() {
    if (connected()) return okStatus();
    if (!setup_error_.empty()) return makeError(ErrorCode::kInvalid, setup_error_);
    error_code ec;
    tcp::resolver::results_type endpoints;
    tcp::resolver resolver(ioc_);
    resolver.async_resolve(options_.host, std::to_string(options_.port),
                           [&](error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    run();
    if (ec) return transportError("resolve " + options_.host, ec);
    beast::tcp_stream tcp_stream(ioc_);
    tcp_stream.expires_after(options_.connect_timeout);
    tcp_stream.async_connect(endpoints, [&](error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (ec) return transportError("connect " + host_header_, ec);
    tcp_stream.socket().set_option(tcp::no_delay(true), ec);
    ++connections_opened_;
    if (!options_.tls) {
      plain_stream_.emplace(std::move(tcp_stream));
      return okStatus();
    }
    tls_stream_.emplace(std::move(tcp_stream), ssl_ctx_);
    // SNI only for names; the certificate check covers names and IPs.
    error_code addr_ec;
    asio::ip::make_address(options_.host, addr_ec);
    if (addr_ec) SSL_set_tlsext_host_name(tls_stream_->native_handle(), options_.host.c_str());
    tls_stream_->set_verify_callback(ssl::host_name_verification(options_.host));
    beast::get_lowest_layer(*tls_stream_).expires_after(options_.connect_timeout);
    tls_stream_->async_handshake(ssl::stream_base::client, [&](error_code e) { ec = e; });
    run();
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
    if (!options_.bearer_token.empty()) req.set(bhttp::field::authorization, "Bearer " + options_.bearer_token);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = std::string(body);
    if (!body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put || verb == bhttp::verb::patch)
      req.prepare_payload();
    req.keep_alive(true);
    return req;
  }

  template <class Msg>
  static ClientResponse toResponse(const Msg& msg) {
    ClientResponse out;
    out.status = static_cast<int>(msg.result_int());
    for (const auto& f : msg) out.headers.emplace_back(lower(f.name_string()), std::string(f.value()));
    return out;
  }

  ClientOptions options_;
  asio::io_context ioc_{1};
  ssl::context ssl_ctx_;
  std::string setup_error_;
  std::string host_header_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream_;
  std::optional<beast::tcp_stream> plain_stream_;
  beast::flat_buffer buffer_;
  int connections_opened_ = 0;
};

HttpsClient::HttpsClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpsClient::~HttpsClient() = default;

Result<ClientResponse> HttpsClient::request(std::string_view method, std::string_view target, std::string_view body,
                                            const Headers& headers) {
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

int HttpsClient::connectionsOpened() const { return impl_->connectionsOpened(); }

void HttpsClient::close() { impl_->close(); }

}  // namespace berth::client
