// berth-shim: the per-container monitor (runtime/oci/shim.h) as a program of
// its own, which the agent runs for every container it starts.
#include <string>
#include <vector>

#include "runtime/oci/shim.h"

int main(int argc, char** argv) {
  return berth::runtime::shimMain(std::vector<std::string>(argv + 1, argv + argc));
}
