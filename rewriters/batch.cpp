#include "rewriters/batch.h"
#include "formats/common/text.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "formats/archive/archive.h"
#include "formats/common/parallel.h"
#include "formats/criu/inputs.h"
#include "rewriters/archive_writer.h"
#include "rewriters/transaction.h"
#include "formats/common/atomic.h"

namespace vk::rewrite {

namespace fs = std::filesystem;

namespace {

struct Unit {
  std::string input;
  std::string kind;
  TreePtr tree;                                   // directory units
  std::shared_ptr<archive::Archive> ar;           // archive units
  std::optional<Error> error;                     // discovery failed
};

std::string join_member(const std::string& folder, const std::string& file) { return folder.empty() ? file : folder + "/" + file; }

// Removes .NAME.vk-XXXXXX files beside `path` (NAME = its file name): the temporaries of earlier runs
// writing it. Only regular files of exactly that pattern; the caller holds the directory's lock.
size_t remove_stale_temps_of(const std::string& path) {
  std::string prefix = "." + fs::path(path).filename().string() + ".vk-";
  size_t removed = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(directory_of(path), ec)) {
    std::string n = e.path().filename().string();
    if (n.size() == prefix.size() + 6 && n.rfind(prefix, 0) == 0 && is_temp_name(n) && e.is_regular_file(ec) &&
        !e.is_symlink(ec) && fs::remove(e.path(), ec))
      ++removed;
  }
  return removed;
}

// A rewrite unit spends most of its time waiting for its fsyncs (four per set: the staged file, the
// journal, and the directory twice; docs/rewrite.md "Atomicity"), so more units than cores are in flight
// by default: 200 set folders on 2 cores took 0.41 s with -j 1, 0.22 s with 2, 0.14 s with 4 and 0.12 s
// with 8 (ext4, issue 11). Two per core keeps an archive rewrite's ~21 MiB each well inside memory.
unsigned rewrite_jobs(unsigned jobs) { return jobs ? jobs : 2 * default_jobs(); }

void fail(UnitResult& u, const Error& e) {
  u.status = e.exit_code == kExitBadInput || e.exit_code == kExitUsage ? "error" : "refused";
  u.error = e;
  u.exit_code = e.exit_code;
  u.files.clear();
}

void run_directory(const Unit& unit, const Planner& plan, const BatchOptions& opts, UnitResult& u) {
  // One run at a time per directory; then finish what a killed run committed and remove what it left
  // uncommitted (rewriters/transaction.h), before the set is read.
  auto lock = DirLock::acquire(unit.input);
  if (!lock) return fail(u, lock.error());
  if (opts.dry_run && has_journal(unit.input))
    return fail(u, bad_input(unit.input + "/" + kJournalName,
                             "an interrupted rewrite is committed but not finished here; run without --dry-run to finish it"));
  if (!opts.dry_run) {
    size_t removed = 0;
    bool journal = has_journal(unit.input);
    if (auto st = recover(unit.input, &removed); !st) return fail(u, st.error());
    if (journal) u.notes.push_back("finished a rewrite that an earlier run committed but did not complete");
    if (removed) u.notes.push_back("removed " + std::to_string(removed) + " temporary file(s) left by an interrupted run");
  }
  auto set = criu::ImageSet::open(unit.tree);
  if (!set) return fail(u, set.error());
  auto p = plan(*set, unit.input);
  if (!p) return fail(u, p.error());
  u.notes.insert(u.notes.end(), p->notes.begin(), p->notes.end());
  for (const auto& e : p->edits) u.files.push_back({(fs::path(unit.input) / e.file).string(), e.detail});
  if (p->edits.empty()) {
    u.status = "unchanged";
    return;
  }
  if (opts.dry_run) {
    u.status = "would-rewrite";
    return;
  }
  if (opts.before_write)
    if (auto st = opts.before_write(u); !st) return fail(u, st.error());
  Transaction t(unit.input);
  for (auto& e : p->edits) {
    std::string path = (fs::path(unit.input) / e.file).string();
    if (e.patches.empty()) t.stage(path, std::move(e.bytes));
    else t.stage_patched(path, std::move(e.patches));
  }
  auto st = t.commit();
  if (!st) return fail(u, st.error());
  u.status = "rewritten";
}

void run_archive(const Unit& unit, const Planner& plan, const BatchOptions& opts, UnitResult& u) {
  std::map<std::string, std::vector<uint8_t>> replace;
  bool any_set = false;
  for (const auto& folder : unit.ar->folders_with("pstree.img")) {
    auto tree = unit.ar->tree(folder);
    if (!tree->has("inventory.img")) continue;
    any_set = true;
    auto set = criu::ImageSet::open(tree);
    if (!set) return fail(u, set.error());
    auto p = plan(*set, tree->name());
    if (!p) return fail(u, p.error());
    for (const auto& n : p->notes) u.notes.push_back(tree->name() + ": " + n);
    for (auto& e : p->edits) {
      std::string member = join_member(folder, e.file);
      if (!e.patches.empty()) {
        // Archive members are held in memory already (formats/archive): patch a copy of the member.
        auto blob = tree->open(e.file);
        if (!blob) return fail(u, blob.error());
        auto bytes = (*blob)->read_all((*blob)->size());
        if (!bytes) return fail(u, bytes.error());
        for (const auto& pt : e.patches) {
          if (pt.offset > bytes->size() || pt.bytes.size() > bytes->size() - pt.offset)
            return fail(u, bad_input_at(unit.input + ":" + member, pt.offset, "patch past the end of the member"));
          std::copy(pt.bytes.begin(), pt.bytes.end(), bytes->begin() + long(pt.offset));
        }
        e.bytes = bytes.take();
      }
      u.files.push_back({unit.input + ":" + member, e.detail});
      replace[member] = std::move(e.bytes);
    }
  }
  if (!any_set) return fail(u, bad_input(unit.input, "no CRIU image set found (no folder with inventory.img and pstree.img)"));
  bool write = !replace.empty() || !opts.output.empty();
  if (opts.dry_run || !write) {
    u.status = replace.empty() ? "unchanged" : "would-rewrite";
    return;
  }
  if (opts.before_write)
    if (auto st = opts.before_write(u); !st) return fail(u, st.error());
  // Temporaries of the destination that killed runs left beside it (.NAME.vk-XXXXXX, up to the
  // archive's size each; issue 12, D18) go first, under the directory's lock.
  std::string dest_dir = directory_of(u.output);
  auto lock = DirLock::acquire(dest_dir);
  if (!lock) return fail(u, lock.error());
  size_t removed = remove_stale_temps_of(u.output);
  if (removed) u.notes.push_back("removed " + std::to_string(removed) + " temporary file(s) left by an interrupted run");
  auto st = rewrite_archive(*unit.ar, replace, u.output);
  if (!st) return fail(u, st.error());
  u.status = replace.empty() ? "unchanged" : "rewritten";
}

}  // namespace

