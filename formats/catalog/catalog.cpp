// The catalog of kernel vDSO builds: YAML (yaml-cpp) in and out, indices, built-in bytes, version
// rules (docs/catalog.md; version facts from docs/vdso-restore.md §4.3 and §10.2).
#include "formats/catalog/catalog.h"
#include "formats/common/text.h"
#include "formats/common/source.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "formats/catalog/builtin.h"
#include "formats/common/atomic.h"
#include "formats/common/sha256.h"

namespace vk::catalog {

namespace fs = std::filesystem;

const char* order_name(Order o) {
  switch (o) {
    case Order::VvarBeforeVdso: return "vvar-before-vdso";
    case Order::VdsoBeforeVvar: return "vdso-before-vvar";
    case Order::SingleZone: return "single-zone";
  }
  return "?";
}

std::optional<Order> order_from_name(std::string_view s) {
  for (Order o : {Order::VvarBeforeVdso, Order::VdsoBeforeVvar, Order::SingleZone})
    if (s == order_name(o)) return o;
  return std::nullopt;
}

const char* source_name(Source s) {
  switch (s) {
    case Source::Carved: return "carved";
    case Source::QemuObserved: return "qemu-observed";
    case Source::Host: return "host";
    case Source::VersionRule: return "version-rule";
    case Source::Synthetic: return "synthetic";
    case Source::User: return "user";
  }
  return "?";
}

std::optional<Source> source_from_name(std::string_view s) {
  for (Source x : {Source::Carved, Source::QemuObserved, Source::Host, Source::VersionRule, Source::Synthetic,
                   Source::User})
    if (s == source_name(x)) return x;
  return std::nullopt;
}

const Symbol* Entry::find(std::string_view name) const {
  for (const auto& s : symbols)
    if (s.name == name) return &s;
  return nullptr;
}

uint32_t version_code(int major, int minor, int sub) {
  // LINUX_VERSION_CODE caps the sublevel at 255 (kernel-corpus.md, "ELF notes").
  return (uint32_t(major) << 16) | (uint32_t(minor) << 8) | uint32_t(std::min(sub, 255));
}

uint32_t parse_version(std::string_view s) {
  // Each part saturates at kPartMax while its digits are read: the text is untrusted (a catalog's
  // `version`, a package's release) and may hold any number of digits (fuzz/regressions/catalog).
  constexpr int kPartMax = 1000;
  int part[3] = {0, 0, 0};
  int n = 0;
  size_t i = 0;
  while (n < 3 && i < s.size()) {
    if (s[i] < '0' || s[i] > '9') break;
    int v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = std::min(v * 10 + (s[i++] - '0'), kPartMax);
    part[n++] = v;
    if (i < s.size() && s[i] == '.') ++i;
    else break;
  }
  // LINUX_VERSION_CODE holds major and minor in 8 bits each; only the sublevel saturates (at 255).
  if (n < 2 || part[0] > 255 || part[1] > 255) return 0;
  return version_code(part[0], part[1], part[2]);
}

std::string version_string(uint32_t code) {
  return std::to_string(code >> 16) + "." + std::to_string((code >> 8) & 0xff) + "." + std::to_string(code & 0xff);
}

bool version_has_vvar(uint32_t code) { return code >= version_code(3, 16, 0); }
bool version_has_vvar_vclock(uint32_t code) { return code >= version_code(6, 13, 0); }
bool version_name_survives_mremap(uint32_t code) { return code >= version_code(3, 16, 0); }
bool version_has_arch_map_vdso(uint32_t code) { return code >= version_code(4, 9, 0); }

void apply_version_rules(Entry& e, bool layout_too) {
  const uint32_t c = e.version_code;
  e.vdso_name_survives_mremap = {version_name_survives_mremap(c), Source::VersionRule};
  e.arch_map_vdso = {version_has_arch_map_vdso(c), Source::VersionRule};
  e.has_vvar_vclock = {version_has_vvar_vclock(c), Source::VersionRule};
  if (!layout_too) return;
  // kernel-corpus.md "General facts": [vvar] 4 pages directly below [vdso] from 3.16 on (the
  // mid-2014 order swap, vdso-restore.md §4.3, predates every kernel we can get); [vvar_vclock]
  // 2 more pages from 6.13 (§10.2). Before 3.16 one zone, vvar data in the fixmap.
  if (!version_has_vvar(c)) {
    e.vvar_pages = {0, Source::VersionRule};
    e.vvar_vclock_pages = {0, Source::VersionRule};
    e.order = {Order::SingleZone, Source::VersionRule};
  } else {
    e.vvar_pages = {4, Source::VersionRule};
    e.vvar_vclock_pages = {version_has_vvar_vclock(c) ? 2u : 0u, Source::VersionRule};
    e.order = {Order::VvarBeforeVdso, Source::VersionRule};
  }
}

Expected<Entry> entry_from_vdso(const std::string& name, const std::vector<uint8_t>& elf_bytes) {
  VK_TRY(v, vdso::parse(name, elf_bytes));
  if (!v.elf) return bad_input(name, "not a vDSO ELF image");
  if (v.elf_size == 0 || v.elf_size > elf_bytes.size())
    return bad_input(name, "ELF size " + std::to_string(v.elf_size) + " does not fit the " +
                               std::to_string(elf_bytes.size()) + " bytes given");
  Entry e;
  e.abi = v.abi;
  e.compiler = v.compiler;
  std::span<const uint8_t> elf(elf_bytes.data(), v.elf_size);
  e.sha256 = sha256_hex(elf);
  e.size = v.elf_size;
  e.vdso_pages = (v.elf_size + 4095) / 4096;
  e.vdso_pages_source = Source::Carved;
  if (v.linux_version) {
    e.version_code = *v.linux_version;
    e.version = v.version_string();
  }
  for (const auto& s : v.symbols) e.symbols.push_back({s.name, s.version, s.type, s.bind, s.offset, s.size});
  apply_version_rules(e, true);
  return e;
}

std::string pages_sha256(const Entry& e, std::span<const uint8_t> elf) {
  std::vector<uint8_t> padded(elf.begin(), elf.end());
  uint64_t pages = std::max<uint64_t>(e.vdso_pages, 1) * 4096;
  padded.resize(pages > padded.size() ? pages : (padded.size() + 4095) / 4096 * 4096);
  return sha256_hex(padded);
}

// ---- YAML -------------------------------------------------------------------------------------

namespace {

Error yaml_error(const std::string& name, const YAML::Mark& m, const std::string& msg) {
  // yaml-cpp marks are 0-based; editors count from 1. pos is the byte offset into the file.
  std::string where = "line " + std::to_string(m.line + 1) + " column " + std::to_string(m.column + 1) + ": ";
  if (m.pos >= 0) return bad_input_at(name, uint64_t(m.pos), where + msg);
  return bad_input(name, msg);
}

struct Reader {
  const std::string& name;

