#pragma once

// StorageClass helpers other components need: the default-class marker that
// the DefaultStorageClass admission plugin and the table printer use.

#include <boost/json.hpp>
#include <string>

namespace berth::api {

// storageutil.IsDefaultAnnotation: annotation
// storageclass.kubernetes.io/is-default-class (or the beta one) is "true".
bool isDefaultStorageClass(const boost::json::object& storage_class);

// The NAME cell upstream's printStorageClass shows: "<name> (default)" for
// the default class. The table code adds NAME itself, so it must call this
// for storageclasses to match kubectl's output.
std::string storageClassDisplayName(const boost::json::object& storage_class);

}  // namespace berth::api
