#include "agent/server/agent_server.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "apiserver/auth/authenticator.h"
#include "apiserver/auth/certs.h"
#include "apiserver/http_server.h"
#include "apiserver/pod_log.h"
#include "apiserver/status.h"
#include "common/log.h"
#include "runtime/logs/cri_log.h"

namespace berth::agent::server {

namespace {

using apiserver::Request;
using apiserver::Responder;
using apiserver::Response;
using apiserver::StreamWriter;

Response statusResponse(ErrorCode code, const std::string& message) {
  return apiserver::errorResponse(makeError(code, message));
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string hostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "berth-agent";
  return buf;
}

// The kubelet's self-signed serving certificate
// (cert.GenerateSelfSignedCertKey): a CA "<host>-ca@<time>" and a leaf
// "<host>@<time>" it signed, sent as a chain.
Result<apiserver::auth::CertKeyPair> selfSignedServingCert(
    const std::string& listen_host, const std::vector<std::string>& extra_ips,
    std::string* ca_pem) {
  std::string host = hostName();
  std::string stamp = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
  BERTH_ASSIGN_OR_RETURN(
      auto ca, apiserver::auth::generateCa(host + "-ca@" + stamp, std::chrono::hours(24 * 365)));
  apiserver::auth::SubjectAltNames sans;
  sans.dns = {host, "localhost"};
  sans.ips = {"127.0.0.1", "::1"};
  auto addIp = [&](const std::string& ip) {
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(ip, ec);
    if (ec || addr.is_unspecified()) return;
    for (const auto& have : sans.ips)
      if (have == addr.to_string()) return;
    sans.ips.push_back(addr.to_string());
  };
  addIp(listen_host);
  for (const auto& ip : extra_ips) addIp(ip);
  BERTH_ASSIGN_OR_RETURN(auto leaf,
                         apiserver::auth::generateServingCert(ca, host + "@" + stamp, sans,
                                                              std::chrono::hours(24 * 365)));
  leaf.cert_pem += ca.cert_pem;
  *ca_pem = ca.cert_pem;
  return leaf;
}

// What one log stream's reader shares with the transport's callbacks.
struct StreamState {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;  // the client went away or the server stops
  void close() {
    {
      std::lock_guard lock(mu);
      closed = true;
    }
    cv.notify_all();
  }
  bool isClosed() {
    std::lock_guard lock(mu);
    return closed;
  }
};

}  // namespace

class AgentServer::Impl : public apiserver::Handler,
                          public std::enable_shared_from_this<AgentServer::Impl> {
 public:
  explicit Impl(AgentServerOptions o) : options(std::move(o)) {}

  void handle(Request req, std::shared_ptr<Responder> responder) override {
    if (req.path == "/healthz") {
      if (req.method != "GET" && req.method != "HEAD")
        return responder->respond(
            statusResponse(ErrorCode::kMethodNotAllowed, "method not allowed"));
      return responder->respond(
          Response{200, {{"Content-Type", "text/plain; charset=utf-8"}}, "ok"});
    }
    // The kubelet's authorization filter: everything but healthz belongs to
    // the API server (nodes/proxy for the streaming endpoints).
    if (req.user.name != apiserver::kAgentClientUser) {
      return responder->respond(statusResponse(
          ErrorCode::kForbidden, "Forbidden (user=" + req.user.name + ", verb=" +
                                     verbOf(req.method) + ", resource=nodes, subresource=proxy)"));
    }
    auto segments = splitPath(req.path);
    // "", "containerLogs", ns, pod, container
    if (segments.size() == 5 && segments[1] == "containerLogs" && !segments[2].empty() &&
        !segments[3].empty() && !segments[4].empty()) {
      if (req.method != "GET")
        return responder->respond(
            statusResponse(ErrorCode::kMethodNotAllowed,
                           "the server does not allow this method on the requested resource"));
      return containerLogs(req, segments[2], segments[3], segments[4], std::move(responder));
    }
    responder->respond(
        statusResponse(ErrorCode::kNotFound, "the server could not find the requested resource"));
  }

  static std::string verbOf(const std::string& method) {
    if (method == "POST") return "create";
    if (method == "PUT") return "update";
    if (method == "PATCH") return "patch";
    if (method == "DELETE") return "delete";
    return "get";
  }

  // getContainerLogs (pkg/kubelet/server/server.go) with its messages.
  void containerLogs(const Request& req, const std::string& ns, const std::string& pod,
                     const std::string& container, std::shared_ptr<Responder> responder) {
    // The legacy "tail" parameter: a line count, or "all" for no limit.
    auto query = req.query;
    if (auto tail = req.queryParam("tail"); !tail.empty()) {
      std::erase_if(query, [](const auto& kv) { return kv.first == "tailLines"; });
      if (tail != "all") query.emplace_back("tailLines", std::string(tail));
    }
    auto opts = apiserver::decodePodLogOptions(query);
    if (!opts.ok())
      return responder->respond(statusResponse(ErrorCode::kBadRequest, "Unable to decode query."));
    if (!apiserver::validatePodLogOptions(*opts, pod).ok())
      return responder->respond(statusResponse(ErrorCode::kInvalid, "Invalid request."));
    if (!options.source)
      return responder->respond(
          statusResponse(ErrorCode::kUnavailable, "container logs are not available"));
    auto ref = options.source->containerLog(ns, pod, container, opts->previous);
    if (!ref.ok()) return responder->respond(apiserver::errorResponse(ref.error()));
    // Open errors are answered before the stream starts (the kubelet could
    // only append them to a 200 body).
    int fd = ::open(ref->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return responder->respond(
          statusResponse(ErrorCode::kBadRequest,
                         "failed to open log file \"" + ref->path + "\": " + std::strerror(errno)));
    ::close(fd);

    runtime::LogReadOptions ro;
    ro.follow = opts->follow;
    ro.timestamps = opts->timestamps;
    ro.tail_lines = opts->tail_lines;
    ro.limit_bytes = opts->limit_bytes;
    // NewLogOptions: since = now - sinceSeconds, or sinceTime when later.
    Clock& clock = options.clock ? *options.clock : RealClock::instance();
    if (opts->since_seconds) ro.since = clock.now() - std::chrono::seconds(*opts->since_seconds);
    if (opts->since_time && (!ro.since || *opts->since_time > *ro.since))
      ro.since = opts->since_time;

    std::unique_lock lock(mu);
    reapLocked();
    if (stopping) {
      lock.unlock();
      return responder->respond(
          statusResponse(ErrorCode::kUnavailable, "the agent is shutting down"));
    }
    if (streams.size() >= static_cast<size_t>(std::max(1, options.max_log_streams))) {
      lock.unlock();
      return responder->respond(
          statusResponse(ErrorCode::kTooManyRequests, "too many log streams"));
    }
    auto state = std::make_shared<StreamState>();
    uint64_t id = next_id++;
    stream_states.emplace(id, state);
    streams.emplace(id, std::thread([self = shared_from_this(), id, state, ns, pod, container,
                                     previous = opts->previous, ref = *ref, ro,
                                     responder = std::move(responder)]() mutable {
                      pthread_setname_np(pthread_self(), "agent-logs");
                      self->serveLog(state, ns, pod, container, previous, ref, ro,
                                     std::move(responder));
                      self->streamDone(id);
                    }));
  }

  // One log stream, on its own thread: readCriLog blocks while following.
  void serveLog(const std::shared_ptr<StreamState>& state, const std::string& ns,
                const std::string& pod, const std::string& container, bool previous,
                const ContainerLogRef& ref, const runtime::LogReadOptions& ro,
                std::shared_ptr<Responder> responder) {
    auto writer = responder->startStream(200, {{"Content-Type", "text/plain"}});
    responder.reset();
    // The writer may call back after this thread is gone: it holds the state.
    writer->onClosed([state] { state->close(); });
    auto out = [&](std::string_view chunk) {
      // Back-pressure: wait while the client lags, but never past its leaving.
      std::unique_lock lock(state->mu);
      while (!state->closed && writer->pendingBytes() > options.max_pending_bytes)
        state->cv.wait_for(lock, std::chrono::milliseconds(10));
      if (state->closed) return false;
      lock.unlock();
      return writer->write(std::string(chunk));
    };
    std::optional<std::chrono::steady_clock::time_point> last_check;
    bool done = !ref.running;
    auto finished = [&] {
      if (done || state->isClosed()) return true;
      // The kubelet follows one container ID: the attempt ends when it
      // stops running or a new attempt replaces it.
      auto now = std::chrono::steady_clock::now();
      if (last_check && now - *last_check < options.state_check_period) return false;
      last_check = now;
      auto current = options.source->containerLog(ns, pod, container, previous);
      done = !current.ok() || current->path != ref.path || !current->running;
      return done;
    };
    auto st = runtime::readCriLog(ref.path, ro, out, finished);
    if (!st.ok())
      BERTH_LOG(kWarning, "agent-server")
          << "log read failed path=" << ref.path << " error=" << st.error().message;
    writer->finish();
  }

  void streamDone(uint64_t id) {
    std::lock_guard lock(mu);
    stream_states.erase(id);
    auto it = streams.find(id);
    if (it == streams.end()) return;  // stop() took it and joins it
    finished.push_back(std::move(it->second));
    streams.erase(it);
  }

  // Joins threads whose streams ended (they are at their last instructions).
  void reapLocked() {
    for (auto& t : finished)
      if (t.joinable()) t.join();
    finished.clear();
  }

  AgentServerOptions options;
  std::string serving_ca_pem;
  std::unique_ptr<apiserver::HttpServer> http;
  mutable std::mutex mu;
  bool stopping = false;
  uint64_t next_id = 1;
  std::map<uint64_t, std::thread> streams;
  std::map<uint64_t, std::shared_ptr<StreamState>> stream_states;
  std::vector<std::thread> finished;
};

AgentServer::AgentServer(AgentServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}

AgentServer::~AgentServer() {
  stop();
  // The transport holds the Impl as its handler: break the cycle.
  impl_->http.reset();
}

Result<int> AgentServer::start() {
  auto& o = impl_->options;
  if (impl_->http) return makeError(ErrorCode::kInternal, "agent server already started");
  if (o.client_ca_pem.empty())
    return makeError(ErrorCode::kInvalid, "agent server needs the cluster CA");
  BERTH_ASSIGN_OR_RETURN(auto listen, apiserver::parseListenAddress(o.listen));
  apiserver::HttpServerOptions ho;
  ho.listen = o.listen;
  if (o.cert_pem.empty()) {
    BERTH_ASSIGN_OR_RETURN(
        auto pair, selfSignedServingCert(listen.first, o.serving_ips, &impl_->serving_ca_pem));
    ho.cert_pem = std::move(pair.cert_pem);
    ho.key_pem = std::move(pair.key_pem);
  } else {
    ho.cert_pem = o.cert_pem;
    ho.key_pem = o.key_pem;
  }
  ho.client_ca_pem = o.client_ca_pem;
  ho.io_threads = 1;
  ho.handler_threads = std::max(1, o.threads);
  ho.authenticator = std::make_shared<apiserver::auth::ClientCertAuthenticator>();
  ho.anonymous_paths = {"/healthz"};
  ho.max_stream_pending_bytes = std::max<size_t>(o.max_pending_bytes * 4, 16 << 20);
  ho.shutdown_grace = std::chrono::seconds(2);
  impl_->http = std::make_unique<apiserver::HttpServer>(std::move(ho), impl_);
  auto port = impl_->http->start();
  if (!port.ok()) {
    impl_->http.reset();
    return port.error();
  }
  return port;
}

void AgentServer::stop() {
  std::vector<std::shared_ptr<StreamState>> states;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    for (auto& [id, s] : impl_->stream_states) states.push_back(s);
  }
  // Readers see their streams closed at their next check, whether or not
  // the transport still reaches them.
  for (auto& s : states) s->close();
  if (impl_->http) impl_->http->stop();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, t] : impl_->streams) threads.push_back(std::move(t));
    impl_->streams.clear();
    for (auto& t : impl_->finished) threads.push_back(std::move(t));
    impl_->finished.clear();
  }
  for (auto& t : threads)
    if (t.joinable()) t.join();
}

int AgentServer::port() const { return impl_->http ? impl_->http->port() : 0; }

const std::string& AgentServer::servingCaPem() const { return impl_->serving_ca_pem; }

size_t AgentServer::activeLogStreams() const {
  std::lock_guard lock(impl_->mu);
  return impl_->streams.size();
}

}  // namespace berth::agent::server
