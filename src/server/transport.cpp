#include "server/transport.h"

#include "apiserver/auth/authenticator.h"
#include "apiserver/auth/certs.h"
#include "apiserver/http_server.h"
#include "apiserver/kubeconfig.h"

namespace berth::server {

namespace {

// The host part of ADDR:PORT ("[::1]:6443" too).
std::string listenHost(const std::string& listen) {
  auto parsed = apiserver::parseListenAddress(listen);
  return parsed.ok() ? parsed->first : std::string();
}

// HttpServer takes a shared_ptr<Handler>; the ApiServer is owned by the
// ClusterServer and outlives the transport, so this only forwards.
class ForwardingHandler : public apiserver::Handler {
 public:
  explicit ForwardingHandler(apiserver::Handler& target) : target_(target) {}
  void handle(apiserver::Request request, std::shared_ptr<apiserver::Responder> responder) override {
    target_.handle(std::move(request), std::move(responder));
  }

 private:
  apiserver::Handler& target_;
};

class HttpTransport : public Transport {
 public:
  explicit HttpTransport(std::unique_ptr<apiserver::HttpServer> server) : server_(std::move(server)) {}
  int port() const override { return server_->port(); }
  void stop() override { server_->stop(); }

 private:
  std::unique_ptr<apiserver::HttpServer> server_;
};

}  // namespace

Result<TransportCredentials> prepareCredentials(const ServerConfig& config) {
  std::vector<std::string> ips;
  std::string host = listenHost(config.listen);
  if (!host.empty()) ips.push_back(host);
  if (!config.advertise_address.empty()) ips.push_back(config.advertise_address);
  auto sans = apiserver::auth::defaultServingSans(ips);
  BERTH_ASSIGN_OR_RETURN(auto creds, apiserver::auth::ensureClusterCredentials(config.data_dir, sans));
  TransportCredentials out;
  out.ca_pem = creds.ca.cert_pem;
  out.admin_token = creds.admin_token;
  out.node_token = creds.node_token;
  out.cert_path = creds.server_cert_path;
  out.key_path = creds.server_key_path;
  return out;
}

Result<std::unique_ptr<Transport>> startTransport(const ServerConfig& config, const TransportCredentials& creds,
                                                  apiserver::Handler& handler) {
  auto tokens = std::make_shared<apiserver::auth::TokenAuthenticator>();
  apiserver::UserInfo admin;
  admin.name = "admin";
  admin.groups = {"system:masters", std::string(apiserver::auth::kAuthenticatedGroup)};
  tokens->addToken(creds.admin_token, admin);
  // Upstream's kubelets are system:node:<name> in system:nodes; one agent
  // serves many (hollow) nodes, so one identity. No RBAC yet: it may do
  // what the admin may.
  apiserver::UserInfo agent;
  agent.name = "system:berth-agent";
  agent.groups = {"system:nodes", std::string(apiserver::auth::kAuthenticatedGroup)};
  tokens->addToken(creds.node_token, agent);
  apiserver::HttpServerOptions options;
  options.listen = config.listen;
  options.cert_file = creds.cert_path;
  options.key_file = creds.key_path;
  options.client_ca_pem = creds.ca_pem;
  options.io_threads = config.io_threads;
  options.handler_threads = config.handler_threads;
  options.authenticator = std::make_shared<apiserver::auth::UnionAuthenticator>(
      std::vector<std::shared_ptr<const apiserver::auth::Authenticator>>{
          tokens, std::make_shared<apiserver::auth::ClientCertAuthenticator>()});
  auto server = std::make_unique<apiserver::HttpServer>(options, std::make_shared<ForwardingHandler>(handler));
  auto port = server->start();
  if (!port.ok()) return port.error();
  return std::unique_ptr<Transport>(new HttpTransport(std::move(server)));
}

Result<std::string> writeAdminKubeconfig(const ServerConfig& config, const TransportCredentials& creds, int port) {
  apiserver::KubeconfigOptions k;
  std::string host = listenHost(config.listen);
  // A wildcard listener is reached on loopback from this machine.
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  k.host = host;
  k.port = port;
  k.ca_pem = creds.ca_pem;
  k.token = creds.admin_token;
  std::string path = config.data_dir + "/kubeconfig.yaml";
  BERTH_RETURN_IF_ERROR(apiserver::writeKubeconfig(path, k));
  return path;
}

}  // namespace berth::server
