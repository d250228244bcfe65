#include "apiserver/http_server.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "apiserver/fair_queue.h"
#include "common/log.h"

namespace berth::apiserver {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

std::string statusFailureJson(int code, std::string_view reason, std::string_view message) {
  std::string out = R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)";
  out += boost::json::serialize(boost::json::string(message));
  out += R"(,"reason":)";
  out += boost::json::serialize(boost::json::string(reason));
  out += R"(,"code":)";
  out += std::to_string(code);
  out += "}";
  return out;
}

Result<std::pair<std::string, int>> parseListenAddress(const std::string& listen) {
  std::string host;
  std::string port;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
      return makeError(ErrorCode::kInvalid, "listen address " + listen + ": want [ipv6]:port");
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return makeError(ErrorCode::kInvalid, "listen address " + listen + ": no port");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return makeError(ErrorCode::kInvalid, "listen address " + listen + ": bracket IPv6 literals");
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) return makeError(ErrorCode::kInvalid, "listen address " + listen + ": host must be an IP literal");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535)
    return makeError(ErrorCode::kInvalid, "listen address " + listen + ": bad port");
  return std::make_pair(host, std::stoi(port));
}

namespace {

int fromHex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding for targets Boost.URL rejects (Go's server is lenient
// about characters such as '|' or '^' in queries; so are we).
std::string lenientDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && fromHex(s[i + 1]) >= 0 && fromHex(s[i + 2]) >= 0) {
      out += static_cast<char>(fromHex(s[i + 1]) * 16 + fromHex(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// Fills path and query from the raw target; false if it is not an
// origin-form target at all.
bool parseTarget(std::string_view target, Request& req) {
  if (target.empty() || target.front() != '/') return false;
  auto parsed = boost::urls::parse_origin_form(target);
  if (parsed) {
    req.path = parsed->path();
    if (parsed->has_query()) {
      for (auto param : parsed->params())
        req.query.emplace_back(std::move(param.key), param.has_value ? std::move(param.value) : std::string());
    }
    return true;
  }
  size_t q = target.find('?');
  req.path = lenientDecode(target.substr(0, q), false);
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    size_t hash = rest.find('#');
    if (hash != std::string_view::npos) rest = rest.substr(0, hash);
    while (!rest.empty()) {
      size_t amp = rest.find('&');
      std::string_view kv = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (kv.empty()) continue;
      size_t eq = kv.find('=');
      req.query.emplace_back(lenientDecode(kv.substr(0, eq), true),
                             eq == std::string_view::npos ? std::string() : lenientDecode(kv.substr(eq + 1), true));
    }
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string endpointText(const tcp::endpoint& ep) {
  auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

std::vector<std::string> nameEntries(X509_NAME* name, int nid) {
  std::vector<std::string> out;
  int idx = -1;
  while ((idx = X509_NAME_get_index_by_NID(name, nid, idx)) >= 0) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(name, idx);
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len >= 0 && utf8) out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  return out;
}

auth::PeerCertificate peerCertificate(SSL* ssl) {
  auth::PeerCertificate peer;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return peer;
  peer.presented = true;
  peer.verified = SSL_get_verify_result(ssl) == X509_V_OK;
  X509_NAME* subject = X509_get_subject_name(cert);
  auto cns = nameEntries(subject, NID_commonName);
  if (!cns.empty()) peer.common_name = cns.front();
  peer.organizations = nameEntries(subject, NID_organizationName);
  X509_free(cert);
  return peer;
}

// Offers only http/1.1 through ALPN: kubectl and Go clients would otherwise
// negotiate h2, which this transport does not speak.
int selectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
               void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11), in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

class SessionBase;

// The StreamWriter handed to handlers. Producers call it from any thread;
// the session drains it on its strand.
class StreamWriterImpl final : public StreamWriter {
 public:
  StreamWriterImpl(std::weak_ptr<SessionBase> session, size_t max_pending)
      : session_(std::move(session)), max_pending_(max_pending) {}

  bool write(std::shared_ptr<const std::string> chunk) override;
  size_t pendingBytes() const override { return pending_.load(std::memory_order_relaxed); }
  void finish() override;
  void onClosed(std::function<void()> callback) override {
    std::unique_lock lock(mu_);
    if (closed_) {
      lock.unlock();
      if (!done_ && callback) callback();
      return;
    }
    on_closed_ = std::move(callback);
  }

  // Strand side. Moves queued chunks into `out`; sets `last` when the
  // terminating chunk is due.
  void take(std::vector<std::shared_ptr<const std::string>>& out, bool& last) {
    std::lock_guard lock(mu_);
    flush_posted_ = false;
    out.swap(queue_);
    queue_.clear();
    last = finished_ && !last_taken_;
    if (last) last_taken_ = true;
  }
  void sent(size_t bytes) { pending_.fetch_sub(bytes, std::memory_order_relaxed); }
  // The connection is gone or the server stops: later writes fail and the
  // callback runs once (unless the stream had already ended normally).
  void close(bool send_last) {
    std::function<void()> cb;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      if (send_last) finished_ = true;
      if (!done_) cb = std::move(on_closed_);
      on_closed_ = nullptr;
    }
    if (cb) cb();
  }
  // The terminating chunk was written: the stream ended normally.
  void markDone() {
    std::lock_guard lock(mu_);
    done_ = true;
    closed_ = true;
    on_closed_ = nullptr;
  }

 private:
  std::weak_ptr<SessionBase> session_;
  const size_t max_pending_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const std::string>> queue_;
  std::function<void()> on_closed_;
  bool finished_ = false;
  bool last_taken_ = false;
  bool closed_ = false;
  bool done_ = false;
  bool flush_posted_ = false;
  std::atomic<size_t> pending_{0};
};

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  // All of these hop onto the session's strand.
  virtual void postResponse(Response response) = 0;
  virtual void postStream(int status, std::vector<std::pair<std::string, std::string>> headers,
                          std::shared_ptr<StreamWriterImpl> writer) = 0;
  virtual void postFlush() = 0;
  virtual void postAbort() = 0;
  virtual void postStop() = 0;
};

bool StreamWriterImpl::write(std::shared_ptr<const std::string> chunk) {
  // An empty chunk would be the terminating chunk on the wire: skip it.
  bool post = false;
  bool abort = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ || finished_) return false;
    if (!chunk || chunk->empty()) return true;
    size_t pending = pending_.fetch_add(chunk->size(), std::memory_order_relaxed) + chunk->size();
    queue_.push_back(std::move(chunk));
    if (pending > max_pending_) {
      abort = true;
    } else if (!flush_posted_) {
      flush_posted_ = true;
      post = true;
    }
  }
  auto session = session_.lock();
  if (!session) {
    close(false);
    return false;
  }
  if (abort) {
    // A client that does not read its watch must not pin unbounded memory.
    session->postAbort();
    return false;
  }
  if (post) session->postFlush();
  return true;
}

