#pragma once

// Making sure a container's image is on the node before it starts, as the
// kubelet's image manager does (pkg/kubelet/images/image_manager.go):
// imagePullPolicy Always / IfNotPresent / Never, a pull back-off per pod
// and image (10 s doubling to 5 min), upstream's event texts (Pulling,
// Pulled, Failed, BackOff, ErrImageNeverPull) and the container waiting
// reasons they lead to (ErrImagePull, ImagePullBackOff, ErrImageNeverPull,
// InvalidImageName).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_event.h"
#include "agent/restart_backoff.h"
#include "api/kind.h"
#include "common/clock.h"
#include "common/result.h"

namespace berth::agent {

struct EnsuredImage {
  bool ready = false;
  std::string reason;   // the container's waiting reason when not ready
  std::string message;  // and its message
  std::vector<AgentEvent> events;
};

struct ImageSource {
  // Whether the store has the image (by the container's reference).
  std::function<bool(const std::string& image)> present;
  // Pulls it with the pod's imagePullSecrets; the size of what was pulled
  // in bytes.
  std::function<Result<int64_t>(const std::string& image, const api::Object& pod)> pull;
  // Checks the reference's syntax.
  std::function<Status(const std::string& image)> validate;
};

class ImageManager {
 public:
  ImageManager(ImageSource source, Clock& clock) : source_(std::move(source)), clock_(clock) {}

  // For `container` of `pod` (its image and imagePullPolicy).
  EnsuredImage ensure(const api::Object& pod, const api::Object& container);

 private:
  ImageSource source_;
  Clock& clock_;
  RestartBackoff backoff_;
};

// Go's time.Duration String with its sub-second precision ("1.234s", "850ms").
std::string goDurationFine(std::chrono::nanoseconds d);

}  // namespace berth::agent