int BatchReport::exit_code() const {
  int code = kExitOk;
  for (const auto& u : units) code = std::max(code, u.exit_code);
  return code;
}

BatchReport run_batch(const std::vector<std::string>& inputs, const Planner& plan, const BatchOptions& opts,
                      std::string operation) {
  BatchReport report;
  report.operation = std::move(operation);
  report.dry_run = opts.dry_run;
  // Discovery first, so progress can say [i/N]; an input that cannot be read is one failed unit.
  std::vector<Unit> units;
  for (const auto& path : inputs) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      auto found = criu::discover(path);
      if (!found) {
        units.push_back(Unit{path, "directory", nullptr, nullptr, found.error()});
        continue;
      }
      for (const auto& in : *found) {
        if (in.archive.empty()) {
          units.push_back(Unit{in.label, "directory", in.tree, nullptr, std::nullopt});
          continue;
        }
        // A checkpoint archive in the folder: one archive unit (rewritten whole), however many sets it holds.
        // Opened (streamed) by the unit's own job, like an archive given as an input.
        if (!units.empty() && units.back().input == in.archive) continue;
        units.push_back(Unit{in.archive, "archive", nullptr, nullptr, std::nullopt});
      }
    } else if (fs::is_regular_file(path, ec)) {
      // Opened (streamed) by the unit's own job, so archives are read in parallel too.
      units.push_back(Unit{path, "archive", nullptr, nullptr, std::nullopt});
    } else {
      units.push_back(Unit{path, "directory", nullptr, nullptr, bad_input(path, "no such file or directory")});
    }
  }
  // Units are independent (each its own files or archive): planned and written on every core, reported
  // in input order (formats/common/parallel.h).
  std::function<UnitResult(size_t)> work = [&](size_t i) {
    Unit unit = units[i];
    UnitResult u;
    u.input = unit.input;
    u.kind = unit.kind;
    u.output = unit.kind == "archive" && !opts.output.empty() ? opts.output : unit.input;
    if (!unit.error && unit.kind == "archive") {
      auto ar = criu::open_archive(unit.input);
      if (ar) unit.ar = ar.take();
      else unit.error = ar.error();
    }
    if (unit.error) fail(u, *unit.error);
    else if (unit.kind == "archive") run_archive(unit, plan, opts, u);
    else run_directory(unit, plan, opts, u);
    return u;
  };
  for_each_ordered<UnitResult>(units.size(), rewrite_jobs(opts.jobs), work, [&](size_t i, UnitResult& u) {
    if (opts.progress) opts.progress(i + 1, units.size(), u);
    report.units.push_back(std::move(u));
    return true;
  });
  return report;
}