void StreamWriterImpl::finish() {
  {
    std::lock_guard lock(mu_);
    if (closed_ || finished_) return;
    finished_ = true;
    if (flush_posted_) return;
    flush_posted_ = true;
  }
  if (auto session = session_.lock()) session->postFlush();
}

class ResponderImpl final : public Responder {
 public:
  explicit ResponderImpl(std::shared_ptr<SessionBase> session, size_t max_pending)
      : session_(std::move(session)), max_pending_(max_pending) {}
  ~ResponderImpl() override {
    // A handler that forgot to answer must not leave the client hanging.
    if (session_)
      session_->postResponse(
          Response{500, {{"Content-Type", "application/json"}},
                   statusFailureJson(500, "InternalError", "the handler did not produce a response")});
  }
  void respond(Response response) override {
    std::shared_ptr<SessionBase> s = std::exchange(session_, nullptr);
    if (s) s->postResponse(std::move(response));
  }
  std::shared_ptr<StreamWriter> startStream(int status,
                                            std::vector<std::pair<std::string, std::string>> headers) override {
    std::shared_ptr<SessionBase> s = std::exchange(session_, nullptr);
    auto writer = std::make_shared<StreamWriterImpl>(s, max_pending_);
    if (s)
      s->postStream(status, std::move(headers), writer);
    else
      writer->close(false);
    return writer;
  }

