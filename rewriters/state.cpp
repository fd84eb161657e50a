#include "rewriters/state.h"

#include "rewriters/transaction.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "formats/common/atomic.h"
#include "formats/common/sha256.h"
#include "formats/common/source.h"

namespace vk::rewrite {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

constexpr const char* kStateSchema = "vdsokit.state/1";
constexpr uint64_t kMaxStateFile = 16u << 20;   // a record lists a unit's files: a few KiB
// Changed files are images (KiB) or archives; hashing reads them in bounded pieces, never whole.
constexpr size_t kHashChunk = 1u << 20;

std::string rel_name(const std::string& unit, const std::string& path) {
  if (path == unit) return "";
  auto rel = fs::path(path).lexically_relative(unit);
  return rel.empty() || rel.string().starts_with("..") ? path : rel.string();
}

std::string full_path(const std::string& unit, const std::string& file) {
  if (file.empty()) return unit;
  return fs::path(file).is_absolute() ? file : (fs::path(unit) / file).string();
}

ordered_json identity_json(const FileIdentity& f) {
  return ordered_json{{"file", f.file}, {"size", f.size}, {"mtime_ns", f.mtime_ns}, {"sha256", f.sha256}};
}

// Whether the files are still as recorded: same size and mtime, or (a copied store) same SHA-256.
bool matches(const json& ids, const std::string& unit) {
  if (!ids.is_array() || ids.empty()) return false;
  for (const auto& id : ids) {
    std::string path = full_path(unit, id.value("file", ""));
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if (uint64_t(st.st_size) != id.value("size", uint64_t(0))) return false;
    int64_t mt = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (mt == id.value("mtime_ns", int64_t(-1))) continue;
    auto now = identify_file(path, "");
    if (!now || now->sha256 != id.value("sha256", "")) return false;
  }
  return true;
}

Expected<ordered_json> identities(const std::string& unit, const std::vector<std::string>& paths) {
  ordered_json out = ordered_json::array();
  for (const auto& p : paths) {
    VK_TRY(id, identify_file(p, rel_name(unit, p)));
    out.push_back(identity_json(id));
  }
  return out;
}

ordered_json result_json(const UnitResult& u) {
  ordered_json files = ordered_json::array();
  for (const auto& f : u.files) files.push_back({{"file", f.file}, {"change", f.detail}});
  return ordered_json{{"status", u.status}, {"exit_code", u.exit_code}, {"kind", u.kind}, {"output", u.output},
                      {"files", files}, {"notes", u.notes}};
}

void result_from(const json& j, UnitResult& u) {
  u.status = j.value("status", u.status);
  u.exit_code = j.value("exit_code", u.exit_code);
  u.kind = j.value("kind", u.kind);
  u.output = j.value("output", u.output);
  u.files.clear();
  for (const auto& f : j.value("files", json::array())) u.files.push_back({f.value("file", ""), f.value("change", "")});
  u.notes = j.value("notes", std::vector<std::string>{});
}

Status save(const std::string& path, const ordered_json& j) {
  std::string text = j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  return write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// The `done` record replaces `pending` atomically (rename) but is not fsynced: if a crash loses it,
// the re-run finds `pending` with the files changed and the unit converted, and records it done then
// with the same result. Only `pending` must be on disk before the unit's files are replaced. This
// saves two of the six fsyncs per unit.
Status save_unsynced(const std::string& path, const ordered_json& j) {
  std::string text = j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return bad_input(tmp, std::string("cannot create: ") + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += size_t(n);
  }
  ::close(fd);
  if (done != text.size() || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return bad_input(path, "cannot write the state record");
  }
  return {};
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Expected<FileIdentity> identify_file(const std::string& path, const std::string& rel) {
  VK_TRY(blob, open_file(path));
  FileIdentity id;
  id.file = rel;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return bad_input(path, "cannot stat");
  id.size = uint64_t(st.st_size);
  id.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  Sha256 h;
  for (uint64_t off = 0; off < blob->size(); off += kHashChunk) {
    VK_TRY(piece, blob->read_range(off, size_t(std::min<uint64_t>(kHashChunk, blob->size() - off))));
    h.update(piece);
  }
  id.sha256 = h.hex();
  return id;
}

std::vector<std::string> changed_files(const UnitResult& u) {
  if (u.kind == "archive") return {u.output};
  std::vector<std::string> out;
  for (const auto& f : u.files) out.push_back(f.file);
  return out;
}

Expected<StateDir> StateDir::open(const std::string& dir, const std::string& operation) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec)) return bad_input(dir, "cannot create the state directory");
  return StateDir(dir, operation);
}

