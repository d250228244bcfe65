#include "agent/pod_dns.h"

#include <algorithm>
#include <sstream>

#include "api/kinds/access.h"
#include "api/object.h"

namespace berth::agent {

namespace json = boost::json;
using api::arrAt;
using api::asObj;
using api::objAt;
using api::strAt;

namespace {

constexpr size_t kMaxNameservers = 3;
constexpr size_t kMaxSearches = 32;

void appendUnique(std::vector<std::string>* to, const std::string& v) {
  if (!v.empty() && std::find(to->begin(), to->end(), v) == to->end()) to->push_back(v);
}

std::string optionName(const std::string& o) { return o.substr(0, o.find(':')); }

}  // namespace

ResolvConf parseResolvConf(const std::string& text) {
  ResolvConf c;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find_first_of("#;"); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string key;
    if (!(fields >> key)) continue;
    std::string v;
    if (key == "nameserver") {
      if (fields >> v) c.nameservers.push_back(v);
    } else if (key == "search" || key == "domain") {
      c.searches.clear();  // the last search/domain line wins
      while (fields >> v) c.searches.push_back(v);
    } else if (key == "options") {
      while (fields >> v) c.options.push_back(v);
    }
  }
  return c;
}

std::string formatResolvConf(const ResolvConf& c) {
  std::string out;
  for (const auto& s : c.nameservers) out += "nameserver " + s + "\n";
  if (!c.searches.empty()) {
    out += "search";
    for (const auto& s : c.searches) out += " " + s;
    out += "\n";
  }
  if (!c.options.empty()) {
    out += "options";
    for (const auto& o : c.options) out += " " + o;
    out += "\n";
  }
  return out;
}

ResolvConf podResolvConf(const api::Object& pod, const ResolvConf& host, const ClusterDns& dns,
                         std::string* warning) {
  const bool host_network = api::boolAt(pod, {"spec", "hostNetwork"}).value_or(false);
  std::string policy = strAt(pod, {"spec", "dnsPolicy"}, "ClusterFirst");
  // ClusterFirst for a host-network pod is Default; ClusterFirstWithHostNet
  // is ClusterFirst for any pod.
  bool cluster_first =
      policy == "ClusterFirstWithHostNet" || (policy == "ClusterFirst" && !host_network);
  ResolvConf out;
  if (policy == "None") {
    // Only dnsConfig.
  } else if (cluster_first && !dns.servers.empty()) {
    const std::string ns = api::namespaceOf(pod);
    out.nameservers = dns.servers;
    out.searches = {ns + ".svc." + dns.domain, "svc." + dns.domain, dns.domain};
    for (const auto& s : host.searches) appendUnique(&out.searches, s);
    out.options = {"ndots:5"};
  } else {
    if (cluster_first && warning)
      *warning = "pod: \"" + api::name(pod) + "_" + api::namespaceOf(pod) +
                 "\". kubelet does not have ClusterDNS IP configured and cannot create Pod using "
                 "\"ClusterFirst\" policy. Falling back to \"Default\" policy.";
    out = host;
  }
  // dnsConfig: nameservers and searches appended, options merged by name.
  if (const json::object* cfg = objAt(pod, {"spec", "dnsConfig"})) {
    if (const json::array* ns = arrAt(*cfg, {"nameservers"}))
      for (const auto& v : *ns)
        if (v.is_string()) appendUnique(&out.nameservers, std::string(v.get_string()));
    if (const json::array* ss = arrAt(*cfg, {"searches"}))
      for (const auto& v : *ss)
        if (v.is_string()) appendUnique(&out.searches, std::string(v.get_string()));
    if (const json::array* os = arrAt(*cfg, {"options"}))
      for (const auto& v : *os) {
        const json::object* o = asObj(&v);
        if (!o) continue;
        std::string name = strAt(*o, {"name"});
        std::string value = strAt(*o, {"value"});
        std::string opt = value.empty() ? name : name + ":" + value;
        auto it = std::find_if(out.options.begin(), out.options.end(),
                               [&](const std::string& e) { return optionName(e) == name; });
        if (it != out.options.end())
          *it = opt;
        else
          out.options.push_back(opt);
      }
  }
  if (out.nameservers.size() > kMaxNameservers) out.nameservers.resize(kMaxNameservers);
  if (out.searches.size() > kMaxSearches) out.searches.resize(kMaxSearches);
  return out;
}

std::string podHostname(const api::Object& pod) {
  std::string h = strAt(pod, {"spec", "hostname"});
  if (h.empty()) h = api::name(pod);
  if (h.size() > 63) h.resize(63);
  while (!h.empty() && (h.back() == '-' || h.back() == '.')) h.pop_back();
  return h;
}

std::string podHostsFile(const api::Object& pod, const std::string& pod_ip,
                         const std::string& cluster_domain, const std::string& host_hosts) {
  std::string out;
  if (api::boolAt(pod, {"spec", "hostNetwork"}).value_or(false)) {
    out = "# Kubernetes-managed hosts file (host network).\n" + host_hosts;
    if (!out.empty() && out.back() != '\n') out += '\n';
  } else {
    out =
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n";
    if (!pod_ip.empty()) {
      std::string hostname = podHostname(pod);
      std::string subdomain = strAt(pod, {"spec", "subdomain"});
      if (!subdomain.empty())
        out += pod_ip + "\t" + hostname + "." + subdomain + "." + api::namespaceOf(pod) + ".svc." +
               cluster_domain + "\t" + hostname + "\n";
      else
        out += pod_ip + "\t" + hostname + "\n";
    }
  }
  if (const json::array* aliases = arrAt(pod, {"spec", "hostAliases"});
      aliases && !aliases->empty()) {
    out += "\n# Entries added by HostAliases.\n";
    for (const auto& a : *aliases) {
      const json::object* o = asObj(&a);
      if (!o) continue;
      std::string line = strAt(*o, {"ip"}) + "\t";
      bool first = true;
      if (const json::array* names = arrAt(*o, {"hostnames"}))
        for (const auto& n : *names)
          if (n.is_string()) {
            line += (first ? "" : "\t") + std::string(n.get_string());
            first = false;
          }
      out += line + "\n";
    }
  }
  return out;
}

}  // namespace berth::agent