  Expected<std::string> str(const YAML::Node& map, const char* key, bool required = false) const {
    auto n = map[key];
    if (!n) {
      if (required) return yaml_error(name, map.Mark(), std::string("missing '") + key + "'");
      return std::string();
    }
    if (!n.IsScalar()) return yaml_error(name, n.Mark(), std::string("'") + key + "' must be a scalar");
    return n.Scalar();
  }

  Expected<uint64_t> num(const YAML::Node& n, const char* what) const {
    if (!n || !n.IsScalar()) return yaml_error(name, n ? n.Mark() : YAML::Mark(), std::string(what) + ": expected a number");
    const std::string& s = n.Scalar();
    // Offsets are written as 0x... hex, counts as decimal.
    bool hexa = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    const std::string digits = hexa ? s.substr(2) : s;
    if (digits.empty()) return yaml_error(name, n.Mark(), std::string(what) + ": expected a number, got '" + s + "'");
    uint64_t v = 0;
    for (char c : digits) {
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (hexa && c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (hexa && c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else return yaml_error(name, n.Mark(), std::string(what) + ": expected a number, got '" + s + "'");
      v = v * (hexa ? 16 : 10) + uint64_t(d);
    }
    return v;
  }

  Expected<Source> source(const YAML::Node& fact, const char* what) const {
    auto n = fact["source"];
    if (!n) return Source::VersionRule;
    auto s = source_from_name(n.Scalar());
    if (!s) return yaml_error(name, n.Mark(), std::string(what) + ": unknown source '" + n.Scalar() + "'");
    return *s;
  }

  Expected<bool> boolean(const YAML::Node& n, const char* what) const {
    if (!n || !n.IsScalar()) return yaml_error(name, n ? n.Mark() : YAML::Mark(), std::string(what) + ": expected true/false");
    if (n.Scalar() == "true") return true;
    if (n.Scalar() == "false") return false;
    return yaml_error(name, n.Mark(), std::string(what) + ": expected true/false, got '" + n.Scalar() + "'");
  }

  Status fact_u64(const YAML::Node& parent, const char* key, Fact<uint64_t>& out) const {
    auto n = parent[key];
    if (!n) return yaml_error(name, parent.Mark(), std::string("missing '") + key + "'");
    if (!n.IsMap()) return yaml_error(name, n.Mark(), std::string("'") + key + "' must be {value, source}");
    VK_TRY(v, num(n["value"], key));
    VK_TRY(s, source(n, key));
    out = {v, s};
    return Status::ok();
  }

  Status fact_bool(const YAML::Node& parent, const char* key, Fact<bool>& out) const {
    auto n = parent[key];
    if (!n) return yaml_error(name, parent.Mark(), std::string("missing '") + key + "'");
    if (!n.IsMap()) return yaml_error(name, n.Mark(), std::string("'") + key + "' must be {value, source}");
    VK_TRY(v, boolean(n["value"], key));
    VK_TRY(s, source(n, key));
    out = {v, s};
    return Status::ok();
  }

  Expected<Entry> entry(const YAML::Node& n) const {
    if (!n.IsMap()) return yaml_error(name, n.Mark(), "an entry must be a mapping");
    Entry e;
    VK_TRY(id, str(n, "id", true));
    e.id = id;
    VK_TRY(release, str(n, "release", true));
    e.release = release;
    VK_TRY(version, str(n, "version"));
    e.version = version;
    if (n["version_code"]) {
      VK_TRY(vc, num(n["version_code"], "version_code"));
      e.version_code = uint32_t(vc);
    } else {
      e.version_code = parse_version(e.version);
    }
    VK_TRY(flavour, str(n, "flavour"));
    e.flavour = flavour;
    VK_TRY(distribution, str(n, "distribution"));
    e.distribution = distribution;
    if (auto p = n["package"]) {
      if (!p.IsMap()) return yaml_error(name, p.Mark(), "'package' must be a mapping");
      VK_TRY(pn, str(p, "name"));
      VK_TRY(pv, str(p, "version"));
      VK_TRY(ps, str(p, "sha256"));
      VK_TRY(su, str(p, "suite"));
      e.package = pn, e.package_version = pv, e.package_sha256 = ps, e.suite = su;
    }
    VK_TRY(abi, str(n, "abi", true));
    auto a = vdso::abi_from_name(abi);
    if (!a) return yaml_error(name, n["abi"].Mark(), "unknown abi '" + abi + "'");
    e.abi = *a;
    VK_TRY(compiler, str(n, "compiler"));
    e.compiler = compiler;
    VK_TRY(file, str(n, "file", true));
    e.file = file;
    VK_TRY(sha, str(n, "sha256", true));
    e.sha256 = sha;
    VK_TRY(size, num(n["size"], "size"));
    e.size = size;
    if (n["synthetic"]) {
      VK_TRY(syn, boolean(n["synthetic"], "synthetic"));
      e.synthetic = syn;
    }
    auto lay = n["layout"];
    if (!lay || !lay.IsMap()) return yaml_error(name, n.Mark(), "entry '" + e.id + "': missing 'layout' mapping");
    Fact<uint64_t> vp;
    VK_CHECK(fact_u64(lay, "vdso_pages", vp));
    e.vdso_pages = vp.value;
    e.vdso_pages_source = vp.source;
    VK_CHECK(fact_u64(lay, "vvar_pages", e.vvar_pages));
    VK_CHECK(fact_u64(lay, "vvar_vclock_pages", e.vvar_vclock_pages));
    auto on = lay["order"];
    if (!on || !on.IsMap()) return yaml_error(name, lay.Mark(), "missing 'order' {value, source}");
    VK_TRY(ov, str(on, "value", true));
    auto o = order_from_name(ov);
    if (!o) return yaml_error(name, on["value"].Mark(), "unknown order '" + ov + "'");
    VK_TRY(os, source(on, "order"));
    e.order = {*o, os};
    auto caps = n["capabilities"];
    if (!caps || !caps.IsMap()) return yaml_error(name, n.Mark(), "entry '" + e.id + "': missing 'capabilities' mapping");
    VK_CHECK(fact_bool(caps, "vdso_name_survives_mremap", e.vdso_name_survives_mremap));
    VK_CHECK(fact_bool(caps, "arch_map_vdso", e.arch_map_vdso));
    VK_CHECK(fact_bool(caps, "vvar_vclock", e.has_vvar_vclock));
    auto syms = n["symbols"];
    if (syms) {
      if (!syms.IsSequence()) return yaml_error(name, syms.Mark(), "'symbols' must be a list");
      for (const auto& s : syms) {
        if (!s.IsMap()) return yaml_error(name, s.Mark(), "a symbol must be a mapping");
        Symbol sym;
        VK_TRY(sn, str(s, "name", true));
        VK_TRY(sv, str(s, "version"));
        VK_TRY(st, str(s, "type"));
        VK_TRY(sb, str(s, "bind"));
        VK_TRY(so, num(s["offset"], "offset"));
        VK_TRY(sz, num(s["size"], "size"));
        sym.name = sn, sym.version = sv, sym.type = st, sym.bind = sb, sym.offset = so, sym.size = sz;
        e.symbols.push_back(std::move(sym));
      }
    }
    return e;
  }
};

void fact(YAML::Emitter& out, const char* key, const std::string& value, Source s) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "value" << YAML::Value
      << value << YAML::Key << "source" << YAML::Value << source_name(s) << YAML::EndMap;
}

}  // namespace

Expected<Catalog> Catalog::parse(const std::string& yaml, const std::string& name, const std::string& dir) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& ex) {
    return yaml_error(name, ex.mark, ex.msg);
  }
  Catalog cat;
  cat.dir_ = dir;
  if (!root || root.IsNull()) return cat;   // an empty file is an empty catalog
  if (!root.IsMap()) return yaml_error(name, root.Mark(), "a catalog is a mapping with 'entries'");
  Reader r{name};
  try {
    if (auto schema = root["schema"]; schema && schema.Scalar() != "vdsokit.catalog/1" &&
                                                   schema.Scalar() != "vdsokit-catalog/1")   // the id before 0.1.0's rename
      return yaml_error(name, schema.Mark(), "unknown schema '" + schema.Scalar() + "'");
    auto entries = root["entries"];
    if (!entries) return cat;
    if (!entries.IsSequence()) return yaml_error(name, entries.Mark(), "'entries' must be a list");
    for (const auto& n : entries) {
      VK_TRY(e, r.entry(n));
      if (cat.find(e.id)) return yaml_error(name, n.Mark(), "duplicate id '" + e.id + "'");
      fs::path p(e.file);
      std::string id = e.id;
      cat.paths_[id] = p.is_absolute() || dir.empty() ? p.string() : (fs::path(dir) / p).lexically_normal().string();
      cat.by_id_[id] = cat.entries_.size();
      cat.entries_.push_back(std::move(e));
    }
    cat.reindex();
  } catch (const YAML::Exception& ex) {
    return yaml_error(name, ex.mark, ex.msg);
  }
  return cat;
}

