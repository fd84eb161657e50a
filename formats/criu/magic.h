// CRIU image magic numbers (docs/criu-images.md §1.1). All are u32 in host (little-endian) order.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vk::criu {

inline constexpr uint32_t kCommonMagic = 0x54564319;   // first word of every image but inventory
inline constexpr uint32_t kServiceMagic = 0x55105940;  // first word of stats-* and irmap-cache
inline constexpr uint32_t kInventoryMagic = 0x58313116;
inline constexpr uint32_t kPstreeMagic = 0x50273030;
inline constexpr uint32_t kCoreMagic = 0x55053847;
inline constexpr uint32_t kMmMagic = 0x57492820;
inline constexpr uint32_t kPagemapMagic = 0x56084025;
inline constexpr uint32_t kIdsMagic = 0x54432030;
inline constexpr uint32_t kStatsMagic = 0x57093306;
inline constexpr uint32_t kIrmapCacheMagic = 0x57004059;

inline constexpr uint64_t kPageSize = 4096;

// The image kinds vdsokit models with a schema; every other image is framed but opaque.
enum class Kind { Inventory, Pstree, Core, Mm, Pagemap, Other };

// crit's name for a type magic ("MM", "PAGEMAP", ...), empty when unknown.
std::string_view magic_name(uint32_t magic);
std::optional<uint32_t> magic_by_name(std::string_view name);
Kind kind_of(uint32_t magic);
// Whether an image of this type is written with the service head word instead of the common one.
bool is_service(uint32_t magic);

}  // namespace vk::criu
