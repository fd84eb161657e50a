// vdsokit catalog list|show|verify|add|import-deb|rebuild (docs/catalog.md, docs/cli.md)
#include <algorithm>
#include "formats/common/text.h"
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analyzers/inspect.h"
#include "cli/common.h"
#include "formats/catalog/catalog.h"
#include "formats/catalog/host.h"
#include "formats/common/atomic.h"
#include "formats/common/sha256.h"
#include "formats/kernel/carve.h"

namespace vk::cli {

namespace {

namespace fs = std::filesystem;
using catalog::Catalog;
using catalog::Entry;
using ojson = nlohmann::ordered_json;

std::string flavour_of(const std::string& release) {
  size_t pos = 0;
  while ((pos = release.find('-', pos)) != std::string::npos) {
    ++pos;
    if (pos < release.size() && std::isalpha(static_cast<unsigned char>(release[pos]))) return release.substr(pos);
  }
  return "";
}

ojson fact_json(const std::string& v, catalog::Source s) { return {{"value", v}, {"source", catalog::source_name(s)}}; }
ojson fact_json(uint64_t v, catalog::Source s) { return {{"value", v}, {"source", catalog::source_name(s)}}; }
ojson fact_json(bool v, catalog::Source s) { return {{"value", v}, {"source", catalog::source_name(s)}}; }

ojson entry_json(const Entry& e, bool symbols) {
  ojson j;
  j["id"] = e.id;
  j["release"] = e.release;
  j["version"] = e.version;
  j["version_code"] = e.version_code;
  j["flavour"] = e.flavour;
  j["distribution"] = e.distribution;
  j["synthetic"] = e.synthetic;
  j["package"] = {{"name", e.package}, {"version", e.package_version}, {"sha256", e.package_sha256}, {"suite", e.suite}};
  j["abi"] = vdso::abi_name(e.abi);
  j["compiler"] = e.compiler;
  j["file"] = e.file;
  j["sha256_elf"] = e.sha256;   // the key identify and inspect use for the ELF image
  j["size"] = e.size;
  j["layout"] = {{"vdso_pages", fact_json(e.vdso_pages, e.vdso_pages_source)},
                 {"vvar_pages", fact_json(e.vvar_pages.value, e.vvar_pages.source)},
                 {"vvar_vclock_pages", fact_json(e.vvar_vclock_pages.value, e.vvar_vclock_pages.source)},
                 {"order", fact_json(std::string(catalog::order_name(e.order.value)), e.order.source)}};
  j["capabilities"] = {
      {"vdso_name_survives_mremap", fact_json(e.vdso_name_survives_mremap.value, e.vdso_name_survives_mremap.source)},
      {"arch_map_vdso", fact_json(e.arch_map_vdso.value, e.arch_map_vdso.source)},
      {"vvar_vclock", fact_json(e.has_vvar_vclock.value, e.has_vvar_vclock.source)}};
  if (symbols) {
    auto a = ojson::array();
    for (const auto& s : e.symbols)
      a.push_back({{"name", s.name}, {"version", s.version}, {"offset", hex(s.offset)}, {"size", s.size},
                   {"type", s.type}, {"bind", s.bind}});
    j["symbols"] = a;
  }
  j["symbol_count"] = e.symbols.size();   // one type per key: the list only in detail, the count always
  return j;
}

std::string render_entries(const std::vector<const Entry*>& es, const std::string& format, bool detail) {
  if (format == "json" || format == "yaml") {
    auto a = ojson::array();
    for (const auto* e : es) a.push_back(entry_json(*e, detail));
    ojson doc{{"schema", "vdsokit.catalog/1"}, {"entries", a}};
    return format == "json" ? dump_json(doc, 2) + "\n" : analyze::json_to_yaml(doc);
  }
  std::ostringstream o;
  if (!detail) {
    o << "id                                        version   abi     vdso vvar vclock order             syms\n";
    for (const auto* e : es) {
      char line[256];
      std::snprintf(line, sizeof line, "%-41s %-9s %-7s %4llu %4llu %6llu %-17s %4zu%s\n", e->id.c_str(),
                    e->version.c_str(), vdso::abi_name(e->abi), (unsigned long long)e->vdso_pages,
                    (unsigned long long)e->vvar_pages.value, (unsigned long long)e->vvar_vclock_pages.value,
                    catalog::order_name(e->order.value), e->symbols.size(), e->synthetic ? "  synthetic" : "");
      o << line;
    }
    o << es.size() << " entries\n";
    return o.str();
  }
  for (const auto* e : es) {
    auto src = [](catalog::Source s) { return std::string(" (") + catalog::source_name(s) + ")"; };
    o << e->id << (e->synthetic ? "  [SYNTHETIC: hand-made, no real build]" : "") << "\n";
    o << "  release       " << e->release << " (" << e->distribution << ", flavour " << e->flavour << ")\n";
    o << "  version       " << e->version << " (code " << hex(e->version_code) << ")\n";
    if (!e->package.empty())
      o << "  package       " << e->package << " " << e->package_version << " [" << e->suite << "] sha256 "
        << e->package_sha256 << "\n";
    o << "  abi           " << vdso::abi_name(e->abi) << "\n";
    o << "  compiler      " << e->compiler << "\n";
    o << "  file          " << e->file << " (" << e->size << " bytes, sha256 " << e->sha256 << ")\n";
    o << "  layout        [vdso] " << e->vdso_pages << " pages" << src(e->vdso_pages_source) << "; [vvar] "
      << e->vvar_pages.value << src(e->vvar_pages.source) << "; [vvar_vclock] " << e->vvar_vclock_pages.value
      << src(e->vvar_vclock_pages.source) << "; " << catalog::order_name(e->order.value) << src(e->order.source)
      << "\n";
    o << "  capabilities  name survives mremap: " << (e->vdso_name_survives_mremap.value ? "yes" : "no")
      << src(e->vdso_name_survives_mremap.source) << "; ARCH_MAP_VDSO: " << (e->arch_map_vdso.value ? "yes" : "no")
      << src(e->arch_map_vdso.source) << "; [vvar_vclock]: " << (e->has_vvar_vclock.value ? "yes" : "no")
      << src(e->has_vvar_vclock.source) << "\n";
    o << "  symbols (" << e->symbols.size() << ")\n";
    for (const auto& s : e->symbols) {
      char line[256];
      std::snprintf(line, sizeof line, "    %#8llx %5llu %-6s %-6s %-32s %s\n", (unsigned long long)s.offset,
                    (unsigned long long)s.size, s.type.c_str(), s.bind.c_str(), s.name.c_str(), s.version.c_str());
      o << line;
    }
  }
  return o.str();
}

// Every entry's bytes against its hash and libObject's symbol view (docs/catalog.md "verify").
std::vector<std::string> verify_entry(const Catalog& cat, const Entry& e) {
  std::vector<std::string> bad;
  auto b = cat.bytes(e);
  if (!b) return {b.error().str()};
  if (b->size() != e.size) bad.push_back("size " + std::to_string(b->size()) + ", catalog says " + std::to_string(e.size));
  if (sha256_hex(*b) != e.sha256) bad.push_back("sha256 " + sha256_hex(*b) + ", catalog says " + e.sha256);
  auto v = vdso::parse(e.file, b.take());
  if (!v) return bad.push_back(v.error().str()), bad;
  if (v->abi != e.abi) bad.push_back(std::string("abi ") + vdso::abi_name(v->abi));
  if (v->symbols.size() != e.symbols.size())
    bad.push_back(std::to_string(v->symbols.size()) + " symbols, catalog lists " + std::to_string(e.symbols.size()));
  for (size_t i = 0; i < std::min(v->symbols.size(), e.symbols.size()); ++i) {
    const auto& a = v->symbols[i];
    const auto& c = e.symbols[i];
    if (a.name != c.name || a.version != c.version || a.offset != c.offset || a.size != c.size || a.type != c.type ||
        a.bind != c.bind)
      bad.push_back("symbol " + std::to_string(i) + ": libObject " + a.name + "@" + hex(a.offset) + ", catalog " +
                    c.name + "@" + hex(c.offset));
  }
  return bad;
}

Expected<Catalog> load_or_empty(const std::string& path) {
  if (!fs::exists(path)) {
    auto c = Catalog::parse("", path, fs::absolute(path).parent_path().string());
    return c;
  }
  return Catalog::load(path);
}

// Writes `bytes` beside the user catalog and the catalog itself, both atomically.
Status save_with_file(Catalog& cat, const std::string& cat_path, Entry e, const std::vector<uint8_t>& bytes) {
  fs::path dir = fs::absolute(cat_path).parent_path();
  fs::path file = dir / e.file;
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) return bad_input(file.parent_path().string(), "cannot create: " + ec.message());
  VK_CHECK(write_file_atomic(file.string(), bytes));
  cat.add(std::move(e), bytes);
  return cat.save(cat_path);
}

Expected<catalog::Order> parse_order(const std::string& s) {
  auto o = catalog::order_from_name(s);
  if (!o) return usage_error("order must be vvar-before-vdso, vdso-before-vvar or single-zone, got '" + s + "'");
  return *o;
}

// "vvar=4,vclock=2,order=vvar-before-vdso[,vdso=2]"
Status apply_layout(Entry& e, const std::string& spec) {
  std::stringstream ss(spec);
  std::string kv;
  while (std::getline(ss, kv, ',')) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) return usage_error("--layout wants key=value pairs, got '" + kv + "'");
    std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    auto num = [&](uint64_t& out) -> Status {
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
        return usage_error("--layout " + k + " wants a page count, got '" + v + "'");
      out = std::stoull(v);
      return Status::ok();
    };
    if (k == "vvar") {
      VK_CHECK(num(e.vvar_pages.value));
      e.vvar_pages.source = catalog::Source::User;
    } else if (k == "vclock" || k == "vvar_vclock") {
      VK_CHECK(num(e.vvar_vclock_pages.value));
      e.vvar_vclock_pages.source = catalog::Source::User;
      e.has_vvar_vclock = {e.vvar_vclock_pages.value > 0, catalog::Source::User};
    } else if (k == "vdso") {
      VK_CHECK(num(e.vdso_pages));
      e.vdso_pages_source = catalog::Source::User;
    } else if (k == "order") {
      VK_TRY(o, parse_order(v));
      e.order = {o, catalog::Source::User};
    } else
      return usage_error("--layout: unknown key '" + k + "' (vvar, vclock, vdso, order)");
  }
  return Status::ok();
}

