#include "cmd/image_cmd.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "runtime/image/image_store.h"
#include "runtime/image/puller.h"
#include "runtime/image/registry_client.h"

namespace berth::cmd {

namespace {

int imageUsage() {
  std::fprintf(
      stderr,
      "usage:\n"
      "  berth image [--root DIR] import FILE [--name NAME]   docker-archive or "
      "oci-archive (.tar, .tar.gz)\n"
      "  berth image [--root DIR] pack DIR --tag NAME [--entrypoint PATH] [--env K=V]...\n"
      "                                [--workdir DIR] [--user U] [-- CMD ARG...]\n"
      "  berth image [--root DIR] pull REF [--insecure-registry HOST:PORT]... [--creds USER:PASS]\n"
      "                                [--docker-config FILE]\n"
      "  berth image [--root DIR] ls\n"
      "  berth image [--root DIR] rm REF...\n");
  return 2;
}

std::string humanSize(int64_t bytes) {
  char buf[32];
  if (bytes >= (1 << 20)) {
    std::snprintf(buf, sizeof buf, "%.1fMB", bytes / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fkB", bytes / 1e3);
  }
  return buf;
}

void printRecord(const runtime::ImageRecord& r) {
  std::printf("%s\t%s\t%s\n", r.name.empty() ? "<none>" : r.name.c_str(),
              r.id().substr(7, 12).c_str(), humanSize(r.size).c_str());
}

}  // namespace

int runImage(const std::vector<std::string>& args_in, const std::string& default_root) {
  std::vector<std::string> args = args_in;
  std::string root = default_root;
  if (args.size() >= 2 && args[0] == "--root") {
    root = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty()) return imageUsage();
  const std::string verb = args[0];
  args.erase(args.begin());
  auto store = runtime::ImageStore::open(root);
  if (!store.ok()) {
    std::fprintf(stderr, "berth image: %s\n", store.error().message.c_str());
    return 1;
  }
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "berth image: %s\n", e.message.c_str());
    return 1;
  };
  if (verb == "ls" && args.empty()) {
    std::printf("IMAGE\tID\tSIZE\n");
    for (const auto& r : (*store)->list()) printRecord(r);
    return 0;
  }
  if (verb == "import" && !args.empty()) {
    std::string name;
    if (args.size() == 3 && args[1] == "--name")
      name = args[2];
    else if (args.size() != 1)
      return imageUsage();
    auto imported = (*store)->importArchive(args[0], name);
    if (!imported.ok()) return fail(imported.error());
    for (const auto& r : *imported) printRecord(r);
    return 0;
  }
  if (verb == "pack" && !args.empty()) {
    std::string dir = args[0], tag;
    runtime::ImageConfigOverrides o;
    for (size_t i = 1; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto value = [&]() -> const std::string* {
        return i + 1 < args.size() ? &args[++i] : nullptr;
      };
      if (a == "--") {
        o.cmd.assign(args.begin() + static_cast<long>(i) + 1, args.end());
        break;
      }
      const std::string* v = value();
      if (!v) return imageUsage();
      if (a == "--tag")
        tag = *v;
      else if (a == "--entrypoint")
        o.entrypoint = {*v};
      else if (a == "--env")
        o.env.push_back(*v);
      else if (a == "--workdir")
        o.working_dir = *v;
      else if (a == "--user")
        o.user = *v;
      else
        return imageUsage();
    }
    if (tag.empty()) return imageUsage();
    auto packed = (*store)->pack(dir, tag, o);
    if (!packed.ok()) return fail(packed.error());
    printRecord(*packed);
    return 0;
  }
  if (verb == "pull" && !args.empty()) {
    runtime::RegistryOptions options;
    runtime::DockerKeyring keyring;
    std::string creds;
    for (size_t i = 1; i < args.size(); ++i) {
      if (i + 1 >= args.size()) return imageUsage();
      const std::string& flag = args[i];
      const std::string& value = args[++i];
      if (flag == "--insecure-registry") {
        options.insecure_registries.push_back(value);
      } else if (flag == "--creds") {
        creds = value;
      } else if (flag == "--docker-config") {
        std::ifstream in(value);
        std::stringstream text;
        text << in.rdbuf();
        if (!in) return fail(makeError(ErrorCode::kInvalid, "cannot read " + value));
        Status added = keyring.addDockerConfigJson(text.str());
        if (!added.ok()) return fail(added.error());
      } else {
        return imageUsage();
      }
    }
    if (!creds.empty()) {
      auto ref = runtime::parseReference(args[0]);
      if (!ref.ok()) return fail(ref.error());
      size_t colon = creds.find(':');
      keyring.add(ref->domain,
                  runtime::RegistryAuth{creds.substr(0, colon),
                                        colon == std::string::npos ? "" : creds.substr(colon + 1)});
    }
    runtime::RegistryClient client(options);
    runtime::Puller puller(**store, client);
    auto progress = [](const runtime::PullProgress& p) {
      if (p.kind != runtime::PullProgress::Kind::kLayer) return;
      std::string id = p.digest.str().substr(7, 12);
      if (p.cached) {
        std::printf("%s: already present\n", id.c_str());
      } else if (p.finished) {
        std::printf("%s: pull complete (%lld bytes)\n", id.c_str(),
                    static_cast<long long>(p.total));
      } else {
        std::printf("%s: downloading %lld / %lld\n", id.c_str(), static_cast<long long>(p.done),
                    static_cast<long long>(p.total));
      }
      std::fflush(stdout);
    };
    auto pulled = puller.pull(args[0], keyring, progress);
    if (!pulled.ok()) return fail(pulled.error());
    printRecord(*pulled);
    return 0;
  }
  if (verb == "rm" && !args.empty()) {
    int rc = 0;
    for (const auto& ref : args) {
      Status s = (*store)->remove(ref);
      if (!s.ok()) {
        std::fprintf(stderr, "berth image: %s: %s\n", ref.c_str(), s.error().message.c_str());
        rc = 1;
      } else {
        std::printf("Deleted: %s\n", ref.c_str());
      }
    }
    return rc;
  }
  return imageUsage();
}

}  // namespace berth::cmd