Expected<Catalog> Catalog::load(const std::string& path) {
  VK_TRY(text, read_file(path, 64u << 20));
  std::string dir = fs::absolute(fs::path(path)).parent_path().string();
  return parse(std::string(text.begin(), text.end()), path, dir);
}

void Catalog::reindex() {
  by_id_.clear();
  by_sha_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) {
    by_id_[entries_[i].id] = i;
    // A synthetic entry may reuse a real build's file: the hash must keep naming the real build.
    if (!entries_[i].synthetic) by_sha_.emplace(entries_[i].sha256, i);
  }
}

void Catalog::add(Entry e) {
  auto it = by_id_.find(e.id);
  if (it != by_id_.end()) {
    entries_[it->second] = std::move(e);
  } else {
    entries_.push_back(std::move(e));
  }
  reindex();
}

void Catalog::add(Entry e, std::vector<uint8_t> bytes) {
  std::string id = e.id;
  auto owned = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  blobs_[id] = Held{owned, std::span<const uint8_t>(*owned)};
  if (!dir_.empty()) paths_[id] = (fs::path(dir_) / e.file).string();
  add(std::move(e));
}

Status Catalog::merge(const Catalog& other) {
  for (const auto& e : other.entries_) {
    blobs_.erase(e.id);
    paths_.erase(e.id);
    if (auto b = other.blobs_.find(e.id); b != other.blobs_.end()) blobs_[e.id] = b->second;
    if (auto p = other.paths_.find(e.id); p != other.paths_.end()) paths_[e.id] = p->second;
    auto it = by_id_.find(e.id);
    if (it != by_id_.end()) entries_[it->second] = e;
    else entries_.push_back(e);
    by_id_[e.id] = it != by_id_.end() ? it->second : entries_.size() - 1;
  }
  reindex();
  return Status::ok();
}

