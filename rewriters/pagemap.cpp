#include "rewriters/pagemap.h"

#include <cstdint>

#include "formats/criu/imageset.h"
#include "rewriters/wire.h"

namespace vk::rewrite {

namespace {

// pagemap_entry field numbers (docs/criu-images.md §2.3).
constexpr uint32_t kFieldCompatCount = 2;   // required uint32: the count up to 4.1, 0 from 4.2
constexpr uint32_t kFieldCount = 5;         // optional uint64: the count from 4.2

bool is_pagemap_file(const std::string& f) {
  return f.size() > 12 && f.rfind("pagemap-", 0) == 0 && f.compare(f.size() - 4, 4, ".img") == 0;
}

// Re-encodes one entry; returns nullopt when it is already in the target schema.
Expected<std::optional<std::string>> convert_entry(const criu::Entry& e, size_t index, const std::string& file,
                                                   PagemapSchema to) {
  VK_TRY(fields, wire::split(e.payload, file, e.offset + 4));
  const wire::Field* compat = nullptr;
  const wire::Field* count = nullptr;
  for (const auto& f : fields) {
    if (f.number != kFieldCompatCount && f.number != kFieldCount) continue;
    const wire::Field*& slot = f.number == kFieldCompatCount ? compat : count;
    if (f.type != wire::kVarint)
      return bad_input_at(file, e.offset, "pagemap entry #" + std::to_string(index) + ": field " +
                                              std::to_string(f.number) + " is not a varint");
    // A repeated scalar means "last wins" to a protobuf reader; rewriting one copy would be ambiguous.
    if (slot)
      return bad_input_at(file, e.offset, "pagemap entry #" + std::to_string(index) + ": field " +
                                              std::to_string(f.number) + " appears twice");
    slot = &f;
  }
  if (!compat)
    return bad_input_at(file, e.offset, "pagemap entry #" + std::to_string(index) + " lacks the required field 2");
  std::vector<wire::Field> out;
  if (to == PagemapSchema::V41) {
    if (!count) return std::optional<std::string>();
    // CRIU's load rule (§1.5, normalisation 3): field 5, when present, is the count.
    uint64_t n = count->varint;
    if (n > UINT32_MAX)
      return bad_input_at(file, e.offset, "pagemap entry #" + std::to_string(index) + " holds " + std::to_string(n) +
                                              " pages, more than the 4.1 schema's uint32 field 2 can hold");
    for (const auto& f : fields) {
      if (f.number == kFieldCount) continue;
      out.push_back(f.number == kFieldCompatCount ? wire::varint_field(kFieldCompatCount, n) : f);
    }
  } else {
    if (count) return std::optional<std::string>();
    uint64_t n = compat->varint;
    if (n > UINT32_MAX)
      return bad_input_at(file, e.offset, "pagemap entry #" + std::to_string(index) + ": field 2 holds " +
                                              std::to_string(n) + ", more than a uint32");
    // A 4.2 writer emits fields in number order (field 2 = 0, ..., field 5 = N); field 5 goes before
    // the first field numbered above 5 so a converted 4.1 image gives the bytes 4.2 would have written.
    bool placed = false;
    for (const auto& f : fields) {
      if (!placed && f.number > kFieldCount) {
        out.push_back(wire::varint_field(kFieldCount, n));
        placed = true;
      }
      out.push_back(f.number == kFieldCompatCount ? wire::varint_field(kFieldCompatCount, 0) : f);
    }
    if (!placed) out.push_back(wire::varint_field(kFieldCount, n));
  }
  return std::optional<std::string>(wire::join(out));
}

bool same_runs(const criu::Pagemap& a, const criu::Pagemap& b) {
  if (a.pages_id != b.pages_id || a.runs.size() != b.runs.size()) return false;
  for (size_t i = 0; i < a.runs.size(); ++i) {
    const auto &x = a.runs[i], &y = b.runs[i];
    if (x.vaddr != y.vaddr || x.nr_pages != y.nr_pages || x.flags != y.flags || x.pages_offset != y.pages_offset)
      return false;
  }
  return true;
}

}  // namespace

Expected<PagemapSchema> parse_pagemap_schema(const std::string& s) {
  if (s == "4.1") return PagemapSchema::V41;
  if (s == "4.2") return PagemapSchema::V42;
  return usage_error("pagemap schema must be 4.1 or 4.2, not '" + s + "'");
}

const char* pagemap_schema_name(PagemapSchema s) { return s == PagemapSchema::V41 ? "4.1" : "4.2"; }

Expected<PagemapConversion> convert_pagemap(const criu::Image& img, PagemapSchema to) {
  // parse_pagemap checks the magic, the head and every entry (required fields, alignment, order).
  VK_TRY(before, criu::parse_pagemap(img));
  PagemapConversion c;
  c.entries = before.runs.size();
  criu::Image out = img;
  for (size_t i = 1; i < img.entries.size(); ++i) {
    VK_TRY(payload, convert_entry(img.entries[i], i - 1, img.name, to));
    if (!payload) continue;
    out.entries[i].payload = std::move(*payload);
    ++c.changed;
  }
  if (c.changed == 0) return c;
  auto bytes = criu::write_image(out);
  // Re-read what will be written: the same runs, every one now in the target schema.
  VK_TRY(reparsed_img, criu::parse_image(img.name, bytes));
  VK_TRY(after, criu::parse_pagemap(reparsed_img));
  if (!same_runs(before, after))
    return bad_input(img.name, "internal error: the converted pagemap reads differently; nothing written");
  for (const auto& r : after.runs)
    if (r.count_in_field5 != (to == PagemapSchema::V42))
      return bad_input_at(img.name, r.file_offset, "internal error: entry not in the " + std::string(pagemap_schema_name(to)) + " schema");
  c.bytes = std::move(bytes);
  return c;
}

Expected<SetPlan> plan_pagemap(const Tree& tree, PagemapSchema to) {
  SetPlan plan;
  size_t seen = 0;
  for (const auto& file : tree.files()) {
    if (!is_pagemap_file(file)) continue;
    ++seen;
    VK_TRY(img, criu::open_image(tree, file));
    VK_TRY(c, convert_pagemap(img, to));
    if (!c.bytes) {
      plan.notes.push_back(file + ": all " + std::to_string(c.entries) + " entries already in the " +
                           pagemap_schema_name(to) + " schema");
      continue;
    }
    plan.edits.push_back(FileEdit{file, std::move(*c.bytes),
                                  std::to_string(c.changed) + " of " + std::to_string(c.entries) + " entries to the " +
                                      pagemap_schema_name(to) + " schema"});
  }
  if (seen == 0) plan.notes.push_back("no pagemap-*.img in the set");
  return plan;
}

}  // namespace vk::rewrite
