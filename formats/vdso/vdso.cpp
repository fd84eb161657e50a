#include "formats/vdso/vdso.h"

#include "formats/vdso/elfcheck.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/BinaryFormat/ELF.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/Object/ELFObjectFile.h>
#include <llvm/Support/MemoryBuffer.h>

#include <algorithm>
#include <map>

namespace vk::vdso {

namespace elf = llvm::ELF;
using llvm::object::ELFObjectFile;

const char* abi_name(Abi abi) {
  switch (abi) {
    case Abi::X86_64: return "x86_64";
    case Abi::I386: return "i386";
    case Abi::X32: return "x32";
    default: return "unknown";
  }
}

std::optional<Abi> abi_from_name(std::string_view n) {
  if (n == "x86_64") return Abi::X86_64;
  if (n == "i386") return Abi::I386;
  if (n == "x32") return Abi::X32;
  return std::nullopt;
}

const std::vector<std::string>& criu_proxy_symbols() {
  static const std::vector<std::string> names = {
      "__vdso_clock_gettime", "__vdso_getcpu",         "__vdso_gettimeofday",   "__vdso_time",
      "__kernel_sigreturn",   "__kernel_rt_sigreturn", "__vdso_clock_gettime64"};
  return names;
}

const Symbol* Vdso::find(std::string_view symbol) const {
  for (const auto& s : symbols)
    if (s.name == symbol) return &s;
  return nullptr;
}

std::vector<const Symbol*> Vdso::entry_points() const {
  std::map<uint64_t, const Symbol*> by_offset;
  auto preferred = [](const Symbol* s) {
    return s->name.rfind("__vdso_", 0) == 0 || s->name.rfind("__kernel_", 0) == 0;
  };
  for (const auto& s : symbols) {
    if (!s.is_function()) continue;
    auto [it, fresh] = by_offset.emplace(s.offset, &s);
    if (!fresh && !preferred(it->second) && preferred(&s)) it->second = &s;
  }
  std::vector<const Symbol*> out;
  for (auto& [off, s] : by_offset) out.push_back(s);
  return out;
}

std::string Vdso::version_string() const {
  if (!linux_version) return "";
  uint32_t v = *linux_version;
  return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}

namespace {

uint64_t le(const std::vector<uint8_t>& b, uint64_t off, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[off + i];
  return v;
}

Error llvm_error(const std::string& name, llvm::Error err, std::optional<uint64_t> offset = std::nullopt) {
  Error e = bad_input(name, "ELF: " + llvm::toString(std::move(err)));
  e.offset = offset;
  return e;
}

template <class ELFT>
Status parse_elf(Vdso& v) {
  using Elf_Ehdr = typename ELFT::Ehdr;
  if (v.bytes.size() < sizeof(Elf_Ehdr)) return bad_input_at(v.name, 0, "ELF header truncated");
  constexpr bool is64 = ELFT::Is64Bits;
  VK_CHECK(check_elf_tables(v.bytes, v.name, is64));
  llvm::StringRef data(reinterpret_cast<const char*>(v.bytes.data()), v.bytes.size());
  auto obj = ELFObjectFile<ELFT>::create(llvm::MemoryBufferRef(data, v.name));
  if (!obj) return llvm_error(v.name, obj.takeError(), 0);
  const auto& file = obj->getELFFile();
  const auto& eh = file.getHeader();
  v.osabi = eh.e_ident[elf::EI_OSABI];

  // Section table end bound (the kernel's vDSO build keeps section headers last).
  uint64_t sh_end = uint64_t(eh.e_shoff) + uint64_t(eh.e_shnum) * uint64_t(eh.e_shentsize);
  if (eh.e_shoff && sh_end > v.bytes.size())
    return bad_input_at(v.name, eh.e_shoff, "section header table (" + std::to_string(eh.e_shnum) +
                                                " entries) runs past end of data");
  auto phdrs = file.program_headers();
  if (!phdrs) return llvm_error(v.name, phdrs.takeError(), uint64_t(eh.e_phoff));
  bool have_load = false;
  uint64_t load_end = 0;
  for (const auto& ph : *phdrs) {
    if (ph.p_type == elf::PT_LOAD && !have_load) {
      have_load = true;
      v.load_vaddr = ph.p_vaddr;
      v.load_memsz = ph.p_memsz;
      load_end = uint64_t(ph.p_offset) + uint64_t(ph.p_filesz);
    }
    if (ph.p_type == elf::PT_NOTE) {
      llvm::Error err = llvm::Error::success();
      for (const auto& note : file.notes(ph, err)) {
        Note n;
        n.owner = note.getName().str();
        n.type = note.getType();
#if LLVM_VERSION_MAJOR >= 17
        auto desc = note.getDesc(ph.p_align);
#else
        auto desc = note.getDesc();
#endif
        n.desc.assign(desc.begin(), desc.end());
        v.notes.push_back(std::move(n));
      }
      if (err) return llvm_error(v.name, std::move(err), uint64_t(ph.p_offset));
    }
  }
  if (!have_load) return bad_input_at(v.name, eh.e_phoff, "no PT_LOAD program header");
  if (load_end > v.bytes.size())
    return bad_input_at(v.name, eh.e_phoff, "PT_LOAD extends past end of data");
  v.elf_size = std::max(sh_end, load_end);

  for (const auto& n : v.notes) {
    if (n.owner == "GNU" && n.type == elf::NT_GNU_BUILD_ID)
      v.build_id = llvm::toHex(llvm::ArrayRef<uint8_t>(n.desc), true);
    if (n.owner == "Linux" && n.type == 0 && n.desc.size() >= 4)
      v.linux_version = uint32_t(le(n.desc, 0, 4));
    if (n.owner == "Linux" && n.type == 0x100) {
      std::string s(n.desc.begin(), n.desc.end());
      v.build_salt = s.substr(0, s.find('\0'));
    }
  }

  auto sections = file.sections();
  if (!sections) return llvm_error(v.name, sections.takeError(), uint64_t(eh.e_shoff));
  for (const auto& sh : *sections) {
    auto sname = file.getSectionName(sh);
    if (sname && *sname == ".comment") {
      auto contents = file.getSectionContents(sh);
      if (!contents) return llvm_error(v.name, contents.takeError(), uint64_t(sh.sh_offset));
      std::string c(contents->begin(), contents->end());
      v.compiler = c.substr(0, c.find('\0'));
    } else if (!sname) {
      llvm::consumeError(sname.takeError());
    }
  }

  auto dyn = file.dynamicEntries();
  if (!dyn) return llvm_error(v.name, dyn.takeError());
  uint64_t soname_off = ~0ull;
  for (const auto& d : *dyn) {
    if (d.getTag() == elf::DT_HASH) v.has_hash = true;
    if (d.getTag() == elf::DT_GNU_HASH) v.has_gnu_hash = true;
    if (d.getTag() == elf::DT_SONAME) soname_off = d.getVal();
  }

  // readDynsymVersions() is parallel to getDynamicSymbolIterators() (which skips the null symbol).
  auto versions = obj->readDynsymVersions();
  if (!versions) return llvm_error(v.name, versions.takeError());
  size_t index = 0;
  for (const auto& sym : obj->getDynamicSymbolIterators()) {
    size_t i = index++;
    auto esym = obj->getSymbol(sym.getRawDataRefImpl());
    if (!esym) return llvm_error(v.name, esym.takeError());
    const auto* es = *esym;
    if (es->st_shndx == elf::SHN_UNDEF || es->st_shndx == elf::SHN_ABS) continue;
    uint8_t bind = es->getBinding();
    if (bind != elf::STB_GLOBAL && bind != elf::STB_WEAK) continue;
    auto name = sym.getName();
    if (!name) return llvm_error(v.name, name.takeError());
    Symbol s;
    s.name = name->str();
    if (i < versions->size()) s.version = (*versions)[i].Name;
    s.offset = uint64_t(es->st_value) - v.load_vaddr;
    s.size = es->st_size;
    s.bind = bind == elf::STB_GLOBAL ? "GLOBAL" : "WEAK";
    switch (es->getType()) {
      case elf::STT_FUNC: s.type = "FUNC"; break;
      case elf::STT_OBJECT: s.type = "OBJECT"; break;
      case elf::STT_NOTYPE: s.type = "NOTYPE"; break;
      default: s.type = std::to_string(es->getType());
    }
    if (s.offset >= v.bytes.size())
      return bad_input(v.name, "symbol " + s.name + " at " + hex(s.offset) + " lies outside the image");
    v.symbols.push_back(std::move(s));
  }
  std::sort(v.symbols.begin(), v.symbols.end(), [](const Symbol& a, const Symbol& b) {
    if (a.offset != b.offset) return a.offset < b.offset;
    if (a.bind != b.bind) return a.bind == "GLOBAL";
    return a.name < b.name;
  });

  if (soname_off != ~0ull) {
    for (const auto& sh : *sections) {
      if (sh.sh_type != elf::SHT_DYNSYM) continue;
      auto strtab = file.getStringTableForSymtab(sh);
      if (strtab && soname_off < strtab->size()) v.soname = strtab->drop_front(soname_off).data();
      else if (!strtab) llvm::consumeError(strtab.takeError());
    }
  }
  return Status::ok();
}

}  // namespace

std::optional<Mark> find_mark(const std::vector<uint8_t>& b) {
  if (b.size() < 16) return std::nullopt;
  std::string sig(b.begin(), b.begin() + 8);
  Mark m;
  if (sig == "criuvdso") {
    m.version = 1;
    m.orig_vdso = le(b, 8, 8);
  } else if (sig == "criuvDSO" && b.size() >= 32) {
    m.version = 2;
    m.orig_vdso = le(b, 8, 8);
    m.stored_version = le(b, 16, 8);
    m.orig_vvar = le(b, 24, 8);
  } else if (sig == "CRIUvDSO" && b.size() >= 40) {
    m.version = 3;
    m.orig_vdso = le(b, 8, 8);
    m.stored_version = le(b, 16, 8);
    m.orig_vvar = le(b, 24, 8);
    m.rt_vvar = le(b, 32, 8);
  } else {
    return std::nullopt;
  }
  return m;
}

std::optional<Trampoline> trampoline_at(const std::vector<uint8_t>& b, uint64_t off) {
  auto tail_ok = [&](uint64_t at) {
    return b[at] == 0xff && b[at + 1] == 0xe0 && b[at + 2] == 0xcc && b[at + 3] == 0xcc && b[at + 4] == 0xcc &&
           b[at + 5] == 0xcc;
  };
  if (off + 16 <= b.size() && b[off] == 0x48 && b[off + 1] == 0xb8 && tail_ok(off + 10))
    return Trampoline{{}, off, le(b, off + 2, 8), 16};
  if (off + 11 <= b.size() && b[off] == 0xb8 && tail_ok(off + 5))
    return Trampoline{{}, off, le(b, off + 1, 4), 11};
  return std::nullopt;
}

std::vector<uint8_t> encode_trampoline(Abi abi, uint64_t target) {
  std::vector<uint8_t> out;
  if (abi == Abi::I386) {
    out = {0xb8};
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(target >> (8 * i)));
  } else {
    out = {0x48, 0xb8};
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(target >> (8 * i)));
  }
  out.insert(out.end(), {0xff, 0xe0, 0xcc, 0xcc, 0xcc, 0xcc});
  return out;
}

