#include "agent/probe/dial.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace berth::agent::probe {

std::string errnoText(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string hostPort(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

int remainingMs(ProbeClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - ProbeClock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

Dialed dialTcp(const std::string& host, int port, ProbeClock::time_point deadline) {
  Dialed d;
  const std::string addr = hostPort(host, port);
  sockaddr_storage sa{};
  socklen_t len = 0;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&sa);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&sa);
  if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*a4);
  } else if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*a6);
  } else {
    d.error = "dial tcp " + addr + ": not an IP address";
    return d;
  }
  int fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    d.error = "socket: " + errnoText(errno);
    return d;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
    if (errno != EINPROGRESS) {
      d.error = "dial tcp " + addr + ": connect: " + errnoText(errno);
      ::close(fd);
      return d;
    }
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, remainingMs(deadline));
    int err = 0;
    socklen_t err_len = sizeof(err);
    if (n > 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (n == 0) {
      d.timed_out = true;
      d.error = "dial tcp " + addr + ": i/o timeout";
      ::close(fd);
      return d;
    }
    if (n < 0 || err != 0) {
      d.error = "dial tcp " + addr + ": connect: " + errnoText(err ? err : errno);
      ::close(fd);
      return d;
    }
  }
  d.fd = fd;
  return d;
}

}  // namespace berth::agent::probe
