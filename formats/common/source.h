// Random-access inputs: a file on disk (read with pread, never loaded whole) or a member of an archive
// held in memory. Image sets are trees of these, so every reader works on directories and archives alike.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formats/common/error.h"

namespace vk {

class Blob {
 public:
  virtual ~Blob() = default;
  virtual const std::string& name() const = 0;   // for error messages
  virtual uint64_t size() const = 0;
  // Reads exactly `len` bytes at `offset`, or fails naming the file and offset.
  virtual Status read(uint64_t offset, void* out, size_t len) const = 0;

  Expected<std::vector<uint8_t>> read_all(uint64_t limit) const;
  Expected<std::vector<uint8_t>> read_range(uint64_t offset, size_t len) const;
};

using BlobPtr = std::shared_ptr<const Blob>;

// A directory of image files: a real directory, or a folder inside an archive.
class Tree {
 public:
  virtual ~Tree() = default;
  virtual const std::string& name() const = 0;
  virtual std::vector<std::string> files() const = 0;          // regular files directly inside, sorted
  virtual bool has(const std::string& file) const = 0;
  virtual Expected<BlobPtr> open(const std::string& file) const = 0;
  // Follows a symlink (CRIU's `parent`) to another tree. Returns an empty pointer when `link` is absent.
  virtual Expected<std::shared_ptr<const Tree>> follow(const std::string& link) const = 0;
  // A key naming the same folder for loop detection (realpath or archive path).
  virtual std::string identity() const = 0;
  // What `file` is, without following a link: "regular", "missing", "directory", "symlink", "fifo" or
  // "other" (rewriters refuse anything but a regular file; issue 12, D16).
  virtual std::string file_type(const std::string& file) const { return has(file) ? "regular" : "missing"; }
};

using TreePtr = std::shared_ptr<const Tree>;

Expected<BlobPtr> open_file(const std::string& path);
// A whole file, refused before reading when it is larger than `limit` (inputs are untrusted).
Expected<std::vector<uint8_t>> read_file(const std::string& path, uint64_t limit);
Expected<TreePtr> open_directory(const std::string& path);

// A blob whose bytes are held in memory (archive members, tests).
BlobPtr memory_blob(std::string name, std::vector<uint8_t> bytes);

}  // namespace vk
