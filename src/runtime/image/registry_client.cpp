#include "runtime/image/registry_client.h"

#include <curl/curl.h>
#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include "api/protobuf.h"  // base64Encode / base64Decode
#include "common/url.h"
#include "runtime/image/manifest.h"

namespace berth::runtime {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// --- libcurl transport: the multi interface drives one easy handle so that
// the body can be pulled by the reader (ImageStore::writeBlob) instead of
// pushed by curl; at most kMaxBuffered bytes wait in memory (the transfer
// is paused beyond that).

constexpr size_t kMaxBuffered = 1 << 20;

class CurlBody : public HttpBody {
 public:
  CurlBody() : easy_(curl_easy_init()), multi_(curl_multi_init()) { errbuf_[0] = 0; }
  ~CurlBody() override {
    if (multi_ && easy_) curl_multi_remove_handle(multi_, easy_);
    if (easy_) curl_easy_cleanup(easy_);
    if (multi_) curl_multi_cleanup(multi_);
    if (headers_) curl_slist_free_all(headers_);
  }

  Result<HttpResponse> start(const HttpRequest& req, const CurlOptions& opts,
                             std::unique_ptr<CurlBody> self) {
    if (!easy_ || !multi_) return makeError(ErrorCode::kInternal, "curl initialization failed");
    method_ = req.method;
    url_ = req.url;
    for (const auto& h : req.headers) headers_ = curl_slist_append(headers_, h.c_str());
    curl_easy_setopt(easy_, CURLOPT_URL, req.url.c_str());
    if (req.method == "HEAD") curl_easy_setopt(easy_, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(easy_, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
    curl_easy_setopt(easy_, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT, opts.connect_timeout_seconds);
    curl_easy_setopt(easy_, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy_, CURLOPT_LOW_SPEED_TIME, opts.stall_timeout_seconds);
    curl_easy_setopt(easy_, CURLOPT_USERAGENT, "berth");
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, errbuf_);
    if (!opts.ca_file.empty()) curl_easy_setopt(easy_, CURLOPT_CAINFO, opts.ca_file.c_str());
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &CurlBody::onWrite);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &CurlBody::onHeader);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
    curl_multi_add_handle(multi_, easy_);
    // The headers are complete once the first body bytes arrive or the
    // transfer ends (redirect bodies are not delivered when following).
    while (!got_data_ && !done_) BERTH_RETURN_IF_ERROR(pump());
    if (done_ && result_ != CURLE_OK) return transferError();
    HttpResponse resp;
    long code = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
    resp.status = static_cast<int>(code);
    resp.headers = headers_seen_;
    resp.body = std::move(self);
    return resp;
  }

  Result<size_t> read(char* buf, size_t cap) override {
    while (pos_ == buffer_.size() && !done_) {
      buffer_.clear();
      pos_ = 0;
      if (paused_) {
        paused_ = false;
        curl_easy_pause(easy_, CURLPAUSE_CONT);  // may deliver the held chunk at once
        continue;
      }
      BERTH_RETURN_IF_ERROR(pump());
    }
    if (pos_ < buffer_.size()) {
      size_t n = std::min(cap, buffer_.size() - pos_);
      std::copy_n(buffer_.data() + pos_, n, buf);
      pos_ += n;
      return n;
    }
    if (result_ != CURLE_OK) return transferError();
    return size_t{0};
  }

 private:
  static size_t onWrite(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<CurlBody*>(user);
    self->got_data_ = true;
    if (self->buffer_.size() - self->pos_ >= kMaxBuffered) {
      self->paused_ = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    self->buffer_.append(data, size * n);
    return size * n;
  }

  static size_t onHeader(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<CurlBody*>(user);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {
      self->headers_seen_.clear();  // a new response (after a redirect or 100 Continue)
    } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
      self->headers_seen_.emplace_back(lower(trim(line.substr(0, colon))),
                                       std::string(trim(line.substr(colon + 1))));
    }
    return size * n;
  }