 private:
  std::shared_ptr<SessionBase> session_;
  size_t max_pending_;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions opts, std::shared_ptr<Handler> h)
      : options(std::move(opts)),
        handler(std::move(h)),
        ioc(std::max(1, options.io_threads)),
        acceptor(asio::make_strand(ioc)) {}

  Result<int> start();
  void stop();
  void accept();
  void registerSession(SessionBase* s, std::weak_ptr<SessionBase> w) {
    std::lock_guard lock(mu);
    sessions.emplace(s, std::move(w));
  }
  void unregisterSession(SessionBase* s) {
    std::lock_guard lock(mu);
    sessions.erase(s);
    if (sessions.empty()) sessions_cv.notify_all();
  }
  bool anonymousAllowed(std::string_view path) const {
    for (const auto& p : options.anonymous_paths) {
      if (p.empty()) continue;
      if (path.size() >= p.size() && path.compare(0, p.size(), p) == 0 &&
          (path.size() == p.size() || path[p.size()] == '/' || p.back() == '/'))
        return true;
    }
    return false;
  }

  // Declared before the io_context: sessions whose handlers are still
  // queued when it is destroyed unregister themselves and use the TLS
  // context on the way out.
  HttpServerOptions options;
  std::shared_ptr<Handler> handler;
  mutable std::mutex mu;
  std::condition_variable sessions_cv;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
  std::optional<ssl::context> ssl_ctx;
  std::unique_ptr<asio::thread_pool> pool;
  // Requests wait here by flow (the user) for a handler thread; every
  // request posts one pop to the pool (fair_queue.h).
  FairQueue fair_queue;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry{acceptor.get_executor()};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> io_threads;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;
  int port = 0;
};

namespace {

// One connection. Every member is touched only on the connection's strand
// (the socket's executor); other threads reach it through post*().
template <bool kTls>
class Session final : public SessionBase {
 public:
  using Stream = std::conditional_t<kTls, beast::ssl_stream<tcp::socket>, tcp::socket>;

  Session(HttpServer::Impl& server, tcp::socket socket)
      : server_(server), stream_(makeStream(server, std::move(socket))), timer_(lowest().get_executor()) {
    boost::system::error_code ec;
    auto ep = lowest().remote_endpoint(ec);
    if (!ec) remote_ = endpointText(ep);
  }
  ~Session() override { server_.unregisterSession(this); }

  void start() {
    asio::dispatch(lowest().get_executor(), [self = shared()] { self->begin(); });
  }

  void postResponse(Response response) override {
    asio::post(lowest().get_executor(),
               [self = shared(), r = std::move(response)]() mutable { self->writeResponse(std::move(r)); });
  }
  void postStream(int status, std::vector<std::pair<std::string, std::string>> headers,
                  std::shared_ptr<StreamWriterImpl> writer) override {
    asio::post(lowest().get_executor(), [self = shared(), status, h = std::move(headers), w = std::move(writer)]() mutable {
      self->beginStream(status, std::move(h), std::move(w));
    });
  }
  void postFlush() override {
    asio::post(lowest().get_executor(), [self = shared()] { self->flush(); });
  }
  void postAbort() override {
    asio::post(lowest().get_executor(), [self = shared()] { self->closeSocket(); });
  }
  void postStop() override {
    asio::post(lowest().get_executor(), [self = shared()] { self->onStop(); });
  }

 private:
  enum class State { kReading, kHandling, kWriting, kStreaming };

  struct Incoming {
    Request request;
    bool keep_alive = true;
    bool head = false;
    bool bad_target = false;
  };

  static Stream makeStream(HttpServer::Impl& server, tcp::socket socket) {
    if constexpr (kTls)
      return Stream(std::move(socket), *server.ssl_ctx);
    else
      return Stream(std::move(socket));
  }
  tcp::socket& lowest() { return beast::get_lowest_layer(stream_); }
  std::shared_ptr<Session> shared() { return std::static_pointer_cast<Session>(shared_from_this()); }

