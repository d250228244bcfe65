#include "apiserver/pod_log.h"

#include <pthread.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "api/field_errors.h"
#include "api/object.h"
#include "apiserver/api_server.h"
#include "apiserver/status.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/url.h"

namespace berth::apiserver {

namespace json = boost::json;
using api::Object;

// ---- PodLogOptions --------------------------------------------------------------

namespace {

// strconv.ParseInt(s, 10, 64) with Go's error text.
Result<int64_t> parseGoInt(const std::string& s) {
  std::string quoted = json::serialize(json::value(s));
  std::string_view digits = s;
  bool plus = !digits.empty() && digits.front() == '+';
  if (plus) digits.remove_prefix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  bool syntax_ok = !digits.empty() && !(plus && digits.front() == '-') &&
                   end == digits.data() + digits.size() && ec != std::errc::invalid_argument;
  if (!syntax_ok)
    return makeError(ErrorCode::kBadRequest,
                     "strconv.ParseInt: parsing " + quoted + ": invalid syntax");
  if (ec == std::errc::result_out_of_range)
    return makeError(ErrorCode::kBadRequest,
                     "strconv.ParseInt: parsing " + quoted + ": value out of range");
  return v;
}

// Convert_Slice_string_To_bool: only "false" (any case) and "0" are false.
bool goQueryBool(std::string_view v) {
  if (v == "0") return false;
  if (v.size() != 5) return true;
  static constexpr std::string_view kFalse = "false";
  for (size_t i = 0; i < 5; ++i)
    if (std::tolower(static_cast<unsigned char>(v[i])) != kFalse[i]) return true;
  return false;
}

// Go's %v of a field error: "<field>: <body>" (the field is printed even
// when empty, so a root-path error reads ": Forbidden: ...").
std::string fieldErrorText(const Cause& c) { return c.field + ": " + c.message; }

}  // namespace

Result<PodLogOptions> decodePodLogOptions(
    const std::vector<std::pair<std::string, std::string>>& query) {
  PodLogOptions o;
  auto first = [&](std::string_view key) -> const std::string* {
    for (const auto& [k, v] : query)
      if (k == key) return &v;
    return nullptr;
  };
  if (auto* v = first("container")) o.container = *v;
  if (auto* v = first("follow")) o.follow = goQueryBool(*v);
  if (auto* v = first("previous")) o.previous = goQueryBool(*v);
  if (auto* v = first("timestamps")) o.timestamps = goQueryBool(*v);
  if (auto* v = first("insecureSkipTLSVerifyBackend"))
    o.insecure_skip_tls_verify_backend = goQueryBool(*v);
  struct IntParam {
    const char* key;
    std::optional<int64_t>* out;
  };
  for (IntParam p :
       {IntParam{"sinceSeconds", &o.since_seconds}, IntParam{"tailLines", &o.tail_lines},
        IntParam{"limitBytes", &o.limit_bytes}}) {
    if (auto* v = first(p.key)) {
      BERTH_ASSIGN_OR_RETURN(int64_t n, parseGoInt(*v));
      *p.out = n;
    }
  }
  // metav1.Time.UnmarshalQueryParameter: "" and "null" are no time.
  if (auto* v = first("sinceTime"); v && !v->empty() && *v != "null") {
    std::chrono::system_clock::time_point t;
    if (!parseRfc3339(*v, &t))
      return makeError(ErrorCode::kBadRequest,
                       "parsing time " + json::serialize(json::value(*v)) +
                           " as \"2006-01-02T15:04:05Z07:00\": cannot parse " +
                           json::serialize(json::value(*v)) + " as RFC 3339");
    o.since_time = t;
  }
  return o;
}

Status validatePodLogOptions(const PodLogOptions& o, const std::string& pod_name) {
  api::FieldErrors errs;
  if (o.tail_lines && *o.tail_lines < 0)
    errs.invalid("tailLines", std::to_string(*o.tail_lines), "must be greater than or equal to 0");
  if (o.limit_bytes && *o.limit_bytes < 1)
    errs.invalid("limitBytes", std::to_string(*o.limit_bytes), "must be greater than 0");
  if (o.since_seconds && o.since_time) {
    errs.forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified");
  } else if (o.since_seconds && *o.since_seconds < 1) {
    errs.invalid("sinceSeconds", std::to_string(*o.since_seconds), "must be greater than 0");
  }
  if (errs.empty()) return okStatus();
  // errors.NewInvalid(api.Kind("PodLogOptions"), name, errs), whose message
  // prints every field error as "<field>: <body>".
  Error e = errs.toError("", "PodLogOptions", pod_name);
  std::string msg = "PodLogOptions \"" + pod_name + "\" is invalid: ";
  if (e.causes.size() == 1) {
    msg += fieldErrorText(e.causes[0]);
  } else {
    msg += "[";
    for (size_t i = 0; i < e.causes.size(); ++i)
      msg += (i ? ", " : "") + fieldErrorText(e.causes[i]);
    msg += "]";
  }
  e.message = std::move(msg);
  return e;
}

std::string agentLogQuery(const PodLogOptions& o) {
  // url.Values.Encode sorts by key.
  std::vector<std::pair<std::string, std::string>> params;
  if (o.follow) params.emplace_back("follow", "true");
  if (o.limit_bytes) params.emplace_back("limitBytes", std::to_string(*o.limit_bytes));
  if (o.previous) params.emplace_back("previous", "true");
  if (o.since_seconds) params.emplace_back("sinceSeconds", std::to_string(*o.since_seconds));
  if (o.since_time) params.emplace_back("sinceTime", formatRfc3339(*o.since_time));
  if (o.tail_lines) params.emplace_back("tailLines", std::to_string(*o.tail_lines));
  if (o.timestamps) params.emplace_back("timestamps", "true");
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k + "=" + percentEncode(v);
  }
  return out;
}