  Status pump() {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi_, &running);
    if (mc != CURLM_OK) {
      return makeError(ErrorCode::kInternal,
                       std::string("curl_multi_perform: ") + curl_multi_strerror(mc));
    }
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
      if (m->msg == CURLMSG_DONE) {
        done_ = true;
        result_ = m->data.result;
      }
    }
    if (running == 0) done_ = true;
    if (!done_ && pos_ == buffer_.size() && !paused_) {
      curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
    }
    return okStatus();
  }

  Error transferError() const {
    std::string detail = errbuf_[0] ? errbuf_ : curl_easy_strerror(result_);
    long os_errno = 0;
    curl_easy_getinfo(easy_, CURLINFO_OS_ERRNO, &os_errno);
    // curl's text hides the reason ("Couldn't connect to server"); the
    // socket's errno names it, as Go's "connect: connection refused" does.
    if (result_ == CURLE_COULDNT_CONNECT && os_errno != 0)
      detail = "connect: " + lower(std::strerror(static_cast<int>(os_errno)));
    return makeError(ErrorCode::kUnavailable,
                     "failed to do request: " + method_ + " \"" + url_ + "\": " + detail);
  }

  CURL* easy_;
  CURLM* multi_;
  curl_slist* headers_ = nullptr;
  char errbuf_[CURL_ERROR_SIZE];
  std::string method_, url_;
  std::vector<std::pair<std::string, std::string>> headers_seen_;
  std::string buffer_;
  size_t pos_ = 0;
  bool got_data_ = false, done_ = false, paused_ = false;
  CURLcode result_ = CURLE_OK;
};

class CurlTransport : public HttpTransport {
 public:
  explicit CurlTransport(CurlOptions options) : options_(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }
  Result<HttpResponse> send(const HttpRequest& request) override {
    auto body = std::make_unique<CurlBody>();
    CurlBody* raw = body.get();
    return raw->start(request, options_, std::move(body));
  }

 private:
  CurlOptions options_;
};

// host[:port] and path of a schemeless URL key ("a.b:5000/ns"); a scheme is dropped.
struct SchemelessUrl {
  std::string host, port, path;
};

SchemelessUrl splitUrl(std::string_view s) {
  for (std::string_view scheme : {"https://", "http://"})
    if (s.starts_with(scheme)) s.remove_prefix(scheme.size());
  SchemelessUrl u;
  size_t slash = s.find('/');
  std::string_view hostport = s.substr(0, slash);
  if (slash != std::string_view::npos) u.path = std::string(s.substr(slash));
  if (hostport.starts_with("[")) {  // [ipv6]:port
    size_t close = hostport.find(']');
    u.host = std::string(hostport.substr(1, close == std::string_view::npos ? close : close - 1));
    if (close != std::string_view::npos && close + 1 < hostport.size() &&
        hostport[close + 1] == ':')
      u.port = std::string(hostport.substr(close + 2));
  } else if (size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
    u.host = std::string(hostport.substr(0, colon));
    u.port = std::string(hostport.substr(colon + 1));
  } else {
    u.host = std::string(hostport);
  }
  return u;
}

std::vector<std::string> splitDots(const std::string& host) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    out.push_back(host.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

bool isLoopback(std::string_view domain) {
  SchemelessUrl u = splitUrl(domain);
  if (u.host == "localhost" || u.host == "::1") return true;
  auto labels = splitDots(u.host);
  if (labels.size() != 4 || labels[0] != "127") return false;
  return std::all_of(labels.begin(), labels.end(), [](const std::string& l) {
    return !l.empty() && l.size() <= 3 &&
           std::all_of(l.begin(), l.end(), [](char c) { return std::isdigit(c); });
  });
}

Result<RegistryAuth> parseConfigEntry(const std::string& key, const boost::json::value& v) {
  const auto* o = v.if_object();
  if (!o) return makeError(ErrorCode::kInvalid, "registry \"" + key + "\": entry is not an object");
  RegistryAuth auth;
  auto str = [&](std::string_view k) {
    auto it = o->find(k);
    return it != o->end() && it->value().is_string() ? std::string(it->value().get_string())
                                                     : std::string();
  };
  auth.username = str("username");
  auth.password = str("password");
  std::string field = str("auth");
  if (field.empty()) return auth;
  // Go's StdEncoding wants padding; docker writes it, hand-made secrets
  // sometimes lack it, so it is restored before decoding.
  while (field.size() % 4 != 0) field += '=';
  std::string decoded;
  if (!api::base64Decode(field, &decoded)) {
    return makeError(ErrorCode::kInvalid,
                     "registry \"" + key + "\": auth field is not valid base64");
  }
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) {
    return makeError(ErrorCode::kInvalid,
                     "registry \"" + key +
                         "\": unable to parse auth field, must be formatted as "
                         "base64(username:password)");
  }
  auth.username = decoded.substr(0, colon);
  auth.password = decoded.substr(colon + 1);
  return auth;
}