  void arm(std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared(), gen = ++timer_gen_](boost::system::error_code ec) {
      if (!ec && gen == self->timer_gen_) {
        BERTH_LOG(kDebug, "http") << "connection timed out remote=" << self->remote_;
        self->closeSocket();
      }
    });
  }
  void disarm() {
    ++timer_gen_;
    timer_.cancel();
  }

  void begin() {
    server_.registerSession(this, weak_from_this());
    // stop() may have collected the sessions just before this one registered.
    if (server_.stopping.load()) return closeSocket();
    if constexpr (kTls) {
      arm(server_.options.read_timeout);
      stream_.async_handshake(ssl::stream_base::server, [self = shared()](boost::system::error_code ec) {
        if (ec) return self->closeSocket();
        self->peer_ = peerCertificate(self->stream_.native_handle());
        self->readRequest();
      });
    } else {
      readRequest();
    }
  }

  void readRequest() {
    if (closed_) return;
    if (server_.stopping.load() && state_ != State::kStreaming) return closeSocket();
    parser_.emplace();
    parser_->body_limit(server_.options.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(server_.options.max_header_bytes, UINT32_MAX)));
    reading_ = true;
    if (state_ != State::kStreaming) arm(server_.options.idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared()](boost::system::error_code ec, size_t) { self->onHeader(ec); });
  }

  void onHeader(boost::system::error_code ec) {
    if (ec) return onReadError(ec);
    if (state_ != State::kStreaming) arm(server_.options.read_timeout);
    if (!parser_->is_done() && state_ != State::kStreaming &&
        iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      // curl sends large bodies only after this interim response.
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                        [self = shared()](boost::system::error_code ec, size_t) {
                          if (ec) return self->onReadError(ec);
                          self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared()](boost::system::error_code ec, size_t) {
      if (ec) return self->onReadError(ec);
      self->reading_ = false;
      Incoming in = self->takeRequest();
      if (self->state_ == State::kStreaming) {
        // A pipelined request behind a stream waits for the stream to end.
        self->pending_ = std::move(in);
        return;
      }
      self->dispatch(std::move(in));
    });
  }

  void onReadError(boost::system::error_code ec) {
    reading_ = false;
    if (closed_) return;
    if (state_ == State::kStreaming) return closeSocket();  // the watcher went away
    if (ec == bhttp::error::body_limit)
      return sendErrorAndClose(413, "RequestEntityTooLarge",
                               "Request entity too large: limit is " + std::to_string(server_.options.max_body_bytes));
    if (ec == bhttp::error::header_limit)
      return sendErrorAndClose(431, "BadRequest", "Request header fields too large");
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
      return sendErrorAndClose(400, "BadRequest", "malformed HTTP request: " + ec.message());
    closeSocket();
  }

  Incoming takeRequest() {
    Incoming in;
    auto msg = parser_->release();
    parser_.reset();
    Request& req = in.request;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    in.bad_target = !parseTarget(req.target, req);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    req.body = std::move(msg.body());
    req.remote_address = remote_;
    in.keep_alive = msg.keep_alive();
    in.head = msg.method() == bhttp::verb::head;
    return in;
  }

  void dispatch(Incoming in) {
    disarm();
    state_ = State::kHandling;
    keep_alive_ = in.keep_alive;
    head_ = in.head;
    if (in.bad_target) return writeResponse(failure(400, "BadRequest", "invalid request target"));
    Request& req = in.request;
    const auth::Authenticator* authn = server_.options.authenticator.get();
    auth::AuthResult result;
    if (authn) {
      auth::Credentials credentials;
      credentials.authorization = req.header("authorization");
      credentials.peer = &peer_;
      result = authn->authenticate(credentials);
    }
    if (result.outcome == auth::AuthOutcome::kAuthenticated) {
      req.user = std::move(result.user);
    } else if (authn && (result.outcome == auth::AuthOutcome::kRejected || !server_.anonymousAllowed(req.path))) {
      BERTH_LOG(kDebug, "http") << "unauthorized remote=" << remote_ << " path=" << req.path
                                << " reason=" << (result.reason.empty() ? "no credentials" : result.reason);
      return writeResponse(failure(401, "Unauthorized", "Unauthorized"));
    } else {
      req.user.groups.emplace_back(auth::kUnauthenticatedGroup);
    }
    auto responder = std::make_shared<ResponderImpl>(shared_from_this(), server_.options.max_stream_pending_bytes);
    std::string flow = req.user.name;
    server_.fair_queue.push(flow, [handler = server_.handler, req = std::move(req),
                                   responder = std::move(responder)]() mutable {
      try {
        handler->handle(std::move(req), responder);
      } catch (const std::exception& e) {
        BERTH_LOG(kError, "http") << "handler threw error=" << e.what();
        responder->respond(failure(500, "InternalError", "internal error"));
      } catch (...) {
        responder->respond(failure(500, "InternalError", "internal error"));
      }
    });
    asio::post(*server_.pool, [&queue = server_.fair_queue] {
      if (auto task = queue.pop()) task();
    });
  }

  static Response failure(int code, std::string_view reason, std::string_view message) {
    return Response{code, {{"Content-Type", "application/json"}}, statusFailureJson(code, reason, message)};
  }

  void sendErrorAndClose(int code, std::string_view reason, const std::string& message) {
    state_ = State::kHandling;
    keep_alive_ = false;
    head_ = false;
    linger_ = true;
    writeResponse(failure(code, reason, message));
  }

  void writeResponse(Response r) {
    if (closed_ || state_ != State::kHandling) return;
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(r.status));
    for (auto& [name, value] : r.headers) res_.insert(name, value);
    write_keep_alive_ = keep_alive_ && !server_.stopping.load() && !stop_requested_;
    res_.keep_alive(write_keep_alive_);
    if (head_) {
      res_.content_length(r.body.size());
    } else {
      res_.body() = std::move(r.body);
      try {
        res_.prepare_payload();
      } catch (const std::exception&) {
        // 204/304 with a body: send the status without it.
        res_.body().clear();
        res_.prepare_payload();
      }
    }
    state_ = State::kWriting;
    arm(server_.options.write_timeout);
    bhttp::async_write(stream_, res_, [self = shared()](boost::system::error_code ec, size_t) { self->onWritten(ec); });
  }

  void onWritten(boost::system::error_code ec) {
    disarm();
    res_ = {};
    if (ec || closed_) return closeSocket();
    if (linger_) return drain();
    if (!write_keep_alive_) return closeSocket();
    state_ = State::kReading;
    readRequest();
  }

  // After an error answer to a request whose body we did not read, keep
  // reading (bounded) so that closing does not reset the connection before
  // the client has read the answer (Go's net/http does the same).
  void drain() {
    if (!scratch_) {
      scratch_ = std::make_unique<char[]>(kScratchSize);
      // FIN right after the answer: the client sees the end at once, while
      // our side still swallows what it keeps sending.
      boost::system::error_code ignored;
      lowest().shutdown(tcp::socket::shutdown_send, ignored);
      arm(std::chrono::seconds(1));
    }
    stream_.async_read_some(asio::buffer(scratch_.get(), kScratchSize),
                            [self = shared()](boost::system::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrain) return self->closeSocket();
                              self->drain();
                            });
  }

  void beginStream(int status, std::vector<std::pair<std::string, std::string>> headers,
                   std::shared_ptr<StreamWriterImpl> writer) {
    if (closed_ || state_ != State::kHandling) return writer->close(false);
    writer_ = std::move(writer);
    state_ = State::kStreaming;
    // Streams have no timeout of their own: the producer ends them (watch
    // timeoutSeconds) or the peer goes away.
    disarm();
    stream_res_.emplace();
    stream_res_->version(11);
    stream_res_->result(static_cast<unsigned>(status));
    for (auto& [name, value] : headers) stream_res_->insert(name, value);
    stream_res_->keep_alive(keep_alive_ && !server_.stopping.load());
    stream_res_->chunked(true);
    stream_sr_.emplace(*stream_res_);
    header_written_ = false;
    bhttp::async_write_header(stream_, *stream_sr_, [self = shared()](boost::system::error_code ec, size_t) {
      if (ec) return self->closeSocket();
      self->header_written_ = true;
      // Keep a read outstanding: its failure is how a vanished watcher shows.
      if (!self->reading_ && !self->pending_) self->readRequest();
      if (self->stop_requested_) self->writer_->close(true);
      self->flush();
    });
  }

  void flush() {
    if (closed_ || state_ != State::kStreaming || !header_written_ || chunk_writing_ || !writer_) return;
    bool last = false;
    inflight_.clear();
    writer_->take(inflight_, last);
    if (inflight_.empty() && !last) return;
    bufs_.clear();
    heads_.resize(inflight_.size());
    inflight_bytes_ = 0;
    for (size_t i = 0; i < inflight_.size(); ++i) {
      const std::string& chunk = *inflight_[i];
      int n = std::snprintf(heads_[i].data(), heads_[i].size(), "%zx\r\n", chunk.size());
      bufs_.push_back(asio::buffer(heads_[i].data(), static_cast<size_t>(n)));
      bufs_.push_back(asio::buffer(chunk));
      bufs_.push_back(asio::buffer("\r\n", 2));
      inflight_bytes_ += chunk.size();
    }
    if (last) bufs_.push_back(asio::buffer("0\r\n\r\n", 5));
    last_in_flight_ = last;
    chunk_writing_ = true;
    asio::async_write(stream_, bufs_, [self = shared()](boost::system::error_code ec, size_t) {
      self->chunk_writing_ = false;
      if (self->writer_) self->writer_->sent(self->inflight_bytes_);
      self->inflight_.clear();
      if (ec || self->closed_) return self->closeSocket();
      if (self->last_in_flight_) return self->endStream();
      self->flush();
    });
  }

  void endStream() {
    writer_->markDone();
    writer_.reset();
    stream_sr_.reset();
    stream_res_.reset();
    state_ = State::kReading;
    if (!keep_alive_ || server_.stopping.load() || stop_requested_) return closeSocket();
    if (pending_) {
      Incoming in = std::move(*pending_);
      pending_.reset();
      return dispatch(std::move(in));
    }
    if (!reading_) return readRequest();
    // The read begun with the stream now waits for the next request.
    arm(server_.options.idle_timeout);
  }

  void onStop() {
    stop_requested_ = true;
    switch (state_) {
      case State::kReading:
        return closeSocket();
      case State::kHandling:
      case State::kWriting:
        return;  // the answer goes out with Connection: close
      case State::kStreaming:
        if (header_written_ && writer_) {
          writer_->close(true);  // onClosed fires; the terminating chunk follows
          flush();
        }
        return;
    }
  }

  void closeSocket() {
    if (closed_) return;
    closed_ = true;
    disarm();
    if (writer_) writer_->close(false);
    boost::system::error_code ignored;
    lowest().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close(ignored);
  }

  static constexpr size_t kScratchSize = 16 * 1024;
  static constexpr size_t kMaxDrain = 8 * 1024 * 1024;

  HttpServer::Impl& server_;
  Stream stream_;
  asio::steady_timer timer_;
  uint64_t timer_gen_ = 0;
  std::string remote_;
  auth::PeerCertificate peer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  State state_ = State::kReading;
  bool closed_ = false;
  bool reading_ = false;
  bool keep_alive_ = true;
  bool write_keep_alive_ = true;
  bool head_ = false;
  bool linger_ = false;
  bool stop_requested_ = false;
  std::unique_ptr<char[]> scratch_;
  size_t drained_ = 0;
  std::optional<Incoming> pending_;
  // Streaming.
  std::shared_ptr<StreamWriterImpl> writer_;
  std::optional<bhttp::response<bhttp::empty_body>> stream_res_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> stream_sr_;
  bool header_written_ = false;
  bool chunk_writing_ = false;
  bool last_in_flight_ = false;
  size_t inflight_bytes_ = 0;
  std::vector<std::shared_ptr<const std::string>> inflight_;
  std::vector<std::array<char, 24>> heads_;
  std::vector<asio::const_buffer> bufs_;
};

}  // namespace