Result<std::string> podLogContainer(const Object& pod, const std::string& requested) {
  const std::string pod_name = api::name(pod);
  const Object* spec = api::findObject(pod, "spec");
  // podutil.VisitContainers order: init, regular, ephemeral containers.
  std::vector<std::string> all;
  size_t regular = 0;
  std::string only;
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    const json::array* arr = spec ? api::findArray(*spec, list) : nullptr;
    if (!arr) continue;
    for (const auto& c : *arr) {
      if (!c.is_object()) continue;
      std::string n = api::getString(c.get_object(), "name");
      if (std::string_view(list) == "containers") {
        ++regular;
        only = n;
      }
      all.push_back(std::move(n));
    }
  }
  if (!requested.empty()) {
    for (const auto& n : all)
      if (n == requested) return requested;
    return badRequest("container " + requested + " is not valid for pod " + pod_name);
  }
  if (regular == 1) return only;
  if (regular == 0) return badRequest("a container name must be specified for pod " + pod_name);
  std::string names;
  for (const auto& n : all) names += (names.empty() ? "" : " ") + n;
  return badRequest("a container name must be specified for pod " + pod_name +
                    ", choose one of: [" + names + "]");
}

Result<AgentAddress> nodeAgentAddress(const Object& node,
                                      const std::vector<std::string>& preferred) {
  const json::value* addrs = api::findPath(node, "status.addresses");
  const json::array* list = addrs && addrs->is_array() ? &addrs->get_array() : nullptr;
  AgentAddress out;
  for (const auto& type : preferred) {
    if (!list) break;
    for (const auto& a : *list) {
      if (!a.is_object() || api::getString(a.get_object(), "type") != type) continue;
      out.host = api::getString(a.get_object(), "address");
      break;
    }
    if (!out.host.empty()) break;
  }
  if (out.host.empty()) {
    // NoMatchError prints the addresses with %v: [{Type Address} ...].
    std::string known;
    if (list)
      for (const auto& a : *list) {
        if (!a.is_object()) continue;
        known += (known.empty() ? "{" : " {") + api::getString(a.get_object(), "type") + " " +
                 api::getString(a.get_object(), "address") + "}";
      }
    return makeError(ErrorCode::kInternal,
                     "no preferred addresses found; known addresses: [" + known + "]");
  }
  const json::value* port = api::findPath(node, "status.daemonEndpoints.kubeletEndpoint.Port");
  if (port && port->is_int64() && port->get_int64() > 0 && port->get_int64() <= 65535)
    out.port = static_cast<int>(port->get_int64());
  return out;
}

