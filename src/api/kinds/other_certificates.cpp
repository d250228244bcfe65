// certificates.k8s.io/v1 CertificateSigningRequest: validation after
// pkg/apis/certificates/validation/validation.go, strategy after
// pkg/registry/certificates/certificates/strategy.go, table after
// printCertificateSigningRequest in pkg/printers/internalversion/printers.go.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>

#include "api/kind.h"
#include "api/kinds/access.h"
#include "api/kinds/other_internal.h"
#include "api/kinds/printing.h"
#include "api/validation.h"
#include "common/clock.h"

namespace berth::api {

namespace json = boost::json;

namespace {

const json::object& orEmpty(const json::object* o) {
  static const json::object kEmpty;
  return o ? *o : kEmpty;
}

// certificates.KeyUsage values (sorted, as sets.List prints them).
const std::vector<std::string>& allValidUsages() {
  static const std::vector<std::string> kUsages = [] {
    std::vector<std::string> u = {"signing", "digital signature", "content commitment", "key encipherment",
                                  "key agreement", "data encipherment", "cert sign", "crl sign", "encipher only",
                                  "decipher only", "any", "server auth", "client auth", "code signing",
                                  "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user",
                                  "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc"};
    std::sort(u.begin(), u.end());
    return u;
  }();
  return kUsages;
}

std::optional<std::string> base64Decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : in) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return std::nullopt;
    int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (pad > 2) return std::nullopt;
  return out;
}

// Go's %#v of a []byte, which field.Invalid prints for spec.request.
std::string goBytesRepr(const std::string& bytes) {
  if (bytes.empty()) return "[]byte(nil)";
  std::string out = "[]byte{";
  char buf[8];
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::snprintf(buf, sizeof buf, "0x%x", static_cast<unsigned char>(bytes[i]));
    if (i) out += ", ";
    out += buf;
  }
  return out + "}";
}

// certificates.ParseCSR's first step, pem.Decode: the first PEM block must be
// a CERTIFICATE REQUEST with a base64 body.
// TODO(berth): parse the DER request and check its signature
// (x509.CertificateRequest.CheckSignature) once berth_api may link OpenSSL.
std::string csrRequestError(const std::string& pem) {
  const std::string kErr = "PEM block type must be CERTIFICATE REQUEST";
  size_t begin = pem.find("-----BEGIN ");
  if (begin == std::string::npos) return kErr;
  size_t type_end = pem.find("-----", begin + 11);
  if (type_end == std::string::npos) return kErr;
  std::string type = pem.substr(begin + 11, type_end - (begin + 11));
  std::string end_marker = "-----END " + type + "-----";
  size_t end = pem.find(end_marker, type_end + 5);
  if (end == std::string::npos) return kErr;
  if (type != "CERTIFICATE REQUEST") return kErr;
  std::string body;
  for (size_t i = type_end + 5; i < end; ++i)
    if (!std::isspace(static_cast<unsigned char>(pem[i]))) body.push_back(pem[i]);
  auto der = base64Decode(body);
  if (!der || der->empty()) return kErr;
  // A DER SEQUENCE is where an x509 CertificateRequest starts.
  if (static_cast<unsigned char>((*der)[0]) != 0x30) return "asn1: structure error: tags don't match";
  return "";
}

// ValidateSignerName.
void validateSignerName(const std::string& path, const std::string& signer, FieldErrors& errs) {
  if (signer.empty()) {
    errs.required(path);
    return;
  }
  size_t slash = signer.find('/');
  if (slash == std::string::npos || signer.find('/', slash + 1) != std::string::npos) {
    errs.invalid(path, FieldErrors::quote(signer),
                 "must be a fully qualified domain and path of the form 'example.com/signer-name'");
    return;
  }
  std::string domain = signer.substr(0, slash), rest = signer.substr(slash + 1);
  if (domain.size() > 253) errs.tooLong(path, FieldErrors::quote(domain), 253);
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      size_t dot = s.find('.', start);
      parts.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return parts;
  };
  auto labels = split(domain);
  for (const auto& l : labels) {
    auto msgs = isDns1123Label(l);
    for (const auto& m : msgs)
      errs.invalid(path, FieldErrors::quote(domain), "validating label " + FieldErrors::quote(l) + ": " + m);
    if (!msgs.empty()) break;
  }
  if (labels.size() < 2)
    errs.invalid(path, FieldErrors::quote(domain), "should be a domain with at least two segments separated by dots");
  for (const auto& l : split(rest)) {
    auto msgs = isDns1123Subdomain(l);
    for (const auto& m : msgs)
      errs.invalid(path, FieldErrors::quote(rest), "validating label " + FieldErrors::quote(l) + ": " + m);
    if (!msgs.empty()) break;
  }
  if (signer.size() > 253 + 63 + 1) errs.tooLong(path, FieldErrors::quote(signer), 253 + 63 + 1);
}