Result<int> HttpServer::Impl::start() {
  if (started) return makeError(ErrorCode::kInternal, "http server already started");
  BERTH_ASSIGN_OR_RETURN(auto hostport, parseListenAddress(options.listen));
  try {
    if (options.tls) {
      ssl_ctx.emplace(ssl::context::tls_server);
      SSL_CTX* ctx = ssl_ctx->native_handle();
      SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
      ssl_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                           ssl::context::single_dh_use);
      if (!options.cert_pem.empty())
        ssl_ctx->use_certificate_chain(asio::buffer(options.cert_pem));
      else if (!options.cert_file.empty())
        ssl_ctx->use_certificate_chain_file(options.cert_file);
      else
        return makeError(ErrorCode::kInvalid, "tls needs a serving certificate");
      if (!options.key_pem.empty())
        ssl_ctx->use_private_key(asio::buffer(options.key_pem), ssl::context::pem);
      else if (!options.key_file.empty())
        ssl_ctx->use_private_key_file(options.key_file, ssl::context::pem);
      else
        return makeError(ErrorCode::kInvalid, "tls needs a private key");
      if (!options.client_ca_pem.empty()) {
        ssl_ctx->add_certificate_authority(asio::buffer(options.client_ca_pem));
        // Tell clients which CA we accept (Go clients pick their cert by it).
        BIO* bio = BIO_new_mem_buf(options.client_ca_pem.data(), static_cast<int>(options.client_ca_pem.size()));
        STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
        while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
          sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
          X509_free(ca);
        }
        ERR_clear_error();
        BIO_free(bio);
        SSL_CTX_set_client_CA_list(ctx, names);
        // Request a certificate but let the handshake finish either way: a
        // bad certificate becomes a 401 Status from the authenticator, as
        // with kube-apiserver (tls.RequestClientCert), not a TLS alert.
        ssl_ctx->set_verify_mode(ssl::verify_peer);
        ssl_ctx->set_verify_callback([](bool, ssl::verify_context&) { return true; });
      }
      SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
    }
    auto address = asio::ip::make_address(hostport.first);
    tcp::endpoint endpoint(address, static_cast<unsigned short>(hostport.second));
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    if (address.is_v6()) acceptor.set_option(asio::ip::v6_only(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    port = acceptor.local_endpoint().port();
  } catch (const std::exception& e) {
    return makeError(ErrorCode::kInternal, std::string("http server start: ") + e.what());
  }
  started = true;
  pool = std::make_unique<asio::thread_pool>(std::max(1, options.handler_threads));
  work.emplace(ioc.get_executor());
  accept();
  for (int i = 0; i < std::max(1, options.io_threads); ++i) {
    io_threads.emplace_back([this] {
      pthread_setname_np(pthread_self(), "http-io");
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          BERTH_LOG(kError, "http") << "io thread exception error=" << e.what();
        }
      }
    });
  }
  BERTH_LOG(kInfo, "http") << "listening address=" << hostport.first << " port=" << port
                           << " tls=" << (options.tls ? "true" : "false");
  return port;
}

void HttpServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      BERTH_LOG(kWarning, "http") << "accept error=" << ec.message();
      // Out of descriptors and the like: retry shortly instead of spinning.
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec && !stopping.load()) accept();
      });
      return;
    } else if (!stopping.load()) {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (options.tls)
        std::make_shared<Session<true>>(*this, std::move(socket))->start();
      else
        std::make_shared<Session<false>>(*this, std::move(socket))->start();
    }
    if (!stopping.load()) accept();
  });
}

void HttpServer::Impl::stop() {
  if (!started || stopped) return;
  stopped = true;
  stopping.store(true);
  asio::post(acceptor.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    accept_retry.cancel();
  });
  auto forEachSession = [this](auto fn) {
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard lock(mu);
      for (auto& [raw, weak] : sessions)
        if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) fn(*s);
  };
  forEachSession([](SessionBase& s) { s.postStop(); });
  {
    std::unique_lock lock(mu);
    sessions_cv.wait_for(lock, options.shutdown_grace, [this] { return sessions.empty(); });
  }
  // Whatever is still open after the grace period is cut off.
  forEachSession([](SessionBase& s) { s.postAbort(); });
  {
    std::unique_lock lock(mu);
    sessions_cv.wait_for(lock, std::chrono::seconds(5), [this] { return sessions.empty(); });
  }
  // Handlers still running finish; their answers find closed sessions.
  pool->join();
  work.reset();
  ioc.stop();
  for (auto& t : io_threads) t.join();
  io_threads.clear();
  BERTH_LOG(kInfo, "http") << "stopped port=" << port;
}

HttpServer::HttpServer(HttpServerOptions options, std::shared_ptr<Handler> handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

Result<int> HttpServer::start() { return impl_->start(); }

void HttpServer::stop() { impl_->stop(); }

int HttpServer::port() const { return impl_->port; }

size_t HttpServer::connectionCount() const {
  std::lock_guard lock(impl_->mu);
  return impl_->sessions.size();
}

}  // namespace berth::apiserver