int cmd_add_file(const std::string& file, const std::string& release, const std::string& layout,
                 const std::string& cat_path) {
  auto raw = read_file(file, 64u << 20);
  if (!raw) return report(raw.error());
  auto v = vdso::parse(file, *raw);
  if (!v) return report(v.error());
  if (!v->elf || v->elf_size == 0 || v->elf_size > raw->size()) return report(bad_input(file, "not a vDSO ELF image"));
  std::vector<uint8_t> elf(raw->begin(), raw->begin() + long(v->elf_size));
  auto e = catalog::entry_from_vdso(file, elf);
  if (!e) return report(e.error());
  e->release = release;
  e->id = release + "/" + vdso::abi_name(e->abi);
  e->flavour = flavour_of(release);
  e->distribution = "user";
  e->file = release + "/" + vdso::abi_name(e->abi) + ".so";
  if (e->version.empty()) {
    e->version_code = catalog::parse_version(release);
    e->version = catalog::version_string(e->version_code);
    catalog::apply_version_rules(*e, true);
  }
  if (!layout.empty())
    if (auto st = apply_layout(*e, layout); !st) return report(st.error());
  auto cat = load_or_empty(cat_path);
  if (!cat) return report(cat.error());
  if (auto st = save_with_file(*cat, cat_path, *e, elf); !st) return report(st.error());
  std::cout << "added " << e->id << " to " << cat_path << "\n";
  return kExitOk;
}