std::string progress_line(size_t index, size_t total, const UnitResult& u) {
  // The error itself follows as its own one-line message (docs/cli.md "Errors").
  return "[" + std::to_string(index) + "/" + std::to_string(total) + "] " + printable(u.input) + ": " + u.status;
}

std::string render_text(const BatchReport& r) {
  std::string out;
  std::map<std::string, size_t> counts;
  for (const auto& u : r.units) {
    ++counts[u.status];
    out += u.input + ": " + u.status;
    if (u.output != u.input && u.status != "error" && u.status != "refused") out += " -> " + u.output;
    out += "\n";
    for (const auto& f : u.files) out += "  " + f.file + ": " + f.detail + "\n";
    for (const auto& n : u.notes) out += "  note: " + n + "\n";
    if (u.error) out += "  " + u.error->str() + "\n";
  }
  out += "rewrite " + r.operation + (r.dry_run ? " (dry run)" : "") + ": " + std::to_string(r.units.size()) + " input" +
         (r.units.size() == 1 ? "" : "s");
  for (const char* s : {"rewritten", "would-rewrite", "unchanged", "refused", "error"})
    if (counts.count(s)) out += ", " + std::to_string(counts[s]) + " " + s;
  out += "\n";
  return out;
}

std::string render_json(const BatchReport& r) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["schema"] = "vdsokit.rewrite/1";
  j["operation"] = r.operation;
  j["dry_run"] = r.dry_run;
  j["exit_code"] = r.exit_code();
  ordered_json units = ordered_json::array();
  ordered_json summary{{"rewritten", 0}, {"would-rewrite", 0}, {"unchanged", 0}, {"refused", 0}, {"error", 0}};
  for (const auto& u : r.units) {
    summary[u.status] = summary[u.status].get<int>() + 1;
    ordered_json ju{{"input", u.input}, {"kind", u.kind}, {"status", u.status}, {"output", u.output}};
    ordered_json files = ordered_json::array();
    for (const auto& f : u.files) files.push_back({{"file", f.file}, {"change", f.detail}});
    ju["files"] = files;
    ju["notes"] = u.notes;
    if (u.error) {
      ordered_json e{{"file", u.error->file}, {"message", u.error->message}, {"text", u.error->str()}};
      e["offset"] = u.error->offset ? ordered_json(*u.error->offset) : ordered_json(nullptr);
      ju["error"] = e;
    } else {
      ju["error"] = nullptr;
    }
    ju["exit_code"] = u.exit_code;
    units.push_back(ju);
  }
  j["inputs"] = units;
  j["summary"] = summary;
  return dump_json(j, 2) + "\n";
}

}  // namespace vk::rewrite
