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
  // The new file is written straight from the old entries and the converted payloads, without a
  // second Image in memory (an image may hold a million entries; issue 12, 256 MiB per input).
  std::vector<uint8_t> out;
  auto put_le32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
  };
  // Sized from the real entries: a converted entry differs by at most 11 bytes (field 5's tag and varint).
  size_t estimate = 8;
  for (const auto& e : img.entries) estimate += 4 + e.payload.size() + 11;
  out.reserve(estimate);
  if (img.head) put_le32(img.head);
  put_le32(img.magic);
  for (size_t i = 0; i < img.entries.size(); ++i) {
    std::optional<std::string> payload;
    if (i > 0) {
      VK_TRY(p, convert_entry(img.entries[i], i - 1, img.name, to));
      payload = std::move(p);
    }
    const std::string& bytes = payload ? *payload : img.entries[i].payload;
    if (payload) {
      ++c.changed;
      // Re-read what will be written: the same run (vaddr, count, flags), now in the target schema.
      img::pagemap_entry e;
      if (!e.ParseFromString(*payload))
        return bad_input_at(img.name, img.entries[i].offset, "internal error: the converted entry does not parse; nothing written");
      const auto& r = before.runs[i - 1];
      uint64_t n = e.has_nr_pages() ? e.nr_pages() : e.compat_nr_pages();
      bool in_parent = e.has_in_parent() && e.in_parent();
      uint32_t flags = e.has_flags() ? e.flags() : 0;
      if (in_parent) flags |= criu::kPeParent;
      else if (!e.has_flags()) flags = criu::kPePresent;
      if (e.vaddr() != r.vaddr || n != r.nr_pages || flags != r.flags || e.has_nr_pages() != (to == PagemapSchema::V42))
        return bad_input_at(img.name, img.entries[i].offset, "internal error: the converted entry reads differently; nothing written");
    }
    put_le32(static_cast<uint32_t>(bytes.size()));
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  if (c.changed == 0) return c;
  c.bytes = std::move(out);
  return c;
}

Expected<SetPlan> plan_pagemap(const criu::ImageSet& set, PagemapSchema to) {
  const Tree& tree = set.tree();
  // The set as CRIU will read it: a pagemap for each process (a missing one, or one that is a
  // directory, link or FIFO, was reported "unchanged" before), and mm/core that parse (a malformed
  // one was reported "rewritten": issue 12, D16).
  for (const auto& ps : set.pstree()) {
    for (uint32_t tid : ps.threads()) VK_CHECK(set.core(tid));
    // A zombie (task_state 3, docs/criu-images.md §8 dict fields) has a core image but no memory.
    VK_TRY(core, set.core(ps.pid()));
    if (core.has_tc() && core.tc().task_state() == 3) continue;
    std::string pm = criu::pagemap_file(ps.pid());
    if (auto type = tree.file_type(pm); type != "regular")
      return bad_input(tree.name() + "/" + pm, type == "missing" ? "missing: process " + std::to_string(ps.pid()) +
                                                                      " of pstree.img has no pagemap"
                                                                : "is a " + type + ", not a regular file");
    VK_CHECK(set.mm(ps.pid()));
  }
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