Result<auth::CertKeyPair> issueAgentClientCertificate(const auth::CertKeyPair& cluster_ca) {
  return auth::generateClientCert(cluster_ca, std::string(kAgentClientUser), {});
}

// ---- the proxy ---------------------------------------------------------------

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

// An error that is not an API status: upstream answers 500 with reason
// StatusReasonUnknown (empty, so kubectl prints "Error from server: ...").
Response unknownStatus(int code, const std::string& message) {
  json::object s{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
                 {"status", "Failure"}, {"message", message}, {"code", code}};
  return jsonResponse(code, json::value(std::move(s)));
}

// genericrest.GenericHttpResponseChecker over a body that is not a Status.
Response wrapAgentError(int code, const std::string& body, const std::string& pod_name) {
  if (code == 500) {
    Error e = makeError(ErrorCode::kInternal, "Internal error occurred: " + body);
    e.causes.push_back(Cause{"", body, ""});
    return errorResponse(e);
  }
  if (code == 400) return errorResponse(badRequest(body));
  // errors.NewGenericServerResponse(code, "", pods/log, name, body, 0, false).
  std::string reason;
  std::string message = "the server responded with the status code " + std::to_string(code) +
                        " but did not return more information";
  switch (code) {
    case 401:
      reason = "Unauthorized";
      message = "the server has asked for the client to provide credentials";
      break;
    case 403:
      reason = "Forbidden";
      message = body;
      break;
    case 404:
      reason = "NotFound";
      message = "the server could not find the requested resource";
      break;
    case 405:
      reason = "MethodNotAllowed";
      message = "the server does not allow this method on the requested resource";
      break;
    case 409:
      reason = "Conflict";
      message = "the server reported a conflict";
      break;
    case 422:
      reason = "Invalid";
      message = "the server rejected our request due to an error in our request";
      break;
    case 429:
      reason = "TooManyRequests";
      message = "the server has received too many requests and has asked us to try again later";
      break;
    case 503:
      reason = "ServiceUnavailable";
      message = "the server is currently unable to handle the request";
      break;
    case 504:
      reason = "Timeout";
      message =
          "the server was unable to return a response in the time allotted, but may still be "
          "processing the "
          "request";
      break;
    default:
      if (code >= 500) {
        reason = "InternalError";
        message = "an error on the server (" + json::serialize(json::value(body)) +
                  ") has prevented the request from succeeding";
      }
  }
  message += " ( pods/log " + pod_name + ")";
  json::object s{{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"metadata", json::object()},
                 {"status", "Failure"},
                 {"message", message}};
  if (!reason.empty()) s["reason"] = reason;
  s["details"] = json::object{{"name", pod_name}, {"kind", "pods/log"}};
  s["code"] = code;
  return jsonResponse(code, json::value(std::move(s)));
}

// A Status body from the agent passes through as it is.
bool isStatusBody(const std::string& body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  return !ec && v.is_object() && api::getString(v.get_object(), "kind") == "Status";
}

// Go's net error text for the common dial failures ("connect: connection
// refused"), so that messages read as upstream's.
std::string dialErrorText(const error_code& ec) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out) return "i/o timeout";
  if (ec == asio::error::connection_refused) return "connect: connection refused";
  if (ec == asio::error::host_unreachable) return "connect: no route to host";
  if (ec == asio::error::network_unreachable) return "connect: network is unreachable";
  std::string m = ec.message();
  if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}

constexpr size_t kMaxErrorBody = 50000;  // genericrest's maxReadLength
constexpr auto kHeaderTimeout = std::chrono::seconds(60);
constexpr auto kBackPressureWait = std::chrono::milliseconds(10);

}  // namespace

class ProxyCall;

class AgentProxy::Impl {
 public:
  explicit Impl(const AgentProxyOptions& o) : options(o), ssl_ctx(ssl::context::tls_client) {}

