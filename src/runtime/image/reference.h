#pragma once

// Image references ("busybox", "registry:5000/a/b:tag", "name@sha256:...")
// parsed and normalized the way Docker and containerd do it, following the
// grammar of github.com/distribution/reference:
//
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] path-component [ "/" path-component ]*
//   domain     := host [ ":" port ]      (host: DNS labels or "[" IPv6 "]")
//   path-comp  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//
// Normalization (ParseNormalizedNamed + TagNameOnly): a first component that
// has no "." or ":" and is not "localhost" (or has upper case) is not a
// domain, so the domain becomes "docker.io"; "index.docker.io" is
// "docker.io"; a one-component Docker Hub path gets "library/"; a reference
// with neither tag nor digest gets ":latest".

#include <string>
#include <string_view>

#include "common/result.h"

namespace berth::runtime {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";

struct ImageReference {
  std::string domain;  // "docker.io", "registry:5000", "127.0.0.1:5000"
  std::string path;    // "library/busybox", "a/b"
  std::string tag;     // "latest"; empty only when a digest is given without a tag
  std::string digest;  // "sha256:<hex>" or empty

  // "docker.io/library/busybox"
  std::string name() const { return domain + "/" + path; }
  // The full normalized reference: name[:tag][@digest].
  std::string str() const;
  // The short form Docker prints: "busybox:latest", "user/app:1", "registry:5000/a/b:tag".
  std::string familiar() const;
};

// Parses and normalizes `s`. Errors are Invalid with the upstream wording
// ("invalid reference format: repository name (x) must be lowercase", ...).
Result<ImageReference> parseReference(std::string_view s);

}  // namespace berth::runtime
