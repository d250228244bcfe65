#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace berth::runtime::testing {

// A temp directory removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-oci-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void writeText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace berth::runtime::testing

namespace berth::runtime::testing {

// A stand-in for runc (a /bin/sh script in dir/runc) that records each
// command line in dir/calls and acts out just enough of runc's behaviour:
// - create: starts an "init" process that blocks on dir/fifo-<id> until
//   start, then exits with the code in <bundle>/code ("term": kills itself
//   with SIGTERM); its pid goes to --pid-file; "fail" in <bundle>/code makes
//   create fail with an error in runc's JSON log.
// - state: knows the id "known"; list: two containers, or null when
//   dir/empty exists.
inline std::string writeFakeRunc(const std::string& dir) {
  std::string path = dir + "/runc";
  writeText(path, R"SH(#!/bin/sh
dir=$(dirname "$0")
printf '%s\n' "$*" >> "$dir/calls"
log=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root|--log-format) shift 2 ;;
    --log) log="$2"; shift 2 ;;
    *) break ;;
  esac
done
cmd="$1"; shift
case "$cmd" in
  create|run)
    bundle=""; pidfile=""
    while [ $# -gt 1 ]; do
      case "$1" in
        --bundle) bundle="$2"; shift 2 ;;
        --pid-file) pidfile="$2"; shift 2 ;;
        *) shift ;;
      esac
    done
    id="$1"
    code=$(cat "$bundle/code")
    if [ "$code" = fail ]; then
      echo '{"level":"warning","msg":"just a warning","time":"t"}' > "$log"
      echo '{"level":"error","msg":"container_linux.go: starting container process caused: boom","time":"t"}' >> "$log"
      echo "runc: boom" >&2
      exit 1
    fi
    if [ "$cmd" = run ]; then
      # run --detach: started at once.
      if [ "$code" = term ]; then
        sh -c 'echo "init output"; echo "init error" >&2; kill -TERM $$' sh &
      else
        sh -c 'echo "init output"; echo "init error" >&2; exit "$1"' sh "$code" &
      fi
      echo $! > "$pidfile"
      exit 0
    fi
    mkfifo "$dir/fifo-$id"
    if [ "$code" = term ]; then
      sh -c 'read x < "$1"; echo "init output"; echo "init error" >&2; kill -TERM $$' sh "$dir/fifo-$id" &
    else
      sh -c 'read x < "$1"; echo "init output"; echo "init error" >&2; exit "$2"' sh "$dir/fifo-$id" "$code" &
    fi
    echo $! > "$pidfile"
    exit 0 ;;
  start) echo go > "$dir/fifo-$1"; rm -f "$dir/fifo-$1" ;;
  state)
    if [ "$1" = known ]; then
      echo '{"ociVersion":"1.0.2","id":"known","pid":42,"status":"running","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00Z","owner":""}'
    else
      echo "container does not exist" >&2; exit 1
    fi ;;
  list)
    if [ -f "$dir/empty" ]; then echo null; else
      echo '[{"ociVersion":"1.0.2","id":"a","pid":7,"status":"running","bundle":"/a","rootfs":"/a/rootfs","created":"c1","owner":""},{"ociVersion":"1.0.2","id":"b","pid":0,"status":"stopped","bundle":"/b","rootfs":"/b/rootfs","created":"c2","owner":""}]'
    fi ;;
  kill|delete) ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
)SH");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

}  // namespace berth::runtime::testing
