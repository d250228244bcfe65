#include "apiserver/kubeconfig.h"

#include <boost/asio/ip/address.hpp>

#include "apiserver/auth/certs.h"

namespace berth::apiserver {

std::string base64Encode(std::string_view data) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(data[k])); };
  for (; i + 2 < data.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == data.size()) {
    unsigned v = byte(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string kubeconfigServerUrl(const std::string& host, int port) {
  std::string h = host.empty() ? "0.0.0.0" : host;
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(h, ec);
  if (!ec && addr.is_unspecified()) h = addr.is_v6() ? "::1" : "127.0.0.1";
  bool v6 = !ec ? addr.is_v6() : h.find(':') != std::string::npos;
  if (v6 && h.front() != '[') h = "[" + h + "]";
  return "https://" + h + ":" + std::to_string(port);
}

namespace {

// Double-quoted YAML scalar; enough for names, URLs and tokens.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string renderKubeconfig(const KubeconfigOptions& o) {
  std::string y;
  y += "apiVersion: v1\n";
  y += "kind: Config\n";
  y += "clusters:\n";
  y += "- name: " + quoted(o.cluster_name) + "\n";
  y += "  cluster:\n";
  y += "    server: " + quoted(kubeconfigServerUrl(o.host, o.port)) + "\n";
  y += "    certificate-authority-data: " + base64Encode(o.ca_pem) + "\n";
  y += "users:\n";
  y += "- name: " + quoted(o.user_name) + "\n";
  y += "  user:\n";
  if (!o.token.empty()) y += "    token: " + quoted(o.token) + "\n";
  if (!o.client_cert_pem.empty()) {
    y += "    client-certificate-data: " + base64Encode(o.client_cert_pem) + "\n";
    y += "    client-key-data: " + base64Encode(o.client_key_pem) + "\n";
  }
  y += "contexts:\n";
  y += "- name: " + quoted(o.context_name) + "\n";
  y += "  context:\n";
  y += "    cluster: " + quoted(o.cluster_name) + "\n";
  y += "    user: " + quoted(o.user_name) + "\n";
  y += "current-context: " + quoted(o.context_name) + "\n";
  y += "preferences: {}\n";
  return y;
}

Status writeKubeconfig(const std::string& path, const KubeconfigOptions& options) {
  return auth::writeFileAtomic(path, renderKubeconfig(options), 0600);
}

}  // namespace berth::apiserver
