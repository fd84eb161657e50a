// What a user points vdsokit at: an image directory, a directory holding several image sets, or a
// checkpoint archive. Each becomes one or more image-set trees.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/common/error.h"
#include "formats/common/source.h"
#include "formats/criu/container.h"
#include "formats/criu/imageset.h"

namespace vk::archive {
class Archive;
}

namespace vk::criu {

// A checkpoint archive opened for image-set reading (formats/archive): of a compressed archive only
// the images are held, and of each pages-<id>.img only the runs that cover a vDSO VMA of a process
// whose mm and pagemap came earlier in the stream (the pages the analyzers read); everything else is
// streamed past and read again only if asked for.
Expected<std::shared_ptr<archive::Archive>> open_archive(const std::string& path);

struct Input {
  std::string label;     // path, or archive:folder
  TreePtr tree;
  std::optional<ContainerMeta> container;   // Podman/CRI-O config.dump beside the set (container.h)
  std::string archive;                      // the archive file the set is in ("" for a directory)
};

// The paths a batch handles one by one under `path` (criu/shard.h): every folder under a directory
// that discover() opens as a set and every checkpoint archive in it, or else `path` itself (an
// archive, a missing path, a folder with no set: opening it gives the error).
std::vector<std::string> unit_paths(const std::string& path);

// Finds every image set (a folder with inventory.img and pstree.img) under `path`: a set directory,
// a folder holding sets and checkpoint archives (searched kMaxDepth levels; how Podman exports and
// /var/lib/kubelet/checkpoints pile up), or one archive.
Expected<std::vector<Input>> discover(const std::string& path);

struct OpenSet {
  std::string label;
  ImageSet set;
  std::optional<ContainerMeta> container;
};
// Every image set under each of `paths`, in order, opened (inventory and pstree read).
Expected<std::vector<OpenSet>> open_sets(const std::vector<std::string>& paths);

// The batch form: one entry per image set, or per input/set that cannot be read (its error), so one
// bad set among many does not hide the others. Order: paths in order, sets in discovery order.
struct SetOrError {
  std::string label;
  std::optional<ImageSet> set;
  std::optional<Error> error;
  std::optional<ContainerMeta> container;
};
std::vector<SetOrError> open_each(const std::vector<std::string>& paths);

}  // namespace vk::criu
