#include "apiserver/auth/authenticator.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace berth::apiserver::auth {
namespace {

std::array<unsigned char, 32> digestOf(std::string_view s) {
  std::array<unsigned char, 32> d;
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Extracts the token of "Bearer <token>" the way upstream's bearertoken
// authenticator does: scheme case-insensitive, surrounding blanks ignored;
// any other scheme or an empty token means "no bearer credential".
std::string_view bearerToken(std::string_view authorization) {
  authorization = trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  if (authorization[kScheme.size()] != ' ' && authorization[kScheme.size()] != '\t') return {};
  return trim(authorization.substr(kScheme.size()));
}

void addAuthenticatedGroup(UserInfo& user) {
  if (std::find(user.groups.begin(), user.groups.end(), kAuthenticatedGroup) == user.groups.end())
    user.groups.emplace_back(kAuthenticatedGroup);
}

// Splits one CSV line honouring double quotes (enough for the token file).
std::vector<std::string> splitCsv(std::string_view line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '"') {
      if (quoted && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

}  // namespace

void TokenAuthenticator::addToken(const std::string& token, UserInfo user) {
  addAuthenticatedGroup(user);
  entries_.push_back(Entry{digestOf(token), std::move(user)});
}

Status TokenAuthenticator::loadCsv(std::string_view contents) {
  size_t line_no = 0;
  while (!contents.empty()) {
    size_t nl = contents.find('\n');
    std::string_view line = trim(contents.substr(0, nl));
    contents = nl == std::string_view::npos ? std::string_view() : contents.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    auto fields = splitCsv(line);
    if (fields.size() < 2 || trim(fields[0]).empty() || trim(fields[1]).empty())
      return makeError(ErrorCode::kInvalid,
                       "token file line " + std::to_string(line_no) + ": want token,user[,uid[,groups]]");
    UserInfo user;
    user.name = std::string(trim(fields[1]));
    if (fields.size() >= 4) {
      std::string_view groups = fields[3];
      while (!groups.empty()) {
        size_t comma = groups.find(',');
        std::string_view g = trim(groups.substr(0, comma));
        if (!g.empty()) user.groups.emplace_back(g);
        groups = comma == std::string_view::npos ? std::string_view() : groups.substr(comma + 1);
      }
    }
    addToken(std::string(trim(fields[0])), std::move(user));
  }
  return okStatus();
}

AuthResult TokenAuthenticator::authenticate(const Credentials& credentials) const {
  std::string_view token = bearerToken(credentials.authorization);
  if (token.empty()) return {};
  auto digest = digestOf(token);
  const Entry* match = nullptr;
  // No early exit: every entry is compared so the time does not depend on
  // the position of the match.
  for (const auto& e : entries_)
    if (CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0) match = &e;
  AuthResult r;
  if (!match) {
    r.outcome = AuthOutcome::kRejected;
    r.reason = "invalid bearer token";
    return r;
  }
  r.outcome = AuthOutcome::kAuthenticated;
  r.user = match->user;
  return r;
}

AuthResult ClientCertAuthenticator::authenticate(const Credentials& credentials) const {
  AuthResult r;
  if (!credentials.peer || !credentials.peer->presented) return r;
  if (!credentials.peer->verified) {
    r.outcome = AuthOutcome::kRejected;
    r.reason = "client certificate not verified";
    return r;
  }
  if (credentials.peer->common_name.empty()) {
    // Upstream's CommonNameUserConversion rejects an empty CN.
    r.outcome = AuthOutcome::kRejected;
    r.reason = "client certificate has no common name";
    return r;
  }
  r.outcome = AuthOutcome::kAuthenticated;
  r.user.name = credentials.peer->common_name;
  r.user.groups = credentials.peer->organizations;
  addAuthenticatedGroup(r.user);
  return r;
}

AuthResult UnionAuthenticator::authenticate(const Credentials& credentials) const {
  AuthResult rejected;
  for (const auto& part : parts_) {
    AuthResult r = part->authenticate(credentials);
    if (r.outcome == AuthOutcome::kAuthenticated) return r;
    if (r.outcome == AuthOutcome::kRejected && rejected.outcome != AuthOutcome::kRejected) rejected = std::move(r);
  }
  return rejected;
}

}  // namespace berth::apiserver::auth