std::string StateDir::record_path(const std::string& key) const {
  // The key may hold any characters; its hash (with the operation) names the record.
  std::string id = operation_ + "\n" + key;
  return (fs::path(dir_) / (sha256_hex(std::span(reinterpret_cast<const uint8_t*>(id.data()), id.size())).substr(0, 32) + ".json")).string();
}

UnitResult StateDir::run(const criu::Unit& unit, const Planner& plan, const BatchOptions& opts, bool& resumed) const {
  resumed = false;
  std::string path = record_path(unit.key);
  auto refuse = [&](const Error& e) {
    UnitResult u;
    u.input = unit.path;
    u.output = unit.path;
    u.kind = fs::is_directory(unit.path) ? "directory" : "archive";
    u.status = "error";
    u.error = e;
    u.exit_code = e.exit_code;
    return u;
  };
  json rec = nullptr;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    auto bytes = read_file(path, kMaxStateFile);
    if (!bytes) return refuse(bytes.error());
    rec = json::parse(bytes->begin(), bytes->end(), nullptr, false);
    if (rec.is_discarded() || !rec.is_object() || rec.value("schema", "") != kStateSchema || rec.value("key", "") != unit.key)
      return refuse(bad_input(path, "not a vdsokit state record for " + unit.key + "; remove it to redo the unit"));
  }
  const std::string phase = rec.is_object() ? rec.value("phase", "") : "";
  if (phase == "done" && rec["result"].value("status", "") == "rewritten" && matches(rec["after"], unit.path)) {
    UnitResult u;
    u.input = unit.path;
    result_from(rec["result"], u);
    resumed = true;
    return u;
  }
  // Interrupted after its commit point: files already replaced, or a journal the batch finishes below
  // before planning (rewriters/transaction.h) — either way the earlier run's rewrite is the result.
  bool interrupted_write = phase == "pending" && (has_journal(unit.path) || !matches(rec["before"], unit.path));

  ordered_json base{{"schema", kStateSchema}, {"operation", operation_}, {"key", unit.key}, {"unit", unit.path}};
  BatchOptions o = opts;
  o.before_write = [&](const UnitResult& planned) -> Status {
    VK_TRY(before, identities(unit.path, changed_files(planned)));
    ordered_json j = base;
    j["phase"] = "pending";
    j["time"] = unix_now();
    j["before"] = before;
    UnitResult as_done = planned;
    as_done.status = "rewritten";
    j["result"] = result_json(as_done);
    return save(path, j);
  };
  auto batch = run_batch({unit.path}, plan, o, operation_);
  UnitResult u = batch.units.empty() ? refuse(bad_input(unit.path, "no unit found")) : batch.units.front();
  const json* planned = nullptr;
  if (u.status == "unchanged" && interrupted_write) {
    // The earlier run was stopped after replacing the files and before recording it: its result stands.
    result_from(rec["result"], u);
    planned = &rec["result"];
    resumed = true;
  }
  if (u.status == "rewritten") {
    auto after = planned ? identities(unit.path, [&] {
      std::vector<std::string> p;
      for (const auto& id : rec["before"]) p.push_back(full_path(unit.path, id.value("file", "")));
      return p;
    }())
                         : identities(unit.path, changed_files(u));
    Status st = after ? Status{} : Status(after.error());
    if (after) {
      ordered_json j = base;
      j["phase"] = "done";
      j["time"] = unix_now();
      j["after"] = *after;
      j["result"] = result_json(u);
      st = save_unsynced(path, j);
    }
    // The unit is rewritten either way; without its record a re-run finds it converted (pending).
    if (!st) u.notes.push_back("state not recorded: " + st.error().str());
  }
  return u;
}

void fill_rewrite(analyze::UnitRecord& rec, const UnitResult& u) {
  rec.status = u.status;
  rec.exit_code = u.exit_code;
  for (const auto& f : u.files) rec.findings.push_back(analyze::UnitFinding{f.file, "", "info", f.detail});
  for (const auto& n : u.notes) rec.findings.push_back(analyze::UnitFinding{"", "", "info", n});
  if (u.error) rec.findings.push_back(analyze::UnitFinding{u.error->file, "", "error", u.error->str()});
  ordered_json files = ordered_json::array();
  for (const auto& f : u.files) files.push_back({{"file", f.file}, {"change", f.detail}});
  rec.detail = ordered_json{{"kind", u.kind}, {"output", u.output}, {"files", files}, {"notes", u.notes}};
}

}  // namespace vk::rewrite
