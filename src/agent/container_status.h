#pragma once

// A container's API status from what the runtime knows, as the kubelet's
// convertToAPIContainerStatuses writes it: state (waiting / running /
// terminated), lastState (the previous attempt's termination),
// restartCount, image and imageID, containerID, ready and started.

#include <optional>
#include <string>

#include "api/kind.h"

namespace berth::agent {

// One attempt of a container as the agent saw it.
struct Attempt {
  std::string id;        // runtime container id
  bool running = false;  // else exited
  std::string started_at;
  std::string finished_at;
  int exit_code = 0;
  int signal = 0;
  std::string reason;   // Completed, Error, OOMKilled, StartError
  std::string message;  // the termination message, when any
  std::string image_id;
};

struct ContainerView {
  std::string name;
  std::string image;                // as the spec says
  std::optional<Attempt> current;   // the latest attempt
  std::optional<Attempt> previous;  // the one before it (lastState)
  int restart_count = 0;
  // Why the container is not running now (ContainerCreating,
  // CrashLoopBackOff, ErrImagePull, ...), when it waits.
  std::string waiting_reason;
  std::string waiting_message;
  bool ready = false;
  bool started = false;
};

// The termination message of an exited container (kubelet
// getTerminationMessage): the container's termination-log file (at most
// 4096 bytes); with FallbackToLogsOnError, an empty file and a failed exit,
// the last 80 lines of its log (at most 2048 bytes).
std::string terminationMessage(const std::string& message_file, const std::string& log_path,
                               const std::string& policy, int exit_code);

// "berth://<id>", as containerd's "containerd://<id>".
std::string containerIdUri(const std::string& id);

boost::json::object containerStatus(const ContainerView& view);

}  // namespace berth::agent