  Status loadTls() {
    try {
      SSL_CTX_set_min_proto_version(ssl_ctx.native_handle(), TLS1_2_VERSION);
      if (!options.client_cert_pem.empty()) {
        ssl_ctx.use_certificate_chain(asio::buffer(options.client_cert_pem));
        ssl_ctx.use_private_key(asio::buffer(options.client_key_pem), ssl::context::pem);
      }
      if (!options.agent_ca_pem.empty())
        ssl_ctx.add_certificate_authority(asio::buffer(options.agent_ca_pem));
      static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
      SSL_CTX_set_alpn_protos(ssl_ctx.native_handle(), kAlpn, sizeof(kAlpn));
    } catch (const std::exception& e) {
      return makeError(ErrorCode::kInvalid, std::string("agent client tls: ") + e.what());
    }
    return okStatus();
  }

  // Declared before the io_context: calls whose handlers are destroyed
  // with it unregister themselves here and use the TLS context.
  const AgentProxyOptions& options;
  ssl::context ssl_ctx;
  mutable std::mutex mu;
  std::condition_variable calls_cv;
  std::unordered_map<ProxyCall*, std::weak_ptr<ProxyCall>> calls;
  bool started = false;
  bool stopped = false;
  asio::io_context ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
};

// One proxied GET, on its own strand of the proxy's io_context.
class ProxyCall : public std::enable_shared_from_this<ProxyCall> {
 public:
  ProxyCall(AgentProxy::Impl& impl, AgentProxy::Call call, std::shared_ptr<Responder> responder)
      : impl_(impl),
        call_(std::move(call)),
        responder_(std::move(responder)),
        strand_(asio::make_strand(impl.ioc)),
        resolver_(strand_),
        stream_(strand_, impl.ssl_ctx),
        backoff_(strand_) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(call_.host, ec);
    host_is_ip_ = !ec;
    std::string host = host_is_ip_ && addr.is_v6() ? "[" + call_.host + "]" : call_.host;
    host_port_ = host + ":" + std::to_string(call_.port);
  }

  ~ProxyCall() {
    std::lock_guard lock(impl_.mu);
    impl_.calls.erase(this);
    if (impl_.calls.empty()) impl_.calls_cv.notify_all();
  }

  void begin() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->resolve(); });
  }
  void cancel() {
    asio::post(strand_, [self = shared_from_this()] { self->close(); });
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  std::string url() const { return "https://" + host_port_ + call_.target; }

  void fail(const std::string& what) {
    if (responder_) responder_->respond(unknownStatus(500, "Get \"" + url() + "\": " + what));
    responder_.reset();
    close();
  }

  void resolve() {
    if (closed_) return;
    if (host_is_ip_) {
      tcp::endpoint ep(asio::ip::make_address(call_.host), static_cast<unsigned short>(call_.port));
      return connect(std::vector<tcp::endpoint>{ep});
    }
    resolver_.async_resolve(
        call_.host, std::to_string(call_.port),
        [self = shared_from_this()](error_code ec, tcp::resolver::results_type results) {
          if (self->closed_) return;
          if (ec) return self->fail("dial tcp: lookup " + self->call_.host + ": " + ec.message());
          self->connect(std::vector<tcp::endpoint>(results.begin(), results.end()));
        });
  }

  void connect(std::vector<tcp::endpoint> endpoints) {
    lowest().expires_after(impl_.options.dial_timeout);
    lowest().async_connect(
        endpoints, [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
          if (self->closed_) return;
          if (ec) return self->fail("dial tcp " + self->host_port_ + ": " + dialErrorText(ec));
          self->handshake();
        });
  }

  void handshake() {
    if (!host_is_ip_) SSL_set_tlsext_host_name(stream_.native_handle(), call_.host.c_str());
    bool verify = !impl_.options.agent_ca_pem.empty() && !call_.insecure_skip_tls_verify;
    if (verify) {
      stream_.set_verify_mode(ssl::verify_peer);
      stream_.set_verify_callback(ssl::host_name_verification(call_.host));
    } else {
      stream_.set_verify_mode(ssl::verify_none);
    }
    lowest().expires_after(impl_.options.dial_timeout);
    stream_.async_handshake(ssl::stream_base::client, [self = shared_from_this()](error_code ec) {
      if (self->closed_) return;
      if (ec)
        return self->fail(ec == beast::error::timeout ? "net/http: TLS handshake timeout"
                                                      : "tls: " + ec.message());
      self->sendRequest();
    });
  }

  void sendRequest() {
    req_.method(bhttp::verb::get);
    req_.target(call_.target);
    req_.version(11);
    req_.set(bhttp::field::host, host_port_);
    req_.set(bhttp::field::user_agent, "berth-apiserver");
    req_.set(bhttp::field::accept_encoding, "identity");
    lowest().expires_after(impl_.options.dial_timeout);
    bhttp::async_write(stream_, req_, [self = shared_from_this()](error_code ec, size_t) {
      if (self->closed_) return;
      if (ec) return self->fail(dialErrorText(ec));
      self->readHeader();
    });
  }

  void readHeader() {
    parser_.emplace();
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    lowest().expires_after(kHeaderTimeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, size_t) {
          if (self->closed_) return;
          if (ec)
            return self->fail(ec == beast::error::timeout
                                  ? "net/http: timeout awaiting response headers"
                                  : dialErrorText(ec));
          int status = static_cast<int>(self->parser_->get().result_int());
          if (status >= 200 && status < 300) return self->startStream();
          self->status_ = status;
          self->readErrorBody();
        });
  }

  // The body of a refused request, up to kMaxErrorBody bytes.
  void readErrorBody() {
    if (parser_->is_done() || error_body_.size() >= kMaxErrorBody) return answerError();
    auto& body = parser_->get().body();
    body.data = buf_;
    body.size = sizeof(buf_);
    bhttp::async_read_some(
        stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, size_t) {
          if (self->closed_) return;
          if (ec == bhttp::error::need_buffer) ec = {};
          size_t got = sizeof(self->buf_) - self->parser_->get().body().size;
          self->error_body_.append(self->buf_,
                                   std::min(got, kMaxErrorBody - self->error_body_.size()));
          if (ec) return self->answerError();
          self->readErrorBody();
        });
  }

  void answerError() {
    if (responder_) {
      if (isStatusBody(error_body_)) {
        responder_->respond(jsonResponse(status_, error_body_));
      } else {
        responder_->respond(wrapAgentError(status_, error_body_, call_.pod_name));
      }
    }
    responder_.reset();
    close();
  }

  void startStream() {
    // A stream has no deadline: the agent ends it, or the client goes away.
    lowest().expires_never();
    writer_ = responder_->startStream(200, {{"Content-Type", "text/plain"}});
    responder_.reset();
    writer_->onClosed([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->cancel();
    });
    readBody();
  }

  void readBody() {
    if (closed_) return;
    if (parser_->is_done()) return endStream();
    auto& body = parser_->get().body();
    body.data = buf_;
    body.size = sizeof(buf_);
    bhttp::async_read_some(
        stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, size_t) {
          if (self->closed_) return;
          if (ec == bhttp::error::need_buffer) ec = {};
          size_t got = sizeof(self->buf_) - self->parser_->get().body().size;
          if (got > 0 && !self->writer_->write(std::string(self->buf_, got))) return self->close();
          if (ec) {
            // The agent went away mid-stream: the client's stream ends too.
            BERTH_LOG(kDebug, "podlog")
                << "agent stream ended url=" << self->url() << " error=" << ec.message();
            return self->endStream();
          }
          self->waitForClient();
        });
  }

  // Reading from the agent pauses while the client lags behind.
  void waitForClient() {
    if (closed_) return;
    if (writer_->pendingBytes() <= impl_.options.max_pending_bytes) return readBody();
    backoff_.expires_after(kBackPressureWait);
    backoff_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->waitForClient();
    });
  }

  void endStream() {
    if (writer_) writer_->finish();
    close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (responder_) {
      // Stopped before the agent answered.
      responder_->respond(
          errorResponse(makeError(ErrorCode::kUnavailable, "the server is shutting down")));
      responder_.reset();
    }
    backoff_.cancel();
    resolver_.cancel();
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  AgentProxy::Impl& impl_;
  AgentProxy::Call call_;
  std::shared_ptr<Responder> responder_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  asio::steady_timer backoff_;
  beast::flat_buffer buffer_;
  bhttp::request<bhttp::empty_body> req_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::shared_ptr<StreamWriter> writer_;
  std::string host_port_;
  std::string error_body_;
  int status_ = 0;
  bool host_is_ip_ = false;
  bool closed_ = false;
  char buf_[16 * 1024];
};