std::vector<uint8_t> encode_mark_v3(uint64_t orig_vdso, uint64_t orig_vvar, uint64_t rt_vvar) {
  std::vector<uint8_t> out{'C', 'R', 'I', 'U', 'v', 'D', 'S', 'O'};
  for (uint64_t w : {orig_vdso, uint64_t(3), orig_vvar, rt_vvar})
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(w >> (8 * i)));
  return out;
}

Expected<Vdso> parse(std::string name, std::vector<uint8_t> bytes) {
  Vdso v;
  v.name = std::move(name);
  v.bytes = std::move(bytes);
  v.mark = find_mark(v.bytes);
  if (v.mark) return v;   // the ELF header is overwritten by the mark
  if (v.bytes.size() < 20 || v.bytes[0] != 0x7f || v.bytes[1] != 'E' || v.bytes[2] != 'L' || v.bytes[3] != 'F')
    return bad_input_at(v.name, 0, "not an ELF image and no CRIU vdso mark");
  uint8_t cls = v.bytes[elf::EI_CLASS];
  if (v.bytes[elf::EI_DATA] != elf::ELFDATA2LSB) return bad_input_at(v.name, elf::EI_DATA, "not a little-endian ELF");
  uint16_t machine = uint16_t(le(v.bytes, 18, 2));
  Status st;
  if (cls == elf::ELFCLASS64 && machine == elf::EM_X86_64) {
    v.abi = Abi::X86_64;
    st = parse_elf<llvm::object::ELF64LE>(v);
  } else if (cls == elf::ELFCLASS32 && (machine == elf::EM_386 || machine == elf::EM_X86_64)) {
    v.abi = machine == elf::EM_386 ? Abi::I386 : Abi::X32;
    st = parse_elf<llvm::object::ELF32LE>(v);
  } else {
    return bad_input_at(v.name, elf::EI_CLASS, "ELF class " + std::to_string(cls) + " / machine " +
                                                   std::to_string(machine) + " is not an x86 vDSO");
  }
  if (!st) return st.error();
  v.elf = true;
  v.stub_mark = find_stub_mark(v.bytes);

  std::map<uint64_t, std::vector<std::string>> names_at;
  for (const auto& s : v.symbols)
    if (s.is_function()) names_at[s.offset].push_back(s.name);
  for (auto& [off, names] : names_at) {
    if (auto t = trampoline_at(v.bytes, off)) {
      t->symbols = names;
      v.trampolines.push_back(*t);
    } else if (auto s = stub_at(v.bytes, off, v.abi)) {
      v.stubs.push_back(*s);
    }
  }
  return v;
}

}  // namespace vk::vdso
