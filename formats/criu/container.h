// Container-engine metadata beside the images of a Podman/CRI-O checkpoint: `config.dump` and
// `spec.dump` (JSON) next to `checkpoint/`, in an exported archive or its unpacked folder. vdsokit
// shows what checkpointctl shows for each set: container name, image, engine, created.
#pragma once

#include <optional>
#include <string>

#include "formats/common/error.h"
#include "formats/common/source.h"

namespace vk::criu {

struct ContainerMeta {
  std::string name;      // config.dump "name" (CRI-O: the io.kubernetes.container.name annotation)
  std::string image;     // config.dump "rootfsImageName" (falls back to "rootfsImageRef")
  std::string id;        // config.dump "id"
  std::string engine;    // Podman | CRI-O | containerd | unknown (from spec.dump's annotations)
  std::string created;   // config.dump "createdTime", as written
};

// Reads `config.dump` (and `spec.dump` when present) in `root`; nullopt when there is no config.dump.
// A config.dump that is not a JSON object is bad input (file named, exit 3).
Expected<std::optional<ContainerMeta>> container_meta(const Tree& root);

}  // namespace vk::criu
