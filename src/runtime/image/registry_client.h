#pragma once

// A client of the OCI distribution API v2 (the Docker registry HTTP API):
// manifests and blobs of one repository, with the registry's token and basic
// authentication, over an HttpTransport (libcurl in production, a fake in
// unit tests). Credentials come from Kubernetes imagePullSecrets through a
// DockerKeyring that matches registry hosts the way the kubelet's
// credentialprovider.BasicDockerKeyring does.

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "runtime/image/digest.h"
#include "runtime/image/reference.h"

namespace berth::runtime {

// --- HTTP seam ---

struct HttpRequest {
  std::string method = "GET";  // GET or HEAD
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  bool follow_redirects = false;     // blobs: registries redirect to storage (S3, CDN)
};

// A response body, read as it arrives.
class HttpBody {
 public:
  virtual ~HttpBody() = default;
  // Fills up to `cap` bytes of `buf`; 0 at the end.
  virtual Result<size_t> read(char* buf, size_t cap) = 0;
};

struct HttpResponse {
  int status = 0;
  // Of the final response after redirects; names lowercased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::unique_ptr<HttpBody> body;  // never null for a successful send

  std::string header(std::string_view lower_name) const;
  // The whole body, or Invalid when it is longer than `limit` bytes.
  Result<std::string> readAll(size_t limit);
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends the request and returns once the final response's headers are in.
  // Transport failures (connection refused, TLS, timeouts) are Unavailable.
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

struct CurlOptions {
  std::string ca_file;  // extra CA bundle for https registries; empty: the system's
  long connect_timeout_seconds = 30;
  long stall_timeout_seconds = 60;  // a transfer below 1 byte/s this long is aborted
};

std::unique_ptr<HttpTransport> makeCurlTransport(const CurlOptions& options = {});

// --- credentials ---

struct RegistryAuth {
  std::string username, password;
  bool operator==(const RegistryAuth&) const = default;
};

// One challenge of a WWW-Authenticate header (RFC 7235): `Bearer
// realm="https://auth.docker.io/token",service="registry.docker.io",scope="..."`.
// Scheme lowercased, parameter names lowercased, quoted values unescaped.
struct AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
std::vector<AuthChallenge> parseWwwAuthenticate(std::string_view header);

// The kubelet's keyring of registry credentials (pkg/credentialprovider):
// keys of a .dockerconfigjson / .dockercfg are schemeless URLs; a key matches
// an image when its host labels glob-match the image's (same count, "*"
// within one label), the ports are equal and the key's path is a prefix of
// the image's path. "/v1/" and "/v2/" paths mean the host alone. Keys are
// tried longest first. Images on Docker Hub also use the credentials of
// index.docker.io (and, as docker does, docker.io and registry-1.docker.io)
// when no key matched.
class DockerKeyring {
 public:
  // The `auths` map of a .dockerconfigjson.
  Status addDockerConfigJson(std::string_view json);
  // The legacy .dockercfg: the same map without the "auths" wrapper.
  Status addDockerCfg(std::string_view json);
  // A Secret object (data values base64) of type kubernetes.io/dockerconfigjson
  // or kubernetes.io/dockercfg, as the kubelet's MakeDockerKeyring reads
  // imagePullSecrets; other types are ignored.
  Status addSecret(const boost::json::object& secret);
  void add(std::string_view registry_key, const RegistryAuth& auth);

  // Matching credentials, best first; empty when none match (pull anonymously).
  std::vector<RegistryAuth> lookup(const ImageReference& ref) const;
  bool empty() const { return creds_.empty(); }

 private:
  Status addAuthMap(const boost::json::object& auths);
  std::map<std::string, std::vector<RegistryAuth>> creds_;
  std::vector<std::string> index_;  // reverse-sorted keys
};

// True when the schemeless key `glob` ("*.example.com:5000/ns") matches `target`
// ("a.example.com:5000/ns/app"); upstream credentialprovider.URLsMatchStr.
bool registryKeyMatches(std::string_view glob, std::string_view target);

// --- the client ---

struct RegistryOptions {
  // host[:port] of registries reached over plain http. Loopback registries
  // (localhost, 127.0.0.0/8, [::1]) always are, as docker treats them.
  std::vector<std::string> insecure_registries;
  Clock* clock = nullptr;  // token expiry; null: the real clock
};

struct FetchedManifest {
  std::string bytes;       // empty for HEAD
  std::string media_type;  // Content-Type
  Digest digest;           // verified against `bytes` (GET) or Docker-Content-Digest (HEAD)
  int64_t size = 0;
};

class RegistryClient {
 public:
  explicit RegistryClient(RegistryOptions options = {},
                          std::shared_ptr<HttpTransport> transport = nullptr);

  // "https://registry-1.docker.io" for docker.io, "http://127.0.0.1:5000" for
  // a loopback or insecure registry.
  std::string baseUrl(std::string_view domain) const;
  // <base>/v2/<path>/manifests/<tag or digest>
  std::string manifestUrl(const ImageReference& repo, std::string_view tag_or_digest) const;
  // <base>/v2/<path>/blobs/<digest>
  std::string blobUrl(const ImageReference& repo, const Digest& digest) const;

  // Manifest, index or manifest list by tag or digest. A digest reference is
  // verified against the bytes; NotFound for MANIFEST_UNKNOWN / 404.
  Result<FetchedManifest> getManifest(const ImageReference& repo, std::string_view tag_or_digest,
                                      const RegistryAuth* auth);
  Result<FetchedManifest> headManifest(const ImageReference& repo, std::string_view tag_or_digest,
                                       const RegistryAuth* auth);
  // Opens a blob for streaming, following redirects.
  Result<HttpResponse> openBlob(const ImageReference& repo, const Digest& digest,
                                const RegistryAuth* auth);

  // Exposed for tests: the number of token requests made.
  int tokenFetches() const;

 private:
  struct CachedAuth {
    std::string header;  // "Authorization: ..."
    std::chrono::system_clock::time_point expires;
  };
  // Sends `req` for `repo`, answering 401 challenges once; 2xx responses
  // (and 404, for the caller's message) come back, other statuses are errors.
  Result<HttpResponse> authorizedSend(const ImageReference& repo, HttpRequest req,
                                      const RegistryAuth* auth);
  Result<CachedAuth> answerChallenge(const ImageReference& repo, const std::string& header,
                                     const RegistryAuth* auth);
  Result<FetchedManifest> fetchManifest(const ImageReference& repo, std::string_view ref,
                                        const RegistryAuth* auth, bool head);
  std::string cacheKey(const ImageReference& repo, const RegistryAuth* auth) const;

  RegistryOptions options_;
  std::shared_ptr<HttpTransport> transport_;
  Clock* clock_;
  mutable std::mutex mu_;
  // Per registry, repository scope and credential: a Bearer token or Basic
  // header, so that one pod's pull secret never authorizes another's pull.
  std::map<std::string, CachedAuth> auth_cache_;
  int token_fetches_ = 0;
};

// Formats a registry error response ({"errors":[{"code","message"}]}) as
// "unauthorized: authentication required"; falls back to the HTTP status.
std::string registryErrorText(int status, std::string_view body);

}  // namespace berth::runtime
