// Fleet-scale results: one record per unit (an image-set folder or an archive, formats/criu/shard.h),
// written as a JSON line the moment the unit is done (`--format jsonl`), and the report that merges
// the records of every shard of a run into the summary a single run would give (`vdsokit report`).
// Schemas: docs/schemas/unit-record.schema.json, docs/schemas/report.schema.json.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyzers/check.h"
#include "analyzers/identify.h"
#include "formats/common/error.h"
#include "formats/criu/shard.h"

namespace vk::analyze {

struct UnitFinding {
  std::string where;                // "pid 7660 (vdsoloop)", a file, or "" for the unit
  std::string code;                 // VK003 ..., or "" for an error without a finding code
  std::string severity;             // info | warning | error
  std::string message;
};

struct UnitRecord {
  std::string command;              // check | identify | inspect | rewrite
  std::string operation;            // what every unit of the run was asked ("--target host --restorer criu-4.2")
  std::string unit;                 // the path as given to this run
  std::string key;                  // mount-independent identity (criu::Unit::key)
  size_t seq = 0, total = 0;        // position among, and number of, the units of all shards
  std::string shard = "0/1";
  std::string status;               // check: worst verdict or error; identify: weakest match or error;
                                    // inspect: ok or error; rewrite: its status
  int exit_code = kExitOk;
  double started = 0;               // Unix time, seconds
  double seconds = 0;               // how long the unit took
  bool resumed = false;             // rewrite: taken from the state directory, nothing done in this run
  std::vector<UnitFinding> findings;
  nlohmann::ordered_json detail;    // the command's own JSON for the unit (check: its image_sets[] entries)
};

nlohmann::ordered_json to_json(const UnitRecord& r);
std::string to_jsonl(const UnitRecord& r);                     // one line, ending in "\n"
Expected<UnitRecord> record_from_json(const nlohmann::json& j, const std::string& file, uint64_t offset);

// The record of one unit of `check`: status = the worst verdict of its processes.
void fill_check(UnitRecord& r, const std::vector<SetCheck>& checks);
// identify: status the weakest match of the unit's vDSOs (exact, proxied-from, nearest, unknown;
// "no-process" when it has none), one finding per vDSO (its summary line), detail = the results[].
void fill_identify(UnitRecord& r, const std::vector<Identification>& ids);
// A unit that failed: status "error", the error as its one finding.
void fill_error(UnitRecord& r, const Error& e);

// Runs `fn` on each unit in order; stamps unit, key, seq, total, shard, timing on the record it fills
// and hands it to `sink` at once. Returns the highest exit code.
int run_units(const std::vector<criu::Unit>& units, size_t total, const criu::Shard& shard, const std::string& command,
              const std::string& operation, const std::function<void(const criu::Unit&, UnitRecord&)>& fn,
              const std::function<void(const UnitRecord&)>& sink);

// Shard outputs read back. A last line without its newline is what a killed task leaves: it is
// skipped with a warning. Any other malformed line is exit 3 with the file and byte offset.
struct RecordFile {
  std::string path;
  std::vector<UnitRecord> records;
  std::vector<std::string> warnings;
};
Expected<RecordFile> read_records(const std::string& path);

struct Report {
  std::string command, operation;
  std::vector<UnitRecord> units;            // one per key, in seq order (the order of a single run)
  size_t total = 0;                         // units the shards saw (0 when unknown)
  std::vector<size_t> missing;              // seq numbers no shard reported
  std::vector<std::string> rewritten_twice; // keys rewritten (not resumed) by more than one record
  size_t superseded = 0;                    // older records of a key (a resubmitted task's earlier attempt)
  std::vector<std::string> shards;          // the shards seen, sorted
  std::vector<std::string> warnings;
  double wall_seconds = 0;                  // first start to last end over all records
  double busy_seconds = 0;                  // sum of the units' seconds
  int exit_code() const;                    // the units' highest; 3 when units are missing
};

// Merges records of one run (any number of shards, resubmitted tasks included). Records of different
// commands or operations cannot merge: usage error.
Expected<Report> merge_records(const std::vector<RecordFile>& files);

std::string render_report_text(const Report& r);
std::string render_report_json(const Report& r);
std::string render_report_junit(const Report& r);
std::string render_report_html(const Report& r);

}  // namespace vk::analyze
