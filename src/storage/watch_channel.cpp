#include "storage/watch_channel.h"

#include <exception>

#include "common/log.h"

namespace berth::storage {

WatchChannel::WatchChannel(WatchOptions options, WatchSink sink, int64_t after_revision, bool held)
    : options_(std::move(options)),
      sink_(std::move(sink)),
      after_revision_(after_revision),
      last_revision_(after_revision),
      held_(held) {}

bool WatchChannel::matchesKey(std::string_view key) const {
  return options_.recursive ? hasPrefix(key, options_.prefix) : key == options_.prefix;
}

bool WatchChannel::offer(const EventPtr& event) {
  int64_t rev = event->kv.mod_revision;
  if (event->type == EventType::kBookmark) {
    if (!options_.bookmarks) return false;
    std::lock_guard lock(queue_mu_);
    // A bookmark never goes backwards and never claims progress below the
    // revision the watch started from.
    if (rev < last_revision_) return false;
    last_revision_ = rev;
    queue_.push_back(event);
    return true;
  }
  if (rev <= after_revision_ || !matchesKey(event->kv.key)) return false;
  std::lock_guard lock(queue_mu_);
  if (rev > last_revision_) last_revision_ = rev;
  queue_.push_back(event);
  activity_ = true;
  return true;
}

void WatchChannel::release(std::vector<EventPtr> events) {
  {
    std::lock_guard lock(queue_mu_);
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      int64_t rev = (*it)->kv.mod_revision;
      if (rev > last_revision_) last_revision_ = rev;
      queue_.push_front(std::move(*it));
    }
    if (!events.empty()) activity_ = true;
    held_ = false;
  }
  drain();
}

void WatchChannel::drain() {
  {
    std::lock_guard lock(queue_mu_);
    if (held_ || draining_) return;
    draining_ = true;
  }
  for (;;) {
    EventPtr event;
    {
      std::lock_guard lock(queue_mu_);
      if (queue_.empty()) {
        draining_ = false;
        return;
      }
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    std::lock_guard call(call_mu_);
    if (closed_) {
      std::lock_guard lock(queue_mu_);
      queue_.clear();
      draining_ = false;
      return;
    }
    // A sink must not throw; if one does, end this watch rather than let the
    // exception unwind through the store's writer thread.
    try {
      if (sink_.on_event) sink_.on_event(*event);
    } catch (const std::exception& e) {
      BERTH_LOG(kError, "storage") << "watch sink threw, closing watch error=" << e.what();
      closed_ = true;
    } catch (...) {
      BERTH_LOG(kError, "storage") << "watch sink threw, closing watch";
      closed_ = true;
    }
  }
}

void WatchChannel::close(const Error& error) {
  std::lock_guard call(call_mu_);
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard lock(queue_mu_);
    queue_.clear();
  }
  try {
    if (sink_.on_close) sink_.on_close(error);
  } catch (...) {
    BERTH_LOG(kError, "storage") << "watch on_close threw";
  }
}

void WatchChannel::cancel() {
  std::lock_guard call(call_mu_);
  closed_ = true;
  std::lock_guard lock(queue_mu_);
  queue_.clear();
}

bool WatchChannel::closed() const {
  std::lock_guard call(call_mu_);
  return closed_;
}

bool WatchChannel::takeActivity() {
  std::lock_guard lock(queue_mu_);
  bool was = activity_;
  activity_ = false;
  return was;
}

size_t WatchChannel::queued() const {
  std::lock_guard lock(queue_mu_);
  return queue_.size();
}

namespace {

class ChannelHandle : public WatchHandle {
 public:
  ChannelHandle(std::shared_ptr<WatchChannel> channel, std::function<void()> unregister)
      : channel_(std::move(channel)), unregister_(std::move(unregister)) {}
  ~ChannelHandle() override {
    channel_->cancel();
    if (unregister_) unregister_();
  }

 private:
  std::shared_ptr<WatchChannel> channel_;
  std::function<void()> unregister_;
};

}  // namespace

std::unique_ptr<WatchHandle> makeWatchHandle(std::shared_ptr<WatchChannel> channel,
                                             std::function<void()> unregister) {
  return std::make_unique<ChannelHandle>(std::move(channel), std::move(unregister));
}

std::string prefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return end;
}

}  // namespace berth::storage
