// vdsokit kernel carve FILE.deb|vmlinuz --out DIR [--meta key=value]...
//   Carves every vDSO image (x86_64, i386, x32) out of a kernel package or bzImage into DIR/<abi>.so and
//   writes DIR/build.json (the build's provenance and per-image facts). Used by Makefile.kernels.
// vdsokit kernel vmlinuz FILE.deb -o OUT
//   Extracts the kernel image of a package (to boot it under qemu).
// vdsokit kernel layout --observed OBS --carved DIR [-o OUT.json]
//   Summarises a /proc/self/maps observed under qemu (vvar/vvar_vclock/vdso pages and order) and checks
//   that the runtime vDSO equals the carved one outside .altinstructions patch sites. Prints JSON.
#include <filesystem>
#include "formats/common/text.h"
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "formats/procmaps/maps.h"
#include "formats/common/atomic.h"
#include "formats/common/sha256.h"
#include "formats/common/source.h"
#include "formats/kernel/carve.h"
#include "formats/kernel/deb.h"

namespace vk::cli {

namespace {

using ojson = nlohmann::ordered_json;

std::string version_string(uint32_t code) {
  return std::to_string(code >> 16) + "." + std::to_string((code >> 8) & 0xff) + "." +
         std::to_string(code & 0xff);
}

Status write_text(const std::string& path, const std::string& text) {
  return write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

int carve(const std::string& input, const std::string& out_dir, const std::vector<std::string>& metas) {
  ojson meta = ojson::object();
  for (const auto& m : metas) {
    auto eq = m.find('=');
    if (eq == std::string::npos || eq == 0) return report(usage_error("--meta wants key=value, got '" + m + "'"));
    std::string key = m.substr(0, eq), val = m.substr(eq + 1);
    bool digits = !val.empty() && val.size() < 19 && val.find_first_not_of("0123456789") == std::string::npos;
    if (digits && key.ends_with("_size")) meta[key] = std::stoull(val);
    else meta[key] = val;
  }
  auto r = kernel::carve_file(input);
  if (!r) return report(r.error());
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return report(bad_input(out_dir, "cannot create directory: " + ec.message()));

  ojson doc = ojson::object();
  doc["schema"] = "vdsokit.kernel-build/1";
  if (!r->release.empty()) doc["release"] = r->release;
  for (auto& [k, v] : meta.items()) doc[k] = v;
  ojson src = ojson::object();
  src["vmlinuz_path"] = r->vmlinuz_path.empty() ? std::filesystem::path(input).filename().string() : r->vmlinuz_path;
  src["boot_protocol"] = std::to_string(r->bzimage.boot_protocol >> 8) + "." +
                         std::to_string(r->bzimage.boot_protocol & 0xff);
  src["setup_sects"] = r->bzimage.setup_sects;
  src["payload_offset"] = r->bzimage.payload_offset;
  src["payload_length"] = r->bzimage.payload_length;
  src["codec"] = kernel::codec_name(r->bzimage.codec);
  src["vmlinux_size"] = r->vmlinux_size;
  doc["source"] = src;

  ojson imgs = ojson::object();
  std::string compiler;
  for (const auto& v : r->images) {
    const std::string file = v.abi + ".so";
    auto st = write_file_atomic((std::filesystem::path(out_dir) / file).string(), v.bytes);
    if (!st) return report(st.error());
    ojson j = ojson::object();
    j["file"] = file;
    j["size"] = v.bytes.size();
    j["sha256"] = sha256_hex(v.bytes);
    j["soname"] = v.soname;
    j["vmlinux_offset"] = v.offset;
    j["compiler"] = v.comment;
    if (v.linux_version_code) {
      j["linux_version_code"] = *v.linux_version_code;
      j["linux_version"] = version_string(*v.linux_version_code);
    }
    j["build_salt"] = v.build_salt;
    auto alt = kernel::alt_patch_sites(v.bytes, file);
    if (alt) {
      j["altinstructions"] = {{"entry_size", alt->entry_size}, {"sites", alt->sites.size()}};
    }
    if (compiler.empty()) compiler = v.comment;
    imgs[v.abi] = j;
    std::cout << (r->release.empty() ? input : r->release) << " " << v.abi << " " << v.bytes.size()
              << " bytes at vmlinux+" << hex(v.offset) << " (" << v.comment << ")\n";
  }
  doc["compiler"] = compiler;
  doc["abis"] = ojson::array();
  for (const auto& v : r->images) doc["abis"].push_back(v.abi);
  doc["vdso"] = imgs;
  auto st = write_text((std::filesystem::path(out_dir) / "build.json").string(), dump_json(doc, 2) + "\n");
  if (!st) return report(st.error());
  return kExitOk;
}

Expected<ojson> layout_one(const std::string& maps_path, const std::string& carved_path,
                           const std::string& runtime_path) {
  VK_TRY(maps_bytes_v, read_file(maps_path, 1 << 20));
  auto* maps_bytes = &maps_bytes_v;
  VK_TRY(maps, procmaps::parse(std::string(maps_bytes->begin(), maps_bytes->end()), maps_path));
  ojson doc = ojson::object();
  ojson zones = ojson::array();
  const procmaps::Line* vdso = nullptr;
  const procmaps::Line* stack = nullptr;
  for (const auto& m : maps) {
    if (m.name == "[vdso]") vdso = &m;
    if (m.name == "[stack]") stack = &m;
    if (m.name == "[vvar]" || m.name == "[vvar_vclock]" || m.name == "[vdso]" || m.name == "[vsyscall]")
      zones.push_back({{"name", m.name}, {"pages", (m.end - m.start) / 4096}, {"perms", m.perms},
                       {"start", hex(m.start)}});
  }
  doc["zones"] = zones;
  // Order and adjacency of the vvar zones and the vDSO (each zone must end where the next starts).
  std::string order;
  bool contiguous = true;
  const procmaps::Line* prev = nullptr;
  for (const auto& m : maps) {
    if (m.name != "[vvar]" && m.name != "[vvar_vclock]" && m.name != "[vdso]") continue;
    order += (order.empty() ? "" : " ") + m.name;
    if (prev && prev->end != m.start) contiguous = false;
    prev = &m;
  }
  doc["order"] = order;
  doc["contiguous"] = contiguous;
  if (vdso && stack) doc["vdso_vs_stack"] = vdso->start > stack->start ? "above" : "below";
  if (!carved_path.empty() && !runtime_path.empty()) {
    VK_TRY(carved_v, read_file(carved_path, kernel::kMaxVdsoImage));
    VK_TRY(rt_v, read_file(runtime_path, 64 << 20));
    VK_TRY(alt_v, kernel::alt_patch_sites(carved_v, carved_path));
    auto* carved = &carved_v;
    auto* rt = &rt_v;
    auto* alt = &alt_v;
    ojson cmp = ojson::object();
    cmp["carved_size"] = carved->size();
    cmp["runtime_size"] = rt->size();
    cmp["alt_entry_size"] = alt->entry_size;
    cmp["patch_sites"] = alt->sites.size();
    auto in_site = [&](uint64_t b, uint64_t e) {
      for (const auto& s : alt->sites)
        if (b >= s.offset && e <= s.offset + s.length) return true;
      return false;
    };
    ojson diffs = ojson::array();
    bool outside = false;
    size_t n = std::min(carved->size(), rt->size());
    for (size_t i = 0; i < n;) {
      if ((*carved)[i] == (*rt)[i]) { ++i; continue; }
      size_t j = i;
      while (j < n && (*carved)[j] != (*rt)[j]) ++j;
      // A run of differing bytes is attributed to patch sites site by site.
      bool ok = true;
      for (size_t k = i; k < j; ++k) ok = ok && in_site(k, k + 1);
      outside = outside || !ok;
      diffs.push_back({{"offset", hex(i)}, {"length", j - i}, {"in_patch_site", ok}});
      i = j;
    }
    bool tail_zero = true;
    for (size_t i = n; i < rt->size(); ++i) tail_zero = tail_zero && (*rt)[i] == 0;
    cmp["runtime_covers_image"] = rt->size() >= carved->size();
    cmp["runtime_tail_zero"] = tail_zero;
    cmp["diff_ranges"] = diffs;
    cmp["equal_outside_patch_sites"] = !outside && rt->size() >= carved->size() && tail_zero;
    doc["compare"] = cmp;
  }
  return doc;
}

// OBS holds what the qemu probe printed, per ABI: <abi>.maps and <abi>.vdso (runtime bytes).
int layout(const std::string& obs_dir, const std::string& carved_dir, const std::vector<std::string>& metas,
           const std::string& out) {
  namespace fs = std::filesystem;
  ojson doc = ojson::object();
  doc["schema"] = "vdsokit.kernel-layout/1";
  for (const auto& m : metas) {
    auto eq = m.find('=');
    if (eq == std::string::npos || eq == 0) return report(usage_error("--meta wants key=value, got '" + m + "'"));
    doc[m.substr(0, eq)] = m.substr(eq + 1);
  }
  ojson abis = ojson::object();
  bool all_equal = true;
  for (const char* abi : {"x86_64", "i386", "x32"}) {
    std::string maps = (fs::path(obs_dir) / (std::string(abi) + ".maps")).string();
    if (!fs::exists(maps)) continue;
    std::string carved = (fs::path(carved_dir) / (std::string(abi) + ".so")).string();
    std::string rt = (fs::path(obs_dir) / (std::string(abi) + ".vdso")).string();
    if (!fs::exists(carved) || !fs::exists(rt)) carved.clear();
    auto j = layout_one(maps, carved, carved.empty() ? "" : rt);
    if (!j) return report(j.error());
    if (j->contains("compare")) all_equal = all_equal && (*j)["compare"]["equal_outside_patch_sites"].get<bool>();
    abis[abi] = j.take();
  }
  if (abis.empty()) return report(bad_input(obs_dir, "no <abi>.maps observed"));
  doc["equal_outside_patch_sites"] = all_equal;
  doc["abis"] = abis;
  return emit(dump_json(doc, 2) + "\n", out);
}

int extract_vmlinuz(const std::string& deb, const std::string& out) {
  auto f = kernel::deb_extract(deb, [](const std::string& p) { return kernel::is_vmlinuz_path(p); });
  if (!f) return report(f.error());
  auto st = write_file_atomic(out, f->bytes);
  if (!st) return report(st.error());
  std::cout << f->path << " -> " << out << " (" << f->bytes.size() << " bytes)\n";
  return kExitOk;
}

}  // namespace

void add_kernel(CLI::App& app, Context& ctx) {
  auto* kernel = app.add_subcommand("kernel", "Carve vDSO images out of real kernel builds (corpus tooling)");
  kernel->require_subcommand(1);

  struct CarveOpts {
    std::string input, out;
    std::vector<std::string> meta;
  };
  auto co = std::make_shared<CarveOpts>();
  auto* c = kernel->add_subcommand("carve", "Write every embedded vDSO of a kernel .deb or vmlinuz to DIR/<abi>.so");
  c->add_option("input", co->input, "A linux-image/linux-binary .deb or a bzImage (vmlinuz)")->required();
  c->add_option("--out", co->out, "Output directory")->required();
  c->add_option("--meta", co->meta, "key=value recorded in DIR/build.json (repeatable)");
  c->callback([co, &ctx] { ctx.exit_code = carve(co->input, co->out, co->meta); });

  auto vo = std::make_shared<std::pair<std::string, std::string>>();
  auto* v = kernel->add_subcommand("vmlinuz", "Extract the vmlinuz of a kernel .deb (for booting it under qemu)");
  v->add_option("deb", vo->first, "A linux-image/linux-binary .deb")->required();
  v->add_option("-o,--output", vo->second, "Where to write the vmlinuz")->required();
  v->callback([vo, &ctx] { ctx.exit_code = extract_vmlinuz(vo->first, vo->second); });

  struct LayoutOpts {
    std::string obs, carved, out;
    std::vector<std::string> meta;
  };
  auto lo = std::make_shared<LayoutOpts>();
  auto* l = kernel->add_subcommand("layout", "Summarise observed maps (OBS/<abi>.maps) and compare runtime vDSO dumps (OBS/<abi>.vdso) with the carved images");
  l->add_option("--observed", lo->obs, "Directory with <abi>.maps and <abi>.vdso from the qemu probe")->required();
  l->add_option("--carved", lo->carved, "Directory with the carved <abi>.so")->required();
  l->add_option("--meta", lo->meta, "key=value recorded in the output (repeatable)");
  l->add_option("-o,--output", lo->out, "Write the JSON here (atomically) instead of stdout");
  l->callback([lo, &ctx] { ctx.exit_code = layout(lo->obs, lo->carved, lo->meta, lo->out); });
}

}  // namespace vk::cli