void validateCsr(const json::object& obj, const json::object* old, FieldErrors& errs) {
  validateObjectMeta(obj, old, false, NameRule::kDns1123Subdomain, errs);
  const json::object& spec = orEmpty(objAt(obj, {"spec"}));
  std::string request_b64 = strAt(spec, {"request"});
  std::string request = base64Decode(request_b64).value_or("");
  if (std::string err = csrRequestError(request); !err.empty())
    errs.invalid("spec.request", goBytesRepr(request), err);
  const json::array* usages = arrAt(spec, {"usages"});
  if (!usages || usages->empty()) errs.required("spec.usages");
  if (usages) {
    const auto& valid = allValidUsages();
    std::set<std::string> seen;
    for (size_t i = 0; i < usages->size(); ++i) {
      std::string u = asStr(&(*usages)[i]);
      std::string p = "spec.usages[" + std::to_string(i) + "]";
      if (std::find(valid.begin(), valid.end(), u) == valid.end()) errs.notSupported(p, FieldErrors::quote(u), valid);
      if (!seen.insert(u).second) errs.duplicate(p, FieldErrors::quote(u));
    }
  }
  std::string signer = strAt(spec, {"signerName"});
  if (signer == "kubernetes.io/legacy-unknown")
    errs.invalid("spec.signerName", FieldErrors::quote(signer), "the legacy signerName is not allowed via this API version");
  else
    validateSignerName("spec.signerName", signer, errs);
  if (auto secs = intAt(spec, {"expirationSeconds"}); secs && *secs < 600)
    errs.invalid("spec.expirationSeconds", std::to_string(*secs),
                 "may not specify a duration less than 600 seconds (10 minutes)");
}

// extractCSRStatus.
std::string csrCondition(const json::object& obj) {
  bool approved = false, denied = false, failed = false;
  if (const json::array* conds = arrAt(obj, {"status", "conditions"}))
    for (const auto& c : *conds) {
      std::string type = strAt(orEmpty(asObj(&c)), {"type"});
      if (type == "Approved") approved = true;
      else if (type == "Denied") denied = true;
      else if (type == "Failed") failed = true;
    }
  std::string status = denied ? "Denied" : approved ? "Approved" : "Pending";
  if (failed) status += ",Failed";
  if (!strAt(obj, {"status", "certificate"}).empty()) status += ",Issued";
  return status;
}

}  // namespace

void registerCertificateKinds(KindRegistry& r) {
  KindInfo k;
  k.group = "certificates.k8s.io";
  k.version = "v1";
  k.kind = "CertificateSigningRequest";
  k.resource = "certificatesigningrequests";
  k.singular = "certificatesigningrequest";
  k.namespaced = false;
  k.short_names = {"csr"};
  k.has_status = true;
  k.schema_type = "certificates.v1.CertificateSigningRequest";
  k.validate = validateCsr;
  // csrStrategy.PrepareForUpdate: the main resource cannot change the
  // request or its status; only metadata is updatable there.
  k.prepare = [](Object& obj, const Object* old) {
    if (!old) return;
    for (const char* key : {"spec", "status"}) {
      if (const json::value* v = old->if_contains(key)) obj[key] = *v;
      else obj.erase(key);
    }
  };
  k.columns = {ageColumn(),
               column("SignerName", "string",
                      "signerName indicates the requested signer, and is a qualified name."),
               column("Requestor", "string", "request contains an x509 certificate signing request encoded in a "
                                             "\"CERTIFICATE REQUEST\" PEM block."),
               column("RequestedDuration", "string",
                      "expirationSeconds is the requested duration of validity of the issued certificate."),
               column("Condition", "string", "conditions applied to the request. Known conditions are \"Approved\", "
                                             "\"Denied\", and \"Failed\".")};
  k.cells = [](const Object& obj, const KindContext& ctx) {
    std::string signer = strAt(obj, {"spec", "signerName"});
    std::string duration = "<none>";
    if (auto secs = intAt(obj, {"spec", "expirationSeconds"}))
      duration = humanDuration(std::chrono::seconds(*secs));
    return json::array{ageCell(obj, ctx), signer.empty() ? "<none>" : signer, strAt(obj, {"spec", "username"}),
                       duration, csrCondition(obj)};
  };
  k.selectable_fields = [](const Object& obj) {
    return std::map<std::string, std::string>{{"spec.signerName", strAt(obj, {"spec", "signerName"})}};
  };
  r.add(std::move(k));
}

}  // namespace berth::api
