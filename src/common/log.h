#pragma once

#include <sstream>
#include <string_view>

namespace berth::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void setLevel(Level level);
Level level();
void write(Level level, std::string_view component, const std::string& line);

// Streams a lowercase key=value log line: BERTH_LOG(kInfo, "storage") << "msg key=" << v;
class Line {
 public:
  Line(Level level, std::string_view component) : level_(level), component_(component) {}
  ~Line() { write(level_, component_, out_.str()); }
  template <class T>
  Line& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  Level level_;
  std::string_view component_;
  std::ostringstream out_;
};

// Voidify lets the macro be one expression (safe inside if/else without braces), as glog does.
struct Voidify {
  void operator&(const Line&) {}
};

}  // namespace berth::log

#define BERTH_LOG(lvl, component)                                   \
  (::berth::log::Level::lvl < ::berth::log::level())                \
      ? (void)0                                                     \
      : ::berth::log::Voidify() & ::berth::log::Line(::berth::log::Level::lvl, component)