Result<boost::json::object> parseJsonObject(std::string_view json, std::string_view what) {
  boost::system::error_code ec;
  auto v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) {
    return makeError(ErrorCode::kInvalid,
                     std::string("invalid ") + std::string(what) + ": not a JSON object");
  }
  return std::move(v.as_object());
}

}  // namespace

// --- HttpResponse ---

std::string HttpResponse::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return "";
}

Result<std::string> HttpResponse::readAll(size_t limit) {
  std::string out;
  if (!body) return out;
  char buf[16384];
  while (true) {
    BERTH_ASSIGN_OR_RETURN(size_t n, body->read(buf, sizeof buf));
    if (n == 0) break;
    if (out.size() + n > limit) {
      return makeError(ErrorCode::kInvalid,
                       "response body exceeds " + std::to_string(limit) + " bytes");
    }
    out.append(buf, n);
  }
  return out;
}

std::unique_ptr<HttpTransport> makeCurlTransport(const CurlOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

// --- WWW-Authenticate ---

std::vector<AuthChallenge> parseWwwAuthenticate(std::string_view h) {
  std::vector<AuthChallenge> out;
  size_t i = 0, n = h.size();
  auto skipSpace = [&] {
    while (i < n && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  while (i < n) {
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == ',')) ++i;
    size_t start = i;
    while (i < n && h[i] != ' ' && h[i] != '\t' && h[i] != ',' && h[i] != '=') ++i;
    std::string token(h.substr(start, i - start));
    if (token.empty()) {
      ++i;  // a stray '=': skip it
      continue;
    }
    skipSpace();
    if (i < n && h[i] == '=') {  // auth-param of the current challenge
      ++i;
      skipSpace();
      std::string value;
      if (i < n && h[i] == '"') {
        for (++i; i < n && h[i] != '"'; ++i) {
          if (h[i] == '\\' && i + 1 < n) ++i;
          value += h[i];
        }
        ++i;  // closing quote
      } else {
        while (i < n && h[i] != ',' && h[i] != ' ' && h[i] != '\t') value += h[i++];
      }
      if (!out.empty()) out.back().params[lower(token)] = value;
    } else {
      out.push_back(AuthChallenge{lower(token), {}});
    }
  }
  return out;
}

// --- DockerKeyring ---

bool registryKeyMatches(std::string_view glob, std::string_view target) {
  SchemelessUrl g = splitUrl(glob), t = splitUrl(target);
  if (g.port != t.port) return false;
  auto gl = splitDots(g.host), tl = splitDots(t.host);
  if (gl.size() != tl.size()) return false;
  for (size_t i = 0; i < gl.size(); ++i)
    if (::fnmatch(gl[i].c_str(), tl[i].c_str(), 0) != 0) return false;
  return t.path.starts_with(g.path);
}

void DockerKeyring::add(std::string_view registry_key, const RegistryAuth& auth) {
  // BasicDockerKeyring.Add: the key's host, plus its path unless that is
  // "/" or one of the API version prefixes "/v1/", "/v2/".
  SchemelessUrl u = splitUrl(registry_key);
  std::string path = u.path;
  if (path.starts_with("/v1/") || path.starts_with("/v2/")) path = path.substr(3);
  std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  if (!u.port.empty()) host += ":" + u.port;
  std::string key = (!path.empty() && path != "/") ? host + path : host;
  auto& list = creds_[key];
  if (std::find(list.begin(), list.end(), auth) == list.end()) list.push_back(auth);
  if (std::find(index_.begin(), index_.end(), key) == index_.end()) {
    index_.push_back(key);
    std::sort(index_.rbegin(), index_.rend());
  }
}

Status DockerKeyring::addAuthMap(const boost::json::object& auths) {
  for (const auto& [key, value] : auths) {
    BERTH_ASSIGN_OR_RETURN(RegistryAuth auth, parseConfigEntry(key, value));
    add(key, auth);
  }
  return okStatus();
}

Status DockerKeyring::addDockerConfigJson(std::string_view json) {
  BERTH_ASSIGN_OR_RETURN(auto root, parseJsonObject(json, ".dockerconfigjson"));
  auto it = root.find("auths");
  if (it == root.end()) return okStatus();
  if (!it->value().is_object())
    return makeError(ErrorCode::kInvalid, "invalid .dockerconfigjson: auths is not an object");
  return addAuthMap(it->value().as_object());
}

Status DockerKeyring::addDockerCfg(std::string_view json) {
  BERTH_ASSIGN_OR_RETURN(auto root, parseJsonObject(json, ".dockercfg"));
  return addAuthMap(root);
}

Status DockerKeyring::addSecret(const boost::json::object& secret) {
  auto str = [](const boost::json::object& o, std::string_view k) {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                    : std::string();
  };
  std::string type = str(secret, "type");
  auto data_it = secret.find("data");
  if (data_it == secret.end() || !data_it->value().is_object()) return okStatus();
  const auto& data = data_it->value().as_object();
  std::string key = type == "kubernetes.io/dockerconfigjson" ? ".dockerconfigjson"
                    : type == "kubernetes.io/dockercfg"      ? ".dockercfg"
                                                             : "";
  std::string encoded = key.empty() ? "" : str(data, key);
  if (encoded.empty()) return okStatus();
  std::string decoded;
  if (!api::base64Decode(encoded, &decoded))
    return makeError(ErrorCode::kInvalid, "secret data " + key + " is not valid base64");
  return key == ".dockercfg" ? addDockerCfg(decoded) : addDockerConfigJson(decoded);
}

std::vector<RegistryAuth> DockerKeyring::lookup(const ImageReference& ref) const {
  std::string image = ref.name();
  std::vector<RegistryAuth> out;
  for (const auto& key : index_) {
    if (!registryKeyMatches(key, image)) continue;
    for (const auto& a : creds_.at(key))
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  if (out.empty() && ref.domain == kDefaultDomain) {
    for (const char* alias : {"index.docker.io", "docker.io", "registry-1.docker.io"}) {
      auto it = creds_.find(alias);
      if (it != creds_.end()) return it->second;
    }
  }
  return out;
}

// --- RegistryClient ---

std::string registryErrorText(int status, std::string_view body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  std::string out;
  if (!ec && v.is_object()) {
    if (const auto* errs = v.as_object().if_contains("errors"); errs && errs->is_array()) {
      for (const auto& e : errs->as_array()) {
        if (!e.is_object()) continue;
        const auto& o = e.as_object();
        auto field = [&](std::string_view k) {
          const auto* x = o.if_contains(k);
          return x && x->is_string() ? std::string(x->get_string()) : std::string();
        };
        std::string code = lower(field("code")), msg = field("message");
        if (!out.empty()) out += "; ";
        out += code.empty() ? msg : msg.empty() || msg == code ? code : code + ": " + msg;
      }
    }
  }
  if (!out.empty()) return out;
  return "unexpected status " + std::to_string(status);
}

RegistryClient::RegistryClient(RegistryOptions options, std::shared_ptr<HttpTransport> transport)
    : options_(std::move(options)),
      transport_(transport ? std::move(transport) : std::shared_ptr(makeCurlTransport())),
      clock_(options_.clock ? options_.clock : &RealClock::instance()) {}

std::string RegistryClient::baseUrl(std::string_view domain) const {
  // Docker Hub's API endpoint is not the name images carry.
  std::string host = domain == kDefaultDomain ? "registry-1.docker.io" : std::string(domain);
  bool insecure = isLoopback(domain) || std::find(options_.insecure_registries.begin(),
                                                  options_.insecure_registries.end(),
                                                  domain) != options_.insecure_registries.end();
  return (insecure ? "http://" : "https://") + host;
}

std::string RegistryClient::manifestUrl(const ImageReference& repo,
                                        std::string_view tag_or_digest) const {
  return baseUrl(repo.domain) + "/v2/" + repo.path + "/manifests/" + std::string(tag_or_digest);
}

std::string RegistryClient::blobUrl(const ImageReference& repo, const Digest& digest) const {
  return baseUrl(repo.domain) + "/v2/" + repo.path + "/blobs/" + digest.str();
}

int RegistryClient::tokenFetches() const {
  std::lock_guard lk(mu_);
  return token_fetches_;
}

std::string RegistryClient::cacheKey(const ImageReference& repo, const RegistryAuth* auth) const {
  std::string who =
      auth ? Digest::of(auth->username + ":" + auth->password).hex() : std::string("anonymous");
  return repo.domain + "/" + repo.path + " " + who;
}

Result<RegistryClient::CachedAuth> RegistryClient::answerChallenge(const ImageReference& repo,
                                                                   const std::string& header,
                                                                   const RegistryAuth* auth) {
  auto challenges = parseWwwAuthenticate(header);
  auto basic = auth ? "Basic " + api::base64Encode(auth->username + ":" + auth->password) : "";
  for (const auto& c : challenges) {
    if (c.scheme != "bearer") continue;
    // The token flow of the distribution spec (docs/spec/auth/token.md).
    auto realm = c.params.find("realm");
    if (realm == c.params.end() ||
        !(realm->second.starts_with("https://") || realm->second.starts_with("http://")))
      return makeError(ErrorCode::kUnauthorized, "bearer challenge without an http(s) realm");
    auto scope_it = c.params.find("scope");
    std::string scope =
        scope_it != c.params.end() ? scope_it->second : "repository:" + repo.path + ":pull";
    std::string url = realm->second + (realm->second.find('?') == std::string::npos ? "?" : "&");
    auto service = c.params.find("service");
    if (service != c.params.end()) url += "service=" + percentEncode(service->second) + "&";
    url += "scope=" + percentEncode(scope);
    HttpRequest req{"GET", url, {}, true};
    if (auth) req.headers.push_back("Authorization: " + basic);
    {
      std::lock_guard lk(mu_);
      ++token_fetches_;
    }
    BERTH_ASSIGN_OR_RETURN(HttpResponse resp, transport_->send(req));
    BERTH_ASSIGN_OR_RETURN(std::string body, resp.readAll(1 << 20));
    if (resp.status != 200) {
      return makeError(resp.status == 401 || resp.status == 403 ? ErrorCode::kUnauthorized
                                                                : ErrorCode::kUnavailable,
                       "failed to fetch a bearer token from " + realm->second + ": " +
                           registryErrorText(resp.status, body));
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    std::string token;
    int64_t expires_in = 0;
    if (!ec && v.is_object()) {
      const auto& o = v.as_object();
      for (const char* k : {"token", "access_token"}) {
        if (const auto* t = o.if_contains(k); t && t->is_string() && token.empty())
          token = std::string(t->get_string());
      }
      if (const auto* e = o.if_contains("expires_in"); e && e->is_int64())
        expires_in = e->get_int64();
    }
    if (token.empty())
      return makeError(ErrorCode::kUnauthorized,
                       "token response from " + realm->second + " carries no token");
    // docker's minimum token lifetime is 60 seconds; a token is renewed
    // a little before it runs out.
    expires_in = std::max<int64_t>(expires_in, 60) - 5;
    return CachedAuth{"Authorization: Bearer " + token,
                      clock_->now() + std::chrono::seconds(expires_in)};
  }
  for (const auto& c : challenges) {
    if (c.scheme != "basic" || !auth) continue;
    return CachedAuth{"Authorization: " + basic, std::chrono::system_clock::time_point::max()};
  }
  return makeError(ErrorCode::kUnauthorized, "");
}

Result<HttpResponse> RegistryClient::authorizedSend(const ImageReference& repo, HttpRequest req,
                                                    const RegistryAuth* auth) {
  std::string key = cacheKey(repo, auth);
  {
    std::lock_guard lk(mu_);
    auto it = auth_cache_.find(key);
    if (it != auth_cache_.end() && clock_->now() < it->second.expires)
      req.headers.push_back(it->second.header);
  }
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, transport_->send(req));
  if (resp.status == 401) {
    std::string www = resp.header("www-authenticate");
    BERTH_ASSIGN_OR_RETURN(std::string body, resp.readAll(1 << 16));
    auto answer = answerChallenge(repo, www, auth);
    if (!answer.ok()) {
      Error e = std::move(answer).error();
      if (e.message.empty()) e.message = registryErrorText(401, body);
      return e;
    }
    {
      std::lock_guard lk(mu_);
      auth_cache_[key] = *answer;
    }
    std::erase_if(req.headers,
                  [](const std::string& h) { return lower(h.substr(0, 14)) == "authorization:"; });
    req.headers.push_back(answer->header);
    BERTH_ASSIGN_OR_RETURN(resp, transport_->send(req));
  }
  if ((resp.status >= 200 && resp.status < 300) || resp.status == 404) return resp;
  BERTH_ASSIGN_OR_RETURN(std::string body, resp.readAll(1 << 16));
  ErrorCode code = resp.status == 401   ? ErrorCode::kUnauthorized
                   : resp.status == 403 ? ErrorCode::kForbidden
                   : resp.status == 429 ? ErrorCode::kTooManyRequests
                   : resp.status >= 500 ? ErrorCode::kUnavailable
                                        : ErrorCode::kInternal;
  return makeError(code, registryErrorText(resp.status, body));
}

Result<FetchedManifest> RegistryClient::fetchManifest(const ImageReference& repo,
                                                      std::string_view ref,
                                                      const RegistryAuth* auth, bool head) {
  HttpRequest req{head ? "HEAD" : "GET", manifestUrl(repo, ref), {}, true};
  req.headers.push_back(
      "Accept: " + std::string(media::kOciIndex) + ", " + std::string(media::kOciManifest) + ", " +
      std::string(media::kDockerManifestList) + ", " + std::string(media::kDockerManifest));
  std::string what = repo.name() + (ref.starts_with("sha256:") ? "@" : ":") + std::string(ref);
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, authorizedSend(repo, req, auth));
  if (resp.status == 404) return makeError(ErrorCode::kNotFound, what + ": not found");
  FetchedManifest out;
  std::string content_type = resp.header("content-type");
  content_type = std::string(trim(content_type.substr(0, content_type.find(';'))));
  auto header_digest = Digest::parse(resp.header("docker-content-digest"));
  auto ref_digest = ref.starts_with("sha256:") ? Digest::parse(ref) : header_digest;
  if (head) {
    if (!ref_digest.ok())
      return makeError(ErrorCode::kInvalid, what + ": registry sent no Docker-Content-Digest");
    out.digest = *ref_digest;
    out.media_type = content_type;
    auto len = resp.header("content-length");
    out.size = len.empty() ? 0 : std::strtoll(len.c_str(), nullptr, 10);
    return out;
  }
  // containerd refuses manifests over 4 MiB as well.
  BERTH_ASSIGN_OR_RETURN(out.bytes, resp.readAll(4 << 20));
  out.digest = Digest::of(out.bytes);
  out.size = static_cast<int64_t>(out.bytes.size());
  if (ref_digest.ok() && *ref_digest != out.digest) {
    return makeError(ErrorCode::kInvalid, what + ": manifest digest mismatch: expected " +
                                              ref_digest->str() + ", got " + out.digest.str());
  }
  bool known = media::isManifest(content_type) || media::isIndex(content_type);
  out.media_type = sniffMediaType(out.bytes, known ? content_type : "");
  return out;
}

Result<FetchedManifest> RegistryClient::getManifest(const ImageReference& repo,
                                                    std::string_view tag_or_digest,
                                                    const RegistryAuth* auth) {
  return fetchManifest(repo, tag_or_digest, auth, false);
}

Result<FetchedManifest> RegistryClient::headManifest(const ImageReference& repo,
                                                     std::string_view tag_or_digest,
                                                     const RegistryAuth* auth) {
  return fetchManifest(repo, tag_or_digest, auth, true);
}

Result<HttpResponse> RegistryClient::openBlob(const ImageReference& repo, const Digest& digest,
                                              const RegistryAuth* auth) {
  BERTH_ASSIGN_OR_RETURN(
      HttpResponse resp,
      authorizedSend(repo, HttpRequest{"GET", blobUrl(repo, digest), {}, true}, auth));
  if (resp.status == 404) {
    return makeError(ErrorCode::kNotFound, repo.name() + "@" + digest.str() + ": blob not found");
  }
  return resp;
}

}  // namespace berth::runtime
