#include "e2e/harness.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <set>
#include <thread>

namespace fs = std::filesystem;

namespace vk::e2e {

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

std::string harness() { return std::string(VK_SOURCE_DIR) + "/tests/e2e/restore.sh"; }
std::string program(const std::string& name) { return std::string(VK_PROGRAMS_DIR) + "/" + name; }
std::string vdsokit() { return VK_BINARY; }

Shell sh(const std::vector<std::string>& argv, bool with_stderr) {
  int fds[2];
  Shell r;
  if (pipe(fds) != 0) return r;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    if (with_stderr) dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) r.out.append(buf, size_t(n));
  close(fds[0]);
  int st = 0;
  if (pid > 0 && waitpid(pid, &st, 0) == pid) r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

std::optional<Criu> find_criu(const std::string& minor, std::string& why) {
  Criu c;
  c.minor = minor;
  c.label = "criu-" + minor;
  std::string var = "VDSOKIT_CRIU_" + minor.substr(0, 1) + "_" + minor.substr(2);
  if (const char* user = std::getenv(var.c_str()); user && *user) {
    c.path = user;
  } else {
    std::string cache = env_or("VDSOKIT_CRIU_CACHE", "/var/tmp/vdsokit-criu");
    std::string suite = minor == "4.1" ? "trixie" : "sid";
    c.path = cache + "/criu-" + suite;
    if (!fs::exists(c.path + ".ok")) {
      std::string err = first_line(slurp(cache + "/" + suite + ".error"));
      why = "no CRIU " + minor + ": " + (err.empty() ? c.path + " was not built (make test runs scripts/criu-roots.sh)" : err) +
            "; or set " + var + " to a CRIU " + minor + " executable";
      return std::nullopt;
    }
  }
  auto v = sh({c.path, "--version"});
  std::string line = first_line(v.out);
  if (v.code != 0 || line.rfind("Version: ", 0) != 0) {
    why = c.path + " --version failed: " + line;
    return std::nullopt;
  }
  c.version = line.substr(9);
  if (c.version.rfind(minor + ".", 0) != 0 && c.version != minor) {
    why = c.path + " is CRIU " + c.version + ", not " + minor + ".x (" + var + ")";
    return std::nullopt;
  }
  return c;
}

void skip(const std::string& why) {
  if (env_or("CI", "") == "true") {
    std::cout << "FAILED (CI=true, a prerequisite is missing): " << why << std::endl;
    std::exit(1);
  }
  std::cout << "skipped: " << why << std::endl;
  std::exit(77);
}

Criu need_criu(const std::string& minor) {
  std::string why;
  auto c = find_criu(minor, why);
  if (!c) skip(why);
  return *c;
}

Work::Work(const std::string& name) : path_(std::string(VK_E2E_WORK) + "/" + name) {
  if (fs::exists(path_)) sh({harness(), "stop", path_});
  std::error_code ec;
  fs::remove_all(path_, ec);
  fs::create_directories(path_);
}

Work::~Work() {
  // Stops only what the harness recorded; the folder stays for reading after a failure.
  sh({harness(), "stop", path_});
}

int start(const Work& w, const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::vector<std::string> a{harness(), "start", w.path()};
  for (const auto& e : env) {
    a.push_back("--env");
    a.push_back(e);
  }
  a.push_back("--");
  a.insert(a.end(), argv.begin(), argv.end());
  auto r = sh(a);
  if (r.code != 0) return 0;
  return std::atoi(r.out.c_str());
}

bool wait_lines(const std::string& file, const std::string& prefix, size_t n, int timeout_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    std::istringstream in(slurp(file));
    size_t count = 0;
    for (std::string line; std::getline(in, line);)
      if (line.rfind(prefix, 0) == 0) ++count;
    if (count >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

Shell dump(const Work& w, const Criu& c, const std::string& images, int pid, const std::string& from) {
  std::vector<std::string> a{harness(), "dump", w.path(), "--criu", c.path, "--images", images};
  if (from.empty()) {
    a.push_back("--pid");
    a.push_back(std::to_string(pid));
  } else {
    a.push_back("--from");
    a.push_back(from);
  }
  return sh(a);
}

std::map<std::string, std::string> fields(const std::string& line) {
  std::map<std::string, std::string> f;
  std::istringstream in(line);
  std::string tok;
  in >> tok;
  f["kind"] = tok;
  while (in >> tok) {
    auto eq = tok.find('=');
    if (eq != std::string::npos) f[tok.substr(0, eq)] = tok.substr(eq + 1);
  }
  return f;
}

std::vector<uint64_t> Restore::jmp() const {
  std::vector<uint64_t> v;
  std::istringstream in(get("jmp"));
  for (std::string t; in >> t;) v.push_back(std::stoull(t, nullptr, 16));
  return v;
}

Restore restore(const Work& w, const Criu& c, const std::string& images, const std::vector<Bind>& binds,
                const std::string& watch, int lines, const std::vector<std::string>& criu_args) {
  std::vector<std::string> a{harness(), "restore", w.path(), "--criu", c.path, "--images", images};
  for (const auto& b : binds) {
    a.push_back("--bind");
    a.push_back(b.src + ":" + b.dst);
  }
  if (!watch.empty()) {
    a.push_back("--watch");
    a.push_back(watch);
    a.push_back("--lines");
    a.push_back(std::to_string(lines));
  }
  if (!criu_args.empty()) {
    a.push_back("--");
    a.insert(a.end(), criu_args.begin(), criu_args.end());
  }
  auto r = sh(a);
  Restore out;
  out.code = r.code;
  out.log = r.out;
  std::istringstream res(slurp(w / "result"));
  for (std::string line; std::getline(res, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out.result[line.substr(0, eq)] = line.substr(eq + 1);
  }
  std::istringstream after(slurp(w / "after.txt"));
  for (std::string line; std::getline(after, line);) out.lines.push_back(fields(line));
  return out;
}

nlohmann::json check_host(const std::string& input, const std::string& restorer) { return check(input, "host", restorer); }

nlohmann::json check(const std::string& input, const std::string& target, const std::string& restorer,
                     const std::vector<std::string>& catalogs) {
  std::vector<std::string> a{vdsokit(), "check", input, "--target", target, "--restorer", restorer, "--format", "json"};
  for (const auto& c : catalogs) {
    a.push_back("--catalog");
    a.push_back(c);
  }
  auto r = sh(a, false);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), "vdsokit check printed no JSON (exit " << r.code << "): " << r.out);
  REQUIRE_MESSAGE(j["image_sets"].size() == 1, "vdsokit check found " << j["image_sets"].size() << " image sets in " << input);
  REQUIRE_MESSAGE(j["image_sets"][0]["processes"].size() >= 1, "vdsokit check found no process in " << input);
  return j["image_sets"][0]["processes"][0]["outcome"];
}

std::string sha256(const std::string& path) {
  auto r = sh({"sha256sum", path});
  if (r.code != 0) return "";
  return r.out.substr(0, r.out.find(' '));
}

const std::vector<std::string> kFunctionNames = {"clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres", "getrandom"};
const std::vector<std::pair<std::string, std::string>> kFunctions = {
    {"clock_gettime", "__vdso_clock_gettime"}, {"gettimeofday", "__vdso_gettimeofday"},
    {"time", "__vdso_time"},                   {"getcpu", "__vdso_getcpu"},
    {"clock_getres", "__vdso_clock_getres"},   {"getrandom", "__vdso_getrandom"}};

// What check's outcome says each function returns after the restore. A function the dumped vDSO does not
// export: glibc falls back to the system call (ok); vdsoprobe calls getrandom only through the vDSO (absent).
std::map<std::string, std::string> predicted_functions(const nlohmann::json& outcome) {
  std::map<std::string, std::string> p;
  for (const auto& [fn, sym] : kFunctions) p[fn] = fn == "getrandom" ? "absent" : "ok";
  for (const auto& s : outcome["symbols"]) {
    std::string name = s["name"], fate = s["fate"];
    for (const auto& [fn, sym] : kFunctions) {
      if (name != sym) continue;
      bool ok = fate == "same" || fate == "redirected" || fate == "stub";   // stub: `rewrite exports`
      // Old code is harmless where check says so (getcpu reads no vvar; getrandom falls back to the syscall).
      if (fate == "old-code" && s["effect"].get<std::string>().find("keeps working") != std::string::npos) ok = true;
      p[fn] = ok ? "ok" : "wrong";
    }
  }
  // clocks_ok / clock_getres_ok summarise the fates; they must say the same.
  bool clocks = p["clock_gettime"] == "ok" && p["gettimeofday"] == "ok" && p["time"] == "ok" && p["getcpu"] == "ok";
  CHECK(clocks == outcome["clocks_ok"].get<bool>());
  CHECK((p["clock_getres"] == "ok") == outcome["clock_getres_ok"].get<bool>());
  return p;
}

std::string predicted_decision(const nlohmann::json& outcome) {
  std::string v = outcome["verdict"];
  return v == "inplace" ? "inplace" : v == "blocked" ? "none" : "proxy";   // retargetable: CRIU itself proxies
}

std::set<std::string> predicted_trampolines(const nlohmann::json& outcome) {
  std::set<std::string> names;
  if (outcome["verdict"] == "inplace") return names;
  for (const auto& s : outcome["symbols"])
    if (s["fate"] == "redirected" || s["fate"] == "missing") names.insert(s["name"].get<std::string>());
  return names;
}


}  // namespace vk::e2e