int cmd_add_host(const std::string& cat_path, const std::vector<std::string>& abis) {
  auto cat = load_or_empty(cat_path);
  if (!cat) return report(cat.error());
  int added = 0;
  for (const auto& name : abis) {
    auto abi = vdso::abi_from_name(name);
    if (!abi) return report(usage_error("unknown abi '" + name + "'"));
    auto h = catalog::host_capture(*abi);
    if (!h) {
      std::cout << "not added: host/" << name << ": " << h.error().str() << "\n";
      continue;
    }
    if (auto st = save_with_file(*cat, cat_path, h->entry, h->bytes); !st) return report(st.error());
    const auto& e = h->entry;
    std::cout << "added " << e.id << " (" << e.release << ", " << e.version << "): [vdso] " << e.vdso_pages
              << " pages, [vvar] " << e.vvar_pages.value << ", [vvar_vclock] " << e.vvar_vclock_pages.value << ", "
              << catalog::order_name(e.order.value) << ", " << e.symbols.size() << " symbols\n";
    ++added;
  }
  if (!added) return report(bad_input("host", "no host vDSO could be added"));
  return kExitOk;
}

// Debian file names: <package>_<version>_<arch>.deb
void deb_name_version(const std::string& path, std::string& name, std::string& version) {
  std::string base = fs::path(path).filename().string();
  auto a = base.find('_');
  auto b = a == std::string::npos ? a : base.find('_', a + 1);
  if (a == std::string::npos || b == std::string::npos) return;
  name = base.substr(0, a);
  version = base.substr(a + 1, b - a - 1);
  for (size_t p; (p = version.find("%3a")) != std::string::npos;) version.replace(p, 3, ":");
}

