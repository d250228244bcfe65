#include "client/event_recorder.h"

#include <pthread.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "api/object.h"
#include "common/log.h"

namespace berth::client {

namespace json = boost::json;

namespace {

// client-go tools/record: the broadcaster queues at most maxQueuedEvents;
// repeats are aggregated within the aggregator's 600 s window; the
// correlator's LRU holds maxLruCacheEntries.
constexpr size_t kMaxQueued = 1000;
constexpr auto kAggregateWindow = std::chrono::minutes(10);
constexpr size_t kMaxCacheEntries = 4096;
// recordToSink retries transport failures; upstream tries 12 times 10 s
// apart. Kept short here so that shutdown is not held up for minutes.
constexpr int kMaxTries = 3;
constexpr std::chrono::seconds kRetryDelay{1};

struct Pending {
  Object involved;  // the ObjectReference
  std::string type;
  std::string reason;
  std::string message;
  std::chrono::system_clock::time_point time;
};

// What the recorder remembers of an Event it wrote (client-go's eventLog).
struct Observed {
  std::string name;
  std::string ns;
  int64_t count = 0;
  std::string first_timestamp;
  std::chrono::system_clock::time_point last_seen;
};

// apimachinery's NameIsDNSSubdomain: what an Event's generated name must be.
bool isDnsSubdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-' && c != '.') return false;
  return true;
}

bool transient(const Error& e) {
  return e.code == ErrorCode::kUnavailable || e.code == ErrorCode::kTimeout;
}

}  // namespace

struct EventRecorder::State {
  Client& client;
  Clock& clock;
  std::string component;
  std::string host;
  const api::KindInfo& event_kind = kind("", "Event");

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> queue;
  uint64_t recorded = 0;  // accepted by record()
  uint64_t dropped = 0;   // oldest events dropped because the queue was full
  uint64_t finished = 0;  // written, failed or dropped
  bool stopping = false;
  std::thread thread;

  // Touched only by the writer thread.
  std::map<std::string, Observed> cache;
  int64_t last_nanos = 0;

  State(Client& c, Clock& k, std::string comp, std::string h)
      : client(c), clock(k), component(std::move(comp)), host(std::move(h)) {}

  // client-go's getEventKey: source, involved object, type, reason, message.
  std::string keyOf(const Pending& p) const {
    std::string key;
    for (const std::string& part :
         {component, host, api::getString(p.involved, "kind"),
          api::getString(p.involved, "namespace"), api::getString(p.involved, "name"),
          api::getString(p.involved, "fieldPath"), api::getString(p.involved, "uid"),
          api::getString(p.involved, "apiVersion"), p.type, p.reason, p.message}) {
      key += part;
      key += '\x1f';
    }
    return key;
  }

