#include "support/fixtures.h"

#include <doctest/doctest.h>

#include "analyzers/check.h"
#include "formats/criu/inputs.h"
#include "formats/pages/pagestore.h"
#include "rewriters/transaction.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace vk::test {

namespace fs = std::filesystem;

std::string fixtures() { return VK_FIXTURES; }
std::string fixture(const std::string& rel) { return fixtures() + "/" + rel; }
std::string source(const std::string& rel) { return std::string(VK_SOURCE_DIR) + "/" + rel; }

std::vector<std::string> fixture_sets() {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(fixtures()))
    if (fs::exists(e.path() / "known-values.json")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json known_values(const std::string& set, const std::string& file) {
  return nlohmann::json::parse(read_text(fixture(set + "/" + file)));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::string read_text(const std::string& path) {
  auto b = read_bytes(path);
  return std::string(b.begin(), b.end());
}

TempDir::TempDir() {
  std::string t = (fs::temp_directory_path() / "vktest-XXXXXX").string();
  if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
  path = t;
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

void copy_dir(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (auto& e : fs::directory_iterator(from)) {
    if (e.is_symlink()) {
      fs::create_symlink(fs::read_symlink(e.path()), fs::path(to) / e.path().filename());
    } else if (e.is_regular_file()) {
      fs::copy_file(e.path(), fs::path(to) / e.path().filename());
      fs::permissions(fs::path(to) / e.path().filename(), fs::perms::owner_read | fs::perms::owner_write);
    }
  }
}

namespace {

// Every JSON document a test gets from `--format json`, and every line of `--format jsonl`, is kept in
// VK_JSON_OUT (with the command that made it) so the json_schemas ctest validates it against
// docs/schemas/ (tests/support/validate_json.py).
void keep_document(const std::vector<std::string>& args, const std::string& text) {
  static std::atomic<unsigned> counter{0};
  std::error_code ec;
  std::filesystem::create_directories(VK_JSON_OUT, ec);
  std::string sub = args[0];
  std::replace(sub.begin(), sub.end(), '/', '_');
  std::string base = std::string(VK_JSON_OUT) + "/" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + sub;
  std::string cmd = "vdsokit";
  for (const auto& a : args) cmd += " " + a;
  write_bytes(base + ".json", std::vector<uint8_t>(text.begin(), text.end()));
  write_bytes(base + ".cmd", std::vector<uint8_t>(cmd.begin(), cmd.end()));
}

void keep_json(const std::vector<std::string>& args, const std::string& stdout_text) {
  std::string format, output;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--format" && i + 1 < args.size()) format = args[i + 1];
    if (args[i].rfind("--format=", 0) == 0) format = args[i].substr(9);
    if ((args[i] == "-o" || args[i] == "--output") && i + 1 < args.size()) output = args[i + 1];
  }
  if ((format != "json" && format != "jsonl") || args.empty()) return;
  std::string text = stdout_text;
  std::error_code ec;
  if (!output.empty() && output != "-") {
    if (!std::filesystem::is_regular_file(output, ec)) return;
    text = read_text(output);
  }
  if (format == "json") {
    if (!text.empty() && text[0] == '{') keep_document(args, text);
    return;
  }
  // jsonl: complete lines only (a test may cut a run short on purpose).
  for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    if (nl > at && text[at] == '{') keep_document(args, text.substr(at, nl - at));
}

}  // namespace

Run run_vdsokit(const std::vector<std::string>& args) {
  TempDir tmp;
  std::string cmd = std::string("'") + VK_BINARY + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >" + tmp / "out" + " 2>" + tmp / "err";
  int st = std::system(cmd.c_str());
  Run r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_text(tmp / "out");
  r.err = read_text(tmp / "err");
  keep_json(args, r.out);
  return r;
}

uint64_t parse_hex(const std::string& s) { return std::stoull(s, nullptr, 16); }

criu::ImageSet open_set(const std::string& dir) {
  auto tree = open_directory(dir);
  REQUIRE_MESSAGE(tree, (tree ? "" : tree.error().str()));
  auto set = criu::ImageSet::open(*tree);
  REQUIRE_MESSAGE(set, (set ? "" : set.error().str()));
  return set.take();
}

std::vector<uint8_t> dumped_bytes(const std::string& rel, uint32_t pid, uint64_t start, uint64_t len) {
  auto set = open_set(fixture(rel));
  auto store = pages::PageStore::open(set, pid);
  REQUIRE_MESSAGE(store, (store ? "" : store.error().str()));
  auto r = store->read(start, len);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().str()));
  return r->bytes;
}

FixtureHost fixture_host(const std::string& id) {
  FixtureHost h;
  h.dumped = dumped_bytes("host-proxy-second-gen/first-gen", 8311, 0x7f4f1273c000, 0x2000);
  auto v = vdso::parse("first-gen", h.dumped);
  REQUIRE(v);
  h.elf.assign(h.dumped.begin(), h.dumped.begin() + long(v->elf_size));
  auto e = catalog::entry_from_vdso("fixture host", h.elf);
  REQUIRE(e);
  h.entry = e.take();
  h.entry.id = id;
  return h;
}

int run_killed_at(const std::string& step, const std::function<void()>& fn) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    rewrite::Transaction::set_hook([&](const std::string& s) {
      if (s == step) ::kill(::getpid(), SIGKILL);
      return Status::ok();
    });
    fn();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

analyze::Outcome single_outcome(const std::string& dir, const std::string& target) {
  auto cat = catalog::effective_catalog({});
  REQUIRE(cat);
  auto sets = criu::open_sets({dir});
  REQUIRE(sets);
  auto c = analyze::check(sets->front().set, dir, *cat, target, *analyze::find_restorer("criu-4.2"));
  REQUIRE(c);
  REQUIRE(c->processes.size() == 1);
  return c->processes.front().outcome;
}

}  // namespace vk::test