AgentProxy::AgentProxy(AgentProxyOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {}

AgentProxy::~AgentProxy() { stop(); }

Status AgentProxy::start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->started) return makeError(ErrorCode::kInternal, "agent proxy already started");
  BERTH_RETURN_IF_ERROR(impl_->loadTls());
  impl_->started = true;
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->thread = std::thread([impl = impl_.get()] {
    pthread_setname_np(pthread_self(), "agent-proxy");
    for (;;) {
      try {
        impl->ioc.run();
        return;
      } catch (const std::exception& e) {
        BERTH_LOG(kError, "podlog") << "agent proxy thread exception error=" << e.what();
      }
    }
  });
  return okStatus();
}

void AgentProxy::stop() {
  std::vector<std::shared_ptr<ProxyCall>> live;
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->started || impl_->stopped) return;
    impl_->stopped = true;
    for (auto& [raw, weak] : impl_->calls)
      if (auto c = weak.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) c->cancel();
  live.clear();
  impl_->work.reset();
  {
    std::unique_lock lock(impl_->mu);
    impl_->calls_cv.wait_for(lock, std::chrono::seconds(5),
                             [this] { return impl_->calls.empty(); });
  }
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void AgentProxy::get(Call call, std::shared_ptr<Responder> responder) {
  std::shared_ptr<ProxyCall> c;
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->started || impl_->stopped) {
      responder->respond(
          errorResponse(makeError(ErrorCode::kUnavailable, "the server is shutting down")));
      return;
    }
    c = std::make_shared<ProxyCall>(*impl_, std::move(call), std::move(responder));
    impl_->calls.emplace(c.get(), c);
  }
  c->begin();
}

