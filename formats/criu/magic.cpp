#include "formats/criu/magic.h"

#include <array>

namespace vk::criu {
namespace {

struct Named {
  uint32_t magic;
  std::string_view name;
};

// Type magics by crit name (docs/criu-images.md §1.1; CRIU criu/include/magic.h).
constexpr std::array<Named, 15> kTable{{
    {kInventoryMagic, "INVENTORY"},
    {kPstreeMagic, "PSTREE"},
    {kCoreMagic, "CORE"},
    {kMmMagic, "MM"},
    {kPagemapMagic, "PAGEMAP"},
    {kIdsMagic, "IDS"},
    {0x54123737, "VMAS"},
    {0x50363636, "REG_FILES"},
    {0x56303138, "FILES"},
    {kStatsMagic, "STATS"},
    {kIrmapCacheMagic, "IRMAP_CACHE"},
    {0x51403912, "FS"},
    {0x64413049, "SECCOMP"},
    {0x43114433, "TIMENS"},
    {0x56213732, "FDINFO"},
}};

}  // namespace

std::string_view magic_name(uint32_t magic) {
  for (const auto& n : kTable)
    if (n.magic == magic) return n.name;
  return {};
}

std::optional<uint32_t> magic_by_name(std::string_view name) {
  for (const auto& n : kTable)
    if (n.name == name) return n.magic;
  return std::nullopt;
}

Kind kind_of(uint32_t magic) {
  switch (magic) {
    case kInventoryMagic: return Kind::Inventory;
    case kPstreeMagic: return Kind::Pstree;
    case kCoreMagic: return Kind::Core;
    case kMmMagic: return Kind::Mm;
    case kPagemapMagic: return Kind::Pagemap;
    default: return Kind::Other;
  }
}

bool is_service(uint32_t magic) { return magic == kStatsMagic || magic == kIrmapCacheMagic; }

}  // namespace vk::criu
