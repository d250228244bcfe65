#pragma once

// events.k8s.io/v1 Event: served from the same stored objects as core/v1
// Event (storage resource "events"). Upstream keeps one internal Event type;
// berth stores the core/v1 JSON form and converts at the edge, with the field
// mapping of pkg/apis/events/v1/conversion.go:
//   regarding <-> involvedObject, note <-> message,
//   deprecatedSource <-> source, deprecatedFirstTimestamp <-> firstTimestamp,
//   deprecatedLastTimestamp <-> lastTimestamp, deprecatedCount <-> count,
//   reportingController <-> reportingComponent;
// eventTime, series, reportingInstance, action, reason, related, type and
// metadata carry over unchanged.

#include <boost/json.hpp>

#include "api/field_errors.h"
#include "api/kind.h"

namespace berth::api {

// events.k8s.io/v1 JSON -> core/v1 JSON (apiVersion "v1").
boost::json::object eventsV1ToCore(const boost::json::object& ev);
// core/v1 JSON -> events.k8s.io/v1 JSON (apiVersion "events.k8s.io/v1").
boost::json::object coreToEventsV1(const boost::json::object& ev);

// ValidateEventCreate / ValidateEventUpdate for requests through
// events.k8s.io/v1 (the strict rules), on objects in core/v1 form. Field
// paths are upstream's (mostly core names, as upstream validates the
// internal type).
void validateEventsV1Event(const boost::json::object& core_event, const boost::json::object* old_core_event,
                           FieldErrors& errs);

// Table cells of upstream's printEvent for a core/v1 Event, and its columns
// (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE; wide: SUBOBJECT, SOURCE,
// FIRST SEEN, COUNT, NAME).
std::vector<PrinterColumn> eventColumns();
boost::json::array eventCells(const boost::json::object& core_event, const KindContext& ctx);

// Registers events.k8s.io/v1 Event. If core/v1 Event is already registered,
// its table columns and cells are reused so both APIs print alike.
void registerEventsV1Kind(KindRegistry& r);

}  // namespace berth::api
