#include "storage/store.h"

namespace berth::storage {

namespace {
constexpr int kMaxGuaranteedUpdateAttempts = 10000;
}  // namespace

Result<KeyValue> Store::guaranteedUpdate(const std::string& key, const UpdateFn& update_fn) {
  for (int attempt = 0;; ++attempt) {
    auto current = get(key);
    if (!current.ok() && current.error().code != ErrorCode::kNotFound) return current.error();
    const KeyValue* cur = current.ok() ? &current.value() : nullptr;
    auto next = update_fn(cur);
    if (!next.ok()) return next.error();
    Result<KeyValue> written = cur ? update(key, std::move(next).value(), cur->mod_revision)
                                   : create(key, std::move(next).value());
    if (written.ok()) return written;
    auto code = written.error().code;
    bool retry = code == ErrorCode::kConflict || code == ErrorCode::kAlreadyExists ||
                 (cur && code == ErrorCode::kNotFound);
    // Kubernetes retries without bound; the cap only guards against a backend
    // that conflicts forever. Every lost round means another writer progressed.
    if (!retry || attempt >= kMaxGuaranteedUpdateAttempts) return written;
  }
}

}  // namespace berth::storage
