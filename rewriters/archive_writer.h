// Writes a checkpoint archive anew with some members replaced, in one streaming pass: the input is
// read through libarchive's reader and every member goes to libarchive's writer with its own header
// (mode, owner, times, links) and, unless replaced, its exact bytes; the tar format and compression
// filter are the input's. Three threads share the pass (issue 11): one reads and decompresses the input,
// the caller compresses and writes, one reads the new archive back behind the writer. Memory holds only
// the replacements and a bounded queue (16 x 256 KiB), whatever the archive's size. The result goes to
// a temporary file beside the destination, read back as a stream and compared member by member (name,
// type, link, size and a chained xxHash64 of the data, recorded while copying), fsynced, and only then
// renamed into place: the destination is either untouched or the complete new archive.
// Of a name that occurs more than once only the last copy (the one readers see) is replaced. Archives
// with sparse members are refused: writing them anew would expand every hole.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "formats/archive/archive.h"
#include "formats/common/error.h"

namespace vk::rewrite {

// `source`: the input as read (archive::Archive::open); `replace`: normalised member path (as
// archive::Member::path) -> new content. Every key must be a regular member of `source`.
Status rewrite_archive(const archive::Archive& source, const std::map<std::string, std::vector<uint8_t>>& replace,
                       const std::string& output);

}  // namespace vk::rewrite