  // <involved name>.<UnixNano in hex>, as util.GenerateEventName; made
  // unique per recorder so that two events in the same (fake) instant do not
  // collide. Falls back to a UID when the result is not a valid name.
  std::string eventName(const std::string& involved_name, std::chrono::system_clock::time_point t) {
    int64_t nanos =
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    if (nanos <= last_nanos) nanos = last_nanos + 1;
    last_nanos = nanos;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(nanos));
    std::string name = involved_name + "." + hex;
    return isDnsSubdomain(name) ? name : apiserver::newUid();
  }

  Object makeEvent(const Pending& p, const std::string& name, const std::string& ns, int64_t count,
                   const std::string& first_timestamp) const {
    Object source{{"component", component}};
    if (!host.empty()) source["host"] = host;
    return Object{{"apiVersion", "v1"},
                  {"kind", "Event"},
                  {"metadata", Object{{"name", name}, {"namespace", ns}}},
                  {"involvedObject", p.involved},
                  {"reason", p.reason},
                  {"message", p.message},
                  {"source", std::move(source)},
                  {"firstTimestamp", first_timestamp},
                  {"lastTimestamp", formatRfc3339(p.time)},
                  {"count", count},
                  {"type", p.type},
                  {"reportingComponent", component},
                  {"reportingInstance", host}};
  }

  // Runs `call` until it succeeds, fails for good, or the tries run out.
  template <class F>
  Result<ObjectPtr> withRetries(F call) {
    for (int attempt = 1;; ++attempt) {
      auto r = call();
      if (r.ok() || !transient(r.error()) || attempt >= kMaxTries) return r;
      std::unique_lock lock(mu);
      if (cv.wait_for(lock, kRetryDelay * attempt, [this] { return stopping; })) return r;
    }
  }

  void remember(const std::string& key, const Object& ev,
                std::chrono::system_clock::time_point seen) {
    Observed o;
    o.name = api::name(ev);
    o.ns = api::namespaceOf(ev);
    o.count = api::getInt(ev, "count", 1);
    o.first_timestamp = api::getString(ev, "firstTimestamp");
    o.last_seen = seen;
    cache[key] = std::move(o);
    if (cache.size() > kMaxCacheEntries) {
      auto oldest = cache.begin();
      for (auto it = cache.begin(); it != cache.end(); ++it)
        if (it->second.last_seen < oldest->second.last_seen) oldest = it;
      cache.erase(oldest);
    }
  }

  // recordToSink: a repeat within the window patches count and
  // lastTimestamp of the Event written before; a first occurrence (or a
  // repeat whose Event has gone) creates one.
  void write(const Pending& p) {
    std::string key = keyOf(p);
    std::string involved_ns = api::getString(p.involved, "namespace");
    std::string ns = involved_ns.empty() ? "default" : involved_ns;
    auto it = cache.find(key);
    std::string name;
    int64_t count = 1;
    std::string first = formatRfc3339(p.time);
    if (it != cache.end() && p.time - it->second.last_seen <= kAggregateWindow) {
      name = it->second.name;
      ns = it->second.ns;
      count = it->second.count + 1;
      first = it->second.first_timestamp;
      Object patch{{"count", count}, {"lastTimestamp", formatRfc3339(p.time)}};
      std::string body = json::serialize(patch);
      auto r =
          withRetries([&] { return client.patch(event_kind, ns, name, PatchType::kMerge, body); });
      if (r.ok()) {
        remember(key, **r, p.time);
        return;
      }
      if (r.error().code != ErrorCode::kNotFound) {
        BERTH_LOG(kWarning, "events") << "could not update event name=" << name
                                      << " reason=" << p.reason << " error=" << r.error().message;
        return;
      }
      // The Event expired or was deleted: write it again under its name.
    } else {
      name = eventName(api::getString(p.involved, "name"), p.time);
    }
    auto r = withRetries(
        [&] { return client.create(event_kind, makeEvent(p, name, ns, count, first)); });
    if (r.ok()) {
      remember(key, **r, p.time);
      return;
    }
    // AlreadyExists and a terminating namespace are expected; upstream logs
    // them quietly and does not retry.
    auto level =
        r.error().code == ErrorCode::kAlreadyExists || r.error().code == ErrorCode::kForbidden
            ? log::Level::kDebug
            : log::Level::kWarning;
    if (level >= log::level())
      log::write(level, "events",
                 "could not write event name=" + name + " reason=" + p.reason +
                     " error=" + r.error().message);
  }

  void run() {
    for (;;) {
      Pending p;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [this] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, and everything written
        p = std::move(queue.front());
        queue.pop_front();
      }
      write(p);
      {
        std::lock_guard lock(mu);
        ++finished;
      }
      cv.notify_all();
    }
  }
};

EventRecorder::EventRecorder(Client& client, Clock& clock, std::string component, std::string host)
    : state_(std::make_unique<State>(client, clock, std::move(component), std::move(host))) {
  state_->thread = std::thread([s = state_.get()] {
    pthread_setname_np(pthread_self(), "events");
    s->run();
  });
}

EventRecorder::~EventRecorder() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
  }
  state_->cv.notify_all();
  // run() writes what is queued before it returns.
  if (state_->thread.joinable()) state_->thread.join();
}

void EventRecorder::record(const Object& involved, const std::string& type,
                           const std::string& reason, const std::string& message) {
  if (type != "Normal" && type != "Warning") {
    BERTH_LOG(kError, "events") << "unsupported event type=" << type << " reason=" << reason;
    return;
  }
  Pending p;
  // The ObjectReference (ref.GetReference): kind, namespace, name, uid,
  // apiVersion, resourceVersion of the involved object.
  const auto* md = api::metadata(involved);
  auto put = [&](const char* field, std::string value) {
    if (!value.empty()) p.involved[field] = std::move(value);
  };
  put("kind", api::getString(involved, "kind"));
  put("namespace", md ? api::getString(*md, "namespace") : "");
  put("name", md ? api::getString(*md, "name") : "");
  put("uid", md ? api::getString(*md, "uid") : "");
  put("apiVersion", api::getString(involved, "apiVersion"));
  put("resourceVersion", md ? api::getString(*md, "resourceVersion") : "");
  p.type = type;
  p.reason = reason;
  p.message = message;
  p.time = state_->clock.now();
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping) return;
    state_->queue.push_back(std::move(p));
    ++state_->recorded;
    if (state_->queue.size() > kMaxQueued) {
      const Pending& dropped = state_->queue.front();
      // The first drop and then one line per 1,000, not one per event:
      // a burst (5,000 nodes registering) would flood the log.
      if (state_->dropped++ % 1000 == 0)
        BERTH_LOG(kWarning, "events") << "too many queued events, dropped event reason=" << dropped.reason
                                      << " object=" << api::getString(dropped.involved, "name")
                                      << " dropped_so_far=" << state_->dropped;
      state_->queue.pop_front();
      ++state_->finished;
    }
  }
  state_->cv.notify_all();
}

void EventRecorder::flush() {
  std::unique_lock lock(state_->mu);
  uint64_t target = state_->recorded;
  state_->cv.wait(lock, [&] { return state_->finished >= target; });
}

}  // namespace berth::client
