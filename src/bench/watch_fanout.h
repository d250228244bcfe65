#pragma once

#include <memory>
#include <string>
#include <vector>

#include "client/https_client.h"

namespace berth::bench {

struct FanoutResult {
  int watchers = 0;
  int connected = 0;  // watchers that saw the sentinel event
  int writes = 0;
  int writes_ok = 0;
  long delivered = 0;    // timed events received, summed over watchers
  int complete = 0;      // watchers that got every timed event
  double seconds = 0;    // first write to last delivery
  double events_per_s = 0;
  double setup_s = 0;    // start of connections to sentinel seen by all
  long server_rss_kib = -1;  // with every watch open
  std::string first_error;
};

struct FanoutOptions {
  client::ClientOptions client;  // host, port, CA, token of the server
  std::string ns;                // namespace (must exist)
  int watchers = 1000;
  int writes = 500;
  long stack_bytes = 256 * 1024;
};

// Opens `watchers` ConfigMap watches (one HTTPS connection and one small-
// stack thread each) from a known resourceVersion, proves them all live
// with a sentinel write, then creates `writes` ConfigMaps through `writers`
// and counts per watcher which events arrived. `rss` samples the server
// while every watch is still open.
FanoutResult runWatchFanout(const FanoutOptions& options, std::vector<std::unique_ptr<client::HttpsClient>>& writers,
                            long (*rss)(const void*), const void* rss_arg);

}  // namespace berth::bench
