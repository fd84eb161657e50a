#include "cli/common.h"
#include "formats/common/text.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>

#include "analyzers/restorer.h"
#include "formats/catalog/catalog.h"
#include "formats/common/atomic.h"

namespace vk::cli {

int report(const Error& e) {
  std::cerr << "vdsokit: " << e.str() << "\n";
  return e.exit_code;
}

namespace {
std::map<const CLI::Option*, std::function<std::vector<std::string>()>>& values_registry() {
  static std::map<const CLI::Option*, std::function<std::vector<std::string>()>> r;
  return r;
}
}  // namespace

std::vector<std::string> option_values(const CLI::Option* opt) {
  auto it = values_registry().find(opt);
  return it == values_registry().end() ? std::vector<std::string>() : it->second();
}

void set_option_values(const CLI::Option* opt, std::function<std::vector<std::string>()> values) {
  values_registry()[opt] = std::move(values);
}

CLI::Option* add_format(CLI::App& cmd, std::string& format, const std::vector<std::string>& choices) {
  format = choices.front();
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : "|") + c;
  auto* o = cmd.add_option("--format", format, "Output format: " + list)->check(CLI::IsMember(choices))->capture_default_str();
  set_option_values(o, [choices] { return choices; });
  return o;
}

CLI::Option* add_restorer(CLI::App& cmd, std::string& restorer) {
  auto names = analyze::restorer_names();
  auto* o = cmd.add_option("-r,--restorer", restorer, "Restorer whose rules apply")->check(CLI::IsMember(names))->capture_default_str();
  set_option_values(o, [names] { return names; });
  return o;
}

CLI::Option* add_target(CLI::App& cmd, std::string& target, const std::string& help) {
  auto* o = cmd.add_option("-t,--target", target, help);
  set_option_values(o, [] {
    std::vector<std::string> ids{"host"};
    for (const auto& e : catalog::Catalog::builtin().entries())
      if (!e.synthetic) ids.push_back(e.id);
    return ids;
  });
  return o;
}

CLI::Option* add_catalogs(CLI::App& cmd, std::vector<std::string>& catalogs, const std::string& help) {
  // One value per occurrence: CLI11's vector options otherwise swallow the positional inputs after it.
  return cmd.add_option("--catalog", catalogs, help)->type_size(1)->allow_extra_args(false);
}

CLI::Option* add_pid(CLI::App& cmd, std::vector<uint32_t>& pids) {
  return cmd.add_option("--pid", pids, "Only the process with this pid (repeatable)")->type_size(1)->allow_extra_args(false);
}

int emit(const std::string& raw, const std::string& path) {
  // Every report passes here: control bytes and invalid UTF-8 quoted from an input never reach the
  // terminal or the file raw (JSON/YAML are already clean; formats/common/text.h).
  std::string escaped;
  if (!is_printable_text(raw)) escaped = printable_text(raw);
  const std::string& text = escaped.empty() ? raw : escaped;
  if (path.empty() || path == "-") {
    std::cout << text << std::flush;
    return kExitOk;
  }
  auto st = write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  return st ? kExitOk : report(st.error());
}

CLI::Option* add_jobs(CLI::App& cmd, unsigned& jobs, const char* zero) {
  return cmd.add_option("-j,--jobs", jobs, std::string("Units (set folders, archives) handled at once; 0 = ") + zero + " (default)")
      ->type_name("N");
}

CLI::Option* add_shard(CLI::App& cmd, std::string& spec) {
  return cmd.add_option("--shard", spec,
                        "Handle only shard K of N (0-based) of the units (set folders, archives); default from "
                        "SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX (+ VDSOKIT_SHARD_COUNT)")
      ->type_name("K/N");
}

Expected<ShardedInputs> shard_inputs(const std::vector<std::string>& inputs, const std::string& spec) {
  VK_TRY(shard, criu::resolve_shard(spec, [](const char* name) { return std::getenv(name); }));
  ShardedInputs out;
  out.shard = shard;
  out.units = criu::shard_units(inputs, shard, &out.total);
  return out;
}

std::vector<std::string> ShardedInputs::paths() const {
  std::vector<std::string> p;
  for (const auto& u : units) p.push_back(u.path);
  return p;
}

Expected<std::unique_ptr<LineSink>> LineSink::open(const std::string& path) {
  if (path.empty() || path == "-") return std::unique_ptr<LineSink>(new LineSink(STDOUT_FILENO, ""));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return bad_input(path, std::string("cannot create: ") + std::strerror(errno));
  return std::unique_ptr<LineSink>(new LineSink(fd, path));
}

LineSink::~LineSink() {
  if (!path_.empty()) ::close(fd_);
}

void LineSink::write(const std::string& line) {
  std::cout << std::flush;   // keep order with anything printed through std::cout
  // One write per line: a reader (or a killed writer) sees whole lines, except at most a torn last one.
  size_t done = 0;
  while (done < line.size() && !failed_) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) failed_ = true;
    else done += size_t(n);
  }
}

Status LineSink::close() {
  if (failed_) return bad_input(path_.empty() ? "<stdout>" : path_, "write failed");
  if (!path_.empty() && ::fsync(fd_) != 0) return bad_input(path_, std::string("fsync failed: ") + std::strerror(errno));
  return {};
}

}  // namespace vk::cli