int cmd_import_deb(const std::string& deb, const std::string& cat_path) {
  auto r = kernel::carve_file(deb);
  if (!r) return report(r.error());
  if (r->release.empty()) return report(bad_input(deb, "cannot tell the kernel release from " + r->vmlinuz_path));
  auto sha = catalog::sha256_file(deb);
  if (!sha) return report(sha.error());
  auto cat = load_or_empty(cat_path);
  if (!cat) return report(cat.error());
  std::string pkg, pkg_version;
  deb_name_version(deb, pkg, pkg_version);
  for (const auto& img : r->images) {
    auto e = catalog::entry_from_vdso(deb + ":" + img.abi, img.bytes);
    if (!e) return report(e.error());
    e->release = r->release;
    e->id = r->release + "/" + img.abi;
    e->flavour = flavour_of(r->release);
    e->distribution = "debian";
    e->package = pkg, e->package_version = pkg_version, e->package_sha256 = *sha;
    e->file = r->release + "/" + img.abi + ".so";
    if (auto st = save_with_file(*cat, cat_path, *e, img.bytes); !st) return report(st.error());
    std::cout << "added " << e->id << " (" << e->size << " bytes, " << e->symbols.size() << " symbols)\n";
  }
  return kExitOk;
}

// corpora/kernels/<release>/{build.json,<abi>.so} (+ corpora/layouts/<release>/<abi>.maps) -> catalog.
int cmd_rebuild(const std::string& from, const std::string& layouts, const std::string& out, bool synthetic) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(from, ec))
    if (d.is_directory() && fs::exists(d.path() / "build.json")) dirs.push_back(d.path());
  if (ec) return report(bad_input(from, "cannot list: " + ec.message()));
  std::sort(dirs.begin(), dirs.end());
  fs::path out_dir = fs::absolute(out).parent_path();
  std::vector<Entry> entries;
  for (const auto& d : dirs) {
    std::string bj = (d / "build.json").string();
    auto text = read_file(bj, 1 << 20);
    if (!text) return report(text.error());
    nlohmann::json b = nlohmann::json::parse(text->begin(), text->end(), nullptr, false);
    if (b.is_discarded() || !b.is_object() || !b.contains("vdso")) return report(bad_input(bj, "not a kernel build.json"));
    std::string release = b.value("release", d.filename().string());
    for (auto& [abi, meta] : b["vdso"].items()) {
      fs::path so = d / meta.value("file", abi + ".so");
      auto bytes = read_file(so.string(), kernel::kMaxVdsoImage);
      if (!bytes) return report(bytes.error());
      auto e = catalog::entry_from_vdso(so.string(), *bytes);
      if (!e) return report(e.error());
      if (e->size != bytes->size()) return report(bad_input(so.string(), "file is not exactly one ELF image"));
      if (meta.contains("sha256") && meta["sha256"] != e->sha256)
        return report(bad_input(so.string(), "sha256 differs from build.json"));
      e->id = release + "/" + abi;
      e->release = release;
      e->flavour = b.value("flavour", flavour_of(release));
      e->distribution = "debian";
      e->package = b.value("package", "");
      e->package_version = b.value("version", "");
      e->package_sha256 = b.value("deb_sha256", "");
      e->suite = b.value("suite", "");
      // Lexically, so that a symlinked corpus keeps the same relative names.
      e->file = fs::absolute(so).lexically_normal().lexically_relative(out_dir.lexically_normal()).string();
      // Layout observed under qemu (kernel-corpus.md "Observing the runtime layout") beats the rules.
      fs::path maps = fs::path(layouts) / release / (abi + ".maps");
      if (!layouts.empty() && fs::exists(maps)) {
        auto mt = read_file(maps.string(), 1 << 20);
        if (!mt) return report(mt.error());
        auto l = catalog::layout_from_maps(std::string(mt->begin(), mt->end()), maps.string());
        if (!l) return report(l.error());
        const auto q = catalog::Source::QemuObserved;
        e->vdso_pages = l->vdso_pages, e->vdso_pages_source = q;
        e->vvar_pages = {l->vvar_pages, q};
        e->vvar_vclock_pages = {l->vvar_vclock_pages, q};
        e->order = {l->order, q};
        e->has_vvar_vclock = {l->vvar_vclock_pages > 0, q};
      }
      entries.push_back(e.take());
    }
  }
  if (entries.empty()) return report(bad_input(from, "no <release>/build.json found"));
  auto abi_rank = [](vdso::Abi a) { return a == vdso::Abi::X86_64 ? 0 : a == vdso::Abi::I386 ? 1 : 2; };
  std::sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    if (a.version_code != b.version_code) return a.version_code < b.version_code;
    if (a.release != b.release) return a.release < b.release;
    return abi_rank(a.abi) < abi_rank(b.abi);
  });
  Catalog cat;
  if (synthetic) {
    // One hand-made pre-3.16 entry (kernel-corpus.md: no such kernel is available) so the
    // single-zone layout has a catalog entry; it borrows the oldest x86_64 build's bytes and says so.
    auto base = std::find_if(entries.begin(), entries.end(), [](const Entry& e) { return e.abi == vdso::Abi::X86_64; });
    if (base != entries.end()) {
      Entry s = *base;
      s.id = "synthetic-3.10/x86_64";
      s.release = "3.10.0-synthetic";
      s.version_code = catalog::version_code(3, 10, 0);
      s.version = "3.10.0";
      s.flavour = "synthetic";
      s.distribution = "synthetic (bytes and symbols borrowed from " + base->id + ")";
      s.package = s.package_version = s.package_sha256 = s.suite = "";
      s.synthetic = true;
      catalog::apply_version_rules(s, true);
      const auto syn = catalog::Source::Synthetic;
      s.vdso_pages = 2, s.vdso_pages_source = syn;
      s.vvar_pages.source = s.vvar_vclock_pages.source = s.order.source = syn;
      cat.add(std::move(s));
    }
  }
  for (auto& e : entries) cat.add(std::move(e));
  if (auto st = cat.save(out); !st) return report(st.error());
  std::cout << "wrote " << out << ": " << cat.entries().size() << " entries from " << dirs.size() << " builds\n";
  return kExitOk;
}

}  // namespace