const Entry* Catalog::find(std::string_view id) const {
  auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? nullptr : &entries_[it->second];
}

std::vector<const Entry*> Catalog::lookup(std::string_view name, vdso::Abi abi) const {
  std::vector<const Entry*> out;
  auto want = [&](const Entry& e) { return abi == vdso::Abi::Unknown || e.abi == abi; };
  if (const Entry* e = find(name); e && want(*e)) return {e};
  for (const auto& e : entries_)
    if (want(e) && (e.id == std::string(name) + "/" + vdso::abi_name(e.abi) || e.release == name)) out.push_back(&e);
  std::sort(out.begin(), out.end(), [](const Entry* a, const Entry* b) { return a->id < b->id; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string Catalog::did_you_mean(const std::vector<std::string>& ids) {
  if (ids.empty()) return "";
  std::string msg = "; did you mean ";
  for (size_t i = 0; i < ids.size(); ++i) msg += (i ? i + 1 == ids.size() ? " or " : ", " : "") + ids[i];
  return msg + "?";
}

std::vector<std::string> Catalog::suggest(std::string_view name, size_t n) const {
  std::vector<std::string> out;
  uint32_t code = parse_version(name);
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& e : entries_) {
      if (out.size() >= n) return out;
      bool hit = pass == 0 ? (!name.empty() && (e.release.rfind(name, 0) == 0 || e.id.rfind(name, 0) == 0))
                           : (code && (e.version_code >> 8) == (code >> 8));
      if (hit && std::find(out.begin(), out.end(), e.id) == out.end()) out.push_back(e.id);
    }
  return out;
}

const Entry* Catalog::by_sha256(const std::string& sha) const {
  auto it = by_sha_.find(sha);
  return it == by_sha_.end() ? nullptr : &entries_[it->second];
}

std::span<const uint8_t> Catalog::held(const Entry& e) const {
  auto b = blobs_.find(e.id);
  return b == blobs_.end() ? std::span<const uint8_t>() : b->second.data;
}

Expected<std::vector<uint8_t>> Catalog::bytes(const Entry& e) const {
  if (auto b = blobs_.find(e.id); b != blobs_.end()) return std::vector<uint8_t>(b->second.data.begin(), b->second.data.end());
  std::string path;
  if (auto p = paths_.find(e.id); p != paths_.end()) path = p->second;
  else path = dir_.empty() ? e.file : (fs::path(dir_) / e.file).string();
  // A vDSO is a few pages; a user catalog naming anything larger is refused, not read.
  return read_file(path, 1u << 20);
}

std::string Catalog::to_yaml() const {
  // Names and strings come from user catalogs and kernel packages (untrusted): the output policy of
  // formats/common/text.h, invalid UTF-8 as \xNN and the document in ASCII (yaml-cpp escapes the rest).
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EscapeNonAscii);
  out << YAML::BeginMap;
  out << YAML::Key << "schema" << YAML::Value << "vdsokit.catalog/1";
  out << YAML::Key << "entries" << YAML::Value << YAML::BeginSeq;
  for (const auto& e : entries_) {
    out << YAML::BeginMap;
    out << YAML::Key << "id" << YAML::Value << utf8_escape(e.id);
    out << YAML::Key << "release" << YAML::Value << utf8_escape(e.release);
    out << YAML::Key << "version" << YAML::Value << YAML::DoubleQuoted << utf8_escape(e.version);
    out << YAML::Key << "version_code" << YAML::Value << e.version_code;
    out << YAML::Key << "flavour" << YAML::Value << utf8_escape(e.flavour);
    out << YAML::Key << "distribution" << YAML::Value << utf8_escape(e.distribution);
    if (e.synthetic) out << YAML::Key << "synthetic" << YAML::Value << true;
    out << YAML::Key << "package" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << utf8_escape(e.package);
    out << YAML::Key << "version" << YAML::Value << YAML::DoubleQuoted << utf8_escape(e.package_version);
    out << YAML::Key << "sha256" << YAML::Value << utf8_escape(e.package_sha256);
    out << YAML::Key << "suite" << YAML::Value << utf8_escape(e.suite);
    out << YAML::EndMap;
    out << YAML::Key << "abi" << YAML::Value << vdso::abi_name(e.abi);
    out << YAML::Key << "compiler" << YAML::Value << YAML::DoubleQuoted << utf8_escape(e.compiler);
    out << YAML::Key << "file" << YAML::Value << utf8_escape(e.file);
    out << YAML::Key << "sha256" << YAML::Value << utf8_escape(e.sha256);
    out << YAML::Key << "size" << YAML::Value << e.size;
    out << YAML::Key << "layout" << YAML::Value << YAML::BeginMap;
    fact(out, "vdso_pages", std::to_string(e.vdso_pages), e.vdso_pages_source);
    fact(out, "vvar_pages", std::to_string(e.vvar_pages.value), e.vvar_pages.source);
    fact(out, "vvar_vclock_pages", std::to_string(e.vvar_vclock_pages.value), e.vvar_vclock_pages.source);
    fact(out, "order", order_name(e.order.value), e.order.source);
    out << YAML::EndMap;
    out << YAML::Key << "capabilities" << YAML::Value << YAML::BeginMap;
    fact(out, "vdso_name_survives_mremap", e.vdso_name_survives_mremap.value ? "true" : "false",
         e.vdso_name_survives_mremap.source);
    fact(out, "arch_map_vdso", e.arch_map_vdso.value ? "true" : "false", e.arch_map_vdso.source);
    fact(out, "vvar_vclock", e.has_vvar_vclock.value ? "true" : "false", e.has_vvar_vclock.source);
    out << YAML::EndMap;
    out << YAML::Key << "symbols" << YAML::Value << YAML::BeginSeq;
    for (const auto& s : e.symbols) {
      out << YAML::Flow << YAML::BeginMap;
      out << YAML::Key << "name" << YAML::Value << utf8_escape(s.name);
      out << YAML::Key << "version" << YAML::Value << utf8_escape(s.version);
      out << YAML::Key << "offset" << YAML::Value << hex(s.offset);
      out << YAML::Key << "size" << YAML::Value << hex(s.size);
      out << YAML::Key << "type" << YAML::Value << utf8_escape(s.type);
      out << YAML::Key << "bind" << YAML::Value << utf8_escape(s.bind);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Status Catalog::save(const std::string& path) const {
  std::string text = to_yaml();
  return write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// ---- built-in ---------------------------------------------------------------------------------

struct Builtin {
  // From the rows generated at build time (builtin.h): no YAML parsing at start-up.
  static Catalog compiled(const std::map<std::string, const embedded::File*>& files) {
    Catalog c;
    c.entries_.reserve(embedded::kEntryCount);
    for (size_t i = 0; i < embedded::kEntryCount; ++i) {
      const auto& r = embedded::kEntries[i];
      Entry e;
      e.id = r.id, e.release = r.release, e.version = r.version, e.version_code = r.version_code;
      e.flavour = r.flavour, e.distribution = r.distribution, e.package = r.package;
      e.package_version = r.package_version, e.package_sha256 = r.package_sha256, e.suite = r.suite;
      e.abi = vdso::Abi(r.abi), e.compiler = r.compiler, e.file = r.file, e.sha256 = r.sha256;
      e.sha256_pages = r.sha256_pages;
      e.size = r.size, e.vdso_pages = r.vdso_pages, e.vdso_pages_source = Source(r.vdso_pages_source);
      e.vvar_pages = {r.vvar_pages, Source(r.vvar_pages_source)};
      e.vvar_vclock_pages = {r.vvar_vclock_pages, Source(r.vvar_vclock_pages_source)};
      e.order = {Order(r.order), Source(r.order_source)};
      e.vdso_name_survives_mremap = {r.name_survives_mremap, Source(r.name_survives_mremap_source)};
      e.arch_map_vdso = {r.arch_map_vdso, Source(r.arch_map_vdso_source)};
      e.has_vvar_vclock = {r.has_vvar_vclock, Source(r.has_vvar_vclock_source)};
      e.synthetic = r.synthetic;
      e.symbols.reserve(r.symbol_count);
      for (size_t k = r.first_symbol; k < r.first_symbol + r.symbol_count; ++k) {
        const auto& s = embedded::kSymbols[k];
        e.symbols.push_back(Symbol{s.name, s.version, s.type, s.bind, s.offset, s.size});
      }
      c.paths_[e.id] = "<built-in>/" + e.file;
      if (auto f = files.find(e.file); f != files.end()) c.blobs_[e.id] = Catalog::Held{nullptr, {f->second->data, f->second->size}};
      c.entries_.push_back(std::move(e));
    }
    c.reindex();
    return c;
  }

  static Catalog make() {
    using embedded::kFiles;
    std::map<std::string, const embedded::File*> files;
    for (size_t i = 0; i < embedded::kFileCount; ++i) files[kFiles[i].path] = &kFiles[i];
    if (&embedded::kEntryCount != nullptr && embedded::kEntryCount > 0) return compiled(files);
    auto y = files.find("catalog.yaml");
    if (y == files.end()) return Catalog{};
    std::string text(reinterpret_cast<const char*>(y->second->data), y->second->size);
    auto cat = Catalog::parse(text, "<built-in>/catalog.yaml", "");
    if (!cat) {
      // The build embeds a catalog that `catalog verify` checked; failing here is a build defect.
      std::fprintf(stderr, "vdsokit: built-in catalog: %s\n", cat.error().str().c_str());
      return Catalog{};
    }
    Catalog c = cat.take();
    for (const auto& e : c.entries_) {
      auto f = files.find(e.file);
      if (f != files.end()) c.blobs_[e.id] = Catalog::Held{nullptr, {f->second->data, f->second->size}};
      c.paths_[e.id] = "<built-in>/" + e.file;
    }
    return c;
  }
};

const Catalog& Catalog::builtin() {
  static const Catalog c = Builtin::make();
  return c;
}

Expected<std::string> sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return bad_input(path, "cannot open");
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    auto n = in.gcount();
    if (n > 0) h.update(std::span(reinterpret_cast<const uint8_t*>(buf.data()), size_t(n)));
  }
  if (in.bad()) return bad_input(path, "cannot read");
  return h.hex();
}

Expected<Catalog> effective_catalog(const std::vector<std::string>& extra, bool with_builtin) {
  Catalog c = with_builtin ? Catalog::builtin() : Catalog{};
  for (const auto& path : extra) {
    VK_TRY(more, Catalog::load(path));
    VK_CHECK(c.merge(more));
  }
  return c;
}

}  // namespace vk::catalog
