#include "formats/criu/container.h"

#include <nlohmann/json.hpp>

namespace vk::criu {

namespace {

// Metadata files are small JSON documents; anything larger is not one.
constexpr uint64_t kMaxMetaBytes = 1 << 20;

Expected<std::optional<nlohmann::json>> read_json(const Tree& root, const std::string& file) {
  if (!root.has(file)) return std::optional<nlohmann::json>();
  VK_TRY(blob, root.open(file));
  if (blob->size() > kMaxMetaBytes)
    return bad_input(blob->name(), "is " + std::to_string(blob->size()) + " bytes, more than a container metadata file holds");
  VK_TRY(bytes, blob->read_all(kMaxMetaBytes));
  auto j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad_input(blob->name(), "is not a JSON object (container metadata)");
  return std::optional<nlohmann::json>(std::move(j));
}

std::string str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool has_prefix(const nlohmann::json& annotations, const std::string& prefix) {
  for (auto it = annotations.begin(); it != annotations.end(); ++it)
    if (it.key().rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace

Expected<std::optional<ContainerMeta>> container_meta(const Tree& root) {
  VK_TRY(config, read_json(root, "config.dump"));
  if (!config) return std::optional<ContainerMeta>();
  VK_TRY(spec, read_json(root, "spec.dump"));
  ContainerMeta m;
  m.name = str(*config, "name");
  m.image = str(*config, "rootfsImageName");
  if (m.image.empty()) m.image = str(*config, "rootfsImageRef");
  m.id = str(*config, "id");
  m.created = str(*config, "createdTime");
  m.engine = "unknown";
  // The engine writes its own annotations into the OCI spec: Podman marks itself as the manager
  // ("io.container.manager": "libpod"); CRI-O and containerd use their own key prefixes.
  if (spec && spec->contains("annotations") && (*spec)["annotations"].is_object()) {
    const auto& a = (*spec)["annotations"];
    if (str(a, "io.container.manager") == "libpod") m.engine = "Podman";
    else if (has_prefix(a, "io.kubernetes.cri-o.")) m.engine = "CRI-O";
    else if (has_prefix(a, "io.kubernetes.cri.")) m.engine = "containerd";
    if (m.name.empty()) m.name = str(a, "io.kubernetes.container.name");
  }
  return std::optional<ContainerMeta>(std::move(m));
}

}  // namespace vk::criu