void add_catalog(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("catalog", "The catalog of real kernel vDSO builds: list, show, verify, add, import");
  cmd->require_subcommand(1);

  struct Opts {
    std::vector<std::string> catalogs;
    bool no_builtin = false;
    std::string format = "text";
    std::string abi, min_version, max_version, id;
    bool host = false;
    std::vector<std::string> host_abis{"x86_64", "i386", "x32"};
    std::string file, release, layout, deb, from, layouts, output;
    bool no_synthetic = false;
  };
  auto o = std::make_shared<Opts>();
  auto common = [&](CLI::App* c) {
    add_catalogs(*c, o->catalogs, "A user catalog.yaml merged over the built-in one (repeatable; later wins)");
    c->add_flag("--no-builtin", o->no_builtin, "Leave the built-in catalog out");
  };
  auto load = [o]() { return catalog::effective_catalog(o->catalogs, !o->no_builtin); };

  auto* list = cmd->add_subcommand("list", "List entries");
  common(list);
  add_format(*list, o->format, {"text", "json", "yaml"});
  list->add_option("--abi", o->abi, "Only this ABI (x86_64, i386, x32)");
  list->add_option("--min-version", o->min_version, "Only kernels >= this upstream version (e.g. 6.1)");
  list->add_option("--max-version", o->max_version, "Only kernels <= this upstream version (e.g. 6.12.999)");
  list->callback([o, load, &ctx] {
    auto cat = load();
    if (!cat) return void(ctx.exit_code = report(cat.error()));
    uint32_t lo = 0, hi = ~0u;
    if (!o->min_version.empty() && !(lo = catalog::parse_version(o->min_version)))
      return void(ctx.exit_code = report(usage_error("bad --min-version '" + o->min_version + "'")));
    if (!o->max_version.empty()) {
      hi = catalog::parse_version(o->max_version);
      if (!hi) return void(ctx.exit_code = report(usage_error("bad --max-version '" + o->max_version + "'")));
      // "6.12" means the whole 6.12 series.
      if (std::count(o->max_version.begin(), o->max_version.end(), '.') == 1) hi |= 0xff;
    }
    if (!o->abi.empty() && !vdso::abi_from_name(o->abi))
      return void(ctx.exit_code = report(usage_error("unknown --abi '" + o->abi + "'")));
    std::vector<const Entry*> es;
    for (const auto& e : cat->entries())
      if ((o->abi.empty() || o->abi == vdso::abi_name(e.abi)) && e.version_code >= lo && e.version_code <= hi)
        es.push_back(&e);
    ctx.exit_code = emit(render_entries(es, o->format, false), "");
  });

  auto* show = cmd->add_subcommand("show", "Show one entry: symbols, layout, provenance");
  common(show);
  add_format(*show, o->format, {"text", "json", "yaml"});
  show->add_option("id", o->id, "Entry id or release, e.g. 6.1.0-47-amd64/x86_64 or 6.1.0-47-amd64 (every ABI)")->required();
  show->callback([o, load, &ctx] {
    auto cat = load();
    if (!cat) return void(ctx.exit_code = report(cat.error()));
    // The same names check --target accepts: an id, or a release (all of its ABIs).
    auto es = cat->lookup(o->id);
    if (es.empty()) {
      std::string msg = "no catalog entry '" + o->id + "'";
      auto near = cat->suggest(o->id);
      msg += near.empty() ? " (see `vdsokit catalog list`)" : catalog::Catalog::did_you_mean(near);
      return void(ctx.exit_code = report(usage_error(msg)));
    }
    ctx.exit_code = emit(render_entries(es, o->format, true), "");
  });

  auto* verify = cmd->add_subcommand("verify", "Re-check every entry's file hash and symbols against libObject (exit 3 on mismatch)");
  common(verify);
  verify->callback([o, load, &ctx] {
    auto cat = load();
    if (!cat) return void(ctx.exit_code = report(cat.error()));
    size_t bad = 0;
    for (const auto& e : cat->entries()) {
      auto problems = verify_entry(*cat, e);
      if (problems.empty()) continue;
      ++bad;
      for (const auto& p : problems) std::cout << "MISMATCH " << e.id << ": " << p << "\n";
    }
    std::cout << "verified " << cat->entries().size() << " entries: " << (cat->entries().size() - bad) << " ok, "
              << bad << " mismatched\n";
    ctx.exit_code = bad ? kExitBadInput : kExitOk;
  });

  auto* add = cmd->add_subcommand("add", "Add the running kernel (--host) or a vDSO file to a user catalog");
  add_catalogs(*add, o->catalogs, "The user catalog.yaml to write (created when missing)")->required();
  add->add_flag("--host", o->host, "Add the running kernel's vDSO(s) as host/<abi>");
  add->add_option("--abi", o->host_abis, "With --host: which ABIs (default x86_64 i386 x32)");
  add->add_option("file", o->file, "A vDSO image (ELF, or dumped whole pages)");
  add->add_option("--release", o->release, "Kernel release (uname -r) of FILE");
  add->add_option("--layout", o->layout, "vvar=N,vclock=N,order=vvar-before-vdso|vdso-before-vvar|single-zone[,vdso=N]");
  add->callback([o, &ctx] {
    const std::string& target = o->catalogs.back();
    if (o->host) {
      if (!o->file.empty()) return void(ctx.exit_code = report(usage_error("--host takes no FILE")));
      ctx.exit_code = cmd_add_host(target, o->host_abis);
      return;
    }
    if (o->file.empty() || o->release.empty())
      return void(ctx.exit_code = report(usage_error("add wants --host, or FILE with --release")));
    ctx.exit_code = cmd_add_file(o->file, o->release, o->layout, target);
  });

  auto* imp = cmd->add_subcommand("import-deb", "Carve a linux-image/linux-binary .deb and add its vDSOs to a user catalog");
  imp->add_option("deb", o->deb, "The .deb (or a bare vmlinuz)")->required();
  add_catalogs(*imp, o->catalogs, "The user catalog.yaml to write (created when missing)")->required();
  imp->callback([o, &ctx] { ctx.exit_code = cmd_import_deb(o->deb, o->catalogs.back()); });

  auto* reb = cmd->add_subcommand("rebuild", "Regenerate a catalog from the kernel corpus (corpora/kernels) and observed layouts");
  reb->add_option("--from", o->from, "corpora/kernels")->required();
  reb->add_option("--layouts", o->layouts, "Observed layouts (<release>/<abi>.maps); default: <from>/../layouts");
  reb->add_option("-o,--output", o->output, "Catalog to write (atomically)")->required();
  reb->add_flag("--no-synthetic", o->no_synthetic, "Leave out the hand-made pre-3.16 entry");
  reb->callback([o, &ctx] {
    std::string layouts = o->layouts.empty() ? (fs::path(o->from) / ".." / "layouts").lexically_normal().string() : o->layouts;
    ctx.exit_code = cmd_rebuild(o->from, layouts, o->output, !o->no_synthetic);
  });
}

}  // namespace vk::cli