size_t AgentProxy::activeCount() const {
  std::lock_guard lock(impl_->mu);
  return impl_->calls.size();
}

// ---- the REST handler ----------------------------------------------------------

void ApiServer::handlePodLog(const Request& req, const ResourcePath& path,
                             const std::shared_ptr<Responder>& responder) {
  auto fail = [&](const Error& e) { responder->respond(errorResponse(e)); };
  if (req.method != "GET")
    return fail(
        methodNotAllowed("the server does not allow this method on the requested resource"));
  // LogREST.Get: decode, validate, then LogLocation.
  auto opts = decodePodLogOptions(req.query);
  if (!opts.ok()) return fail(opts.error());
  if (auto st = validatePodLogOptions(*opts, path.name); !st.ok()) return fail(st.error());
  auto pod = registry_.get(*path.kind, path.namespace_, path.name);
  if (!pod.ok()) return fail(pod.error());
  auto container = podLogContainer(*pod, opts->container);
  if (!container.ok()) return fail(container.error());
  std::string node_name = api::getStringPath(*pod, "spec.nodeName");
  if (node_name.empty()) {
    // Not scheduled yet: LogLocation returns no location and the stream is
    // empty, which the REST layer answers with 204 No Content.
    responder->respond(Response{204, {}, ""});
    return;
  }
  if (!options_.agent_proxy)
    return fail(makeError(ErrorCode::kUnavailable, "this server has no connection to node agents"));
  const api::KindInfo* nodes = registry_.kinds().byResource("", "v1", "nodes");
  if (!nodes) return fail(internalError("the nodes resource is not served"));
  auto node = registry_.get(*nodes, "", node_name);
  if (!node.ok()) return fail(node.error());
  auto address = nodeAgentAddress(*node, options_.agent_proxy->options().preferred_address_types);
  if (!address.ok()) {
    responder->respond(unknownStatus(500, address.error().message));
    return;
  }
  AgentProxy::Call call;
  call.host = address->host;
  call.port = address->port;
  call.target = "/containerLogs/" + percentEncode(path.namespace_) + "/" +
                percentEncode(path.name) + "/" + percentEncode(*container);
  std::string query = agentLogQuery(*opts);
  if (!query.empty()) call.target += "?" + query;
  call.pod_name = path.name;
  call.insecure_skip_tls_verify = opts->insecure_skip_tls_verify_backend;
  options_.agent_proxy->get(std::move(call), responder);
}

}  // namespace berth::apiserver
