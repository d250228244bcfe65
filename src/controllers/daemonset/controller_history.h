#pragma once

// ControllerRevisions (apps/v1), the history of a DaemonSet's or
// StatefulSet's pod template, after upstream's pkg/controller/history
// (NewControllerRevision, HashControllerRevision, ControllerRevisionName,
// EqualRevision, FindEqualRevisions, SortControllerRevisions, realHistory)
// and controller.ComputeHash.
//
// A revision's data is the strategic merge patch that restores the owner's
// template: {"spec":{"template":{...,"$patch":"replace"}}}. Hashes are FNV
// over a canonical serialization of the JSON (keys sorted), so the same
// template always hashes the same; the values differ from upstream's (which
// hashes Go structs), which only matters for names, never for behaviour.
//
// Shared by the DaemonSet and StatefulSet controllers; a candidate for
// src/controllers/.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/selector.h"
#include "client/client.h"
#include "client/informer.h"

namespace berth::controllers {

// apps.ControllerRevisionHashLabelKey / DefaultDaemonSetUniqueLabelKey /
// StatefulSetRevisionLabel: the label on pods and revisions.
inline constexpr char kControllerRevisionHashLabel[] = "controller-revision-hash";

// JSON with object keys sorted, recursively: the input of the hashes.
std::string canonicalJson(const boost::json::value& v);

// rand.SafeEncodeString: maps every byte onto "bcdfghjklmnpqrstvwxz2456789"
// so hashes contain no vowels (no accidental words) and are DNS-safe.
std::string safeEncodeString(const std::string& s);

// controller.ComputeHash: FNV-32a over the template, then the collision
// count (when set) as 8 little-endian bytes, safe-encoded decimal.
std::string computeTemplateHash(const boost::json::value& tmpl,
                                std::optional<int32_t> collision_count);

// history.HashControllerRevision: FNV-32 over the revision's data, then the
// collision count (when set) in decimal, safe-encoded decimal.
std::string hashControllerRevision(const api::Object& revision,
                                   std::optional<int32_t> collision_count);

// ControllerRevisionName: "<prefix>-<hash>", the prefix cut to 223
// characters so the name stays a valid DNS subdomain.
std::string controllerRevisionName(const std::string& prefix, const std::string& hash);

// getPatch of the DaemonSet and StatefulSet controllers.
boost::json::object templatePatch(const api::Object& owner);
// ApplyRevision: `owner` with spec.template replaced by the revision's.
api::Object applyRevision(const api::Object& owner, const api::Object& revision);

// NewControllerRevision: labels = `labels` + the hash label, one controller
// reference to `parent`, the given data and revision number, named
// "<parent>-<hash>" (hashControllerRevision).
api::Object newControllerRevision(const api::Object& parent, const api::KindInfo& parent_kind,
                                  const boost::json::object& labels, boost::json::value data,
                                  int64_t revision, std::optional<int32_t> collision_count);

int64_t revisionNumber(const api::Object& revision);
// EqualRevision: the same data (the hash labels, when both parse, first).
bool equalRevision(const api::Object& a, const api::Object& b);
// FindEqualRevisions.
std::vector<client::ObjectPtr> findEqualRevisions(const std::vector<client::ObjectPtr>& revisions,
                                                  const api::Object& needle);
// SortControllerRevisions: by revision number, then creation time, then name.
void sortRevisions(std::vector<client::ObjectPtr>& revisions);
// nextRevision: one more than the last of sorted `revisions` (1 when none).
int64_t nextRevision(const std::vector<client::ObjectPtr>& revisions);

// realHistory: writes through the client.
class RevisionHistory {
 public:
  explicit RevisionHistory(client::Client& client) : client_(client) {}

  // CreateControllerRevision: creates `revision` named after `parent` and the
  // hash; on a name collision with different data bumps *collision_count
  // and tries the next name; an existing revision with the same data is
  // returned as is.
  Result<client::ObjectPtr> create(const api::Object& parent, const api::Object& revision,
                                   int32_t* collision_count);
  // UpdateControllerRevision: sets the revision number (retrying on
  // conflict with a fresh read).
  Result<client::ObjectPtr> updateRevision(const api::Object& revision, int64_t new_revision);
  Status remove(const api::Object& revision);

 private:
  client::Client& client_;
};

}  // namespace berth::controllers
