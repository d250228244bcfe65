#include "runtime/image/reference.h"

#include "runtime/image/digest.h"

namespace berth::runtime {
namespace {

constexpr size_t kNameTotalLengthMax = 255;

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isAlnum(char c) { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool isWord(char c) { return isAlnum(c) || c == '_'; }

Error invalid(std::string message) {
  return makeError(ErrorCode::kInvalid, "invalid reference format: " + std::move(message));
}

// path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*, separator := [_.] | "__" | "-"+
bool validPathComponent(std::string_view c) {
  size_t i = 0;
  auto alnumRun = [&] {
    size_t start = i;
    while (i < c.size() && isLowerAlnum(c[i])) ++i;
    return i > start;
  };
  if (!alnumRun()) return false;
  while (i < c.size()) {
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnumRun()) return false;
  }
  return true;
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool validDomainComponent(std::string_view c) {
  if (c.empty() || !isAlnum(c.front()) || !isAlnum(c.back())) return false;
  for (char ch : c) {
    if (!isAlnum(ch) && ch != '-') return false;
  }
  return true;
}

bool validDomain(std::string_view d) {
  std::string_view host = d;
  // Port: the last ':' outside an IPv6 bracket.
  size_t bracket_end = d.rfind(']');
  size_t colon = d.rfind(':');
  if (colon != std::string_view::npos &&
      (bracket_end == std::string_view::npos || colon > bracket_end)) {
    std::string_view port = d.substr(colon + 1);
    if (port.empty()) return false;
    for (char ch : port) {
      if (ch < '0' || ch > '9') return false;
    }
    host = d.substr(0, colon);
  }
  if (host.empty()) return false;
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return false;
    for (char ch : host.substr(1, host.size() - 2)) {
      bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
      if (!hex && ch != ':') return false;
    }
    return true;
  }
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    if (!validDomainComponent(host.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool validTag(std::string_view t) {
  if (t.empty() || t.size() > 128 || !isWord(t.front())) return false;
  for (char ch : t) {
    if (!isWord(ch) && ch != '.' && ch != '-') return false;
  }
  return true;
}

bool hasUpper(std::string_view s) {
  for (char ch : s) {
    if (ch >= 'A' && ch <= 'Z') return true;
  }
  return false;
}

}  // namespace

std::string ImageReference::str() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string ImageReference::familiar() const {
  std::string out;
  if (domain == kDefaultDomain) {
    out = path.rfind("library/", 0) == 0 && path.find('/', 8) == std::string::npos ? path.substr(8)
                                                                                   : path;
  } else {
    out = name();
  }
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<ImageReference> parseReference(std::string_view s) {
  if (s.empty()) return invalid("repository name must have at least one component");
  if (isSha256Hex(s)) {
    return makeError(ErrorCode::kInvalid, "invalid repository name (" + std::string(s) +
                                              "), cannot specify 64-byte hexadecimal strings");
  }
  ImageReference ref;
  std::string_view rest = s;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto digest = Digest::parse(rest.substr(at + 1));
    if (!digest.ok()) return invalid(digest.error().message);
    ref.digest = digest->str();
    rest = rest.substr(0, at);
  }
  // The tag is after the last ':' that follows the last '/', so that
  // "registry:5000/app" has a port and no tag.
  size_t last_slash = rest.rfind('/');
  size_t last_colon = rest.rfind(':');
  if (last_colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || last_colon > last_slash)) {
    std::string_view tag = rest.substr(last_colon + 1);
    if (!validTag(tag))
      return invalid("invalid tag \"" + std::string(tag) + "\" in " + std::string(s));
    ref.tag = std::string(tag);
    rest = rest.substr(0, last_colon);
  }
  if (rest.empty()) return invalid("repository name must have at least one component");

  // splitDockerDomain.
  std::string_view remainder = rest;
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    bool is_domain = first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
                     hasUpper(first);
    if (is_domain) {
      if (!validDomain(first)) {
        return invalid("invalid domain \"" + std::string(first) + "\" in " + std::string(s));
      }
      ref.domain = std::string(first);
      remainder = rest.substr(slash + 1);
    }
  }
  if (ref.domain.empty() || ref.domain == "index.docker.io")
    ref.domain = std::string(kDefaultDomain);
  if (remainder.empty()) return invalid("repository name must have at least one component");
  if (hasUpper(remainder)) {
    return invalid("repository name (" + std::string(remainder) + ") must be lowercase");
  }
  size_t start = 0;
  while (true) {
    size_t next = remainder.find('/', start);
    std::string_view comp = remainder.substr(start, next - start);
    if (!validPathComponent(comp)) {
      return invalid("invalid path component \"" + std::string(comp) + "\" in " + std::string(s));
    }
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  ref.path = std::string(remainder);
  if (ref.domain == kDefaultDomain && ref.path.find('/') == std::string::npos) {
    ref.path = "library/" + ref.path;
  }
  if (ref.name().size() > kNameTotalLengthMax) {
    return invalid("repository name must not be more than 255 characters");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = std::string(kDefaultTag);
  return ref;
}

}  // namespace berth::runtime
