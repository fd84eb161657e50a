// Writes a checkpoint archive anew with some members replaced. The input is streamed through
// libarchive's reader and every member goes to libarchive's writer with its own header (mode, owner,
// times, links) and, unless replaced, its exact bytes; the tar format and compression filter are the
// input's. The result goes to a temporary file beside the destination, is read back and compared,
// fsynced and renamed into place: the destination is either untouched or the complete new archive.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "formats/common/error.h"

namespace vk::rewrite {

// `replace`: normalised member path (as archive::Member::path) -> new content. Every key must exist.
Status rewrite_archive(const std::string& input, const std::map<std::string, std::vector<uint8_t>>& replace,
                       const std::string& output);

}  // namespace vk::rewrite
