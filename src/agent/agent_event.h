#pragma once

// An Event the agent records about a pod (the kubelet's recorder.Eventf
// arguments), returned by the agent's pure decision code and recorded by
// its caller.

#include <string>

namespace berth::agent {

struct AgentEvent {
  std::string type;  // Normal | Warning
  std::string reason;
  std::string message;
};

}  // namespace berth::agent
