// CRIU image stream: framing (parse_image), the typed decoders (pagemap) and crit decode.
#include <cstdint>

#include "formats/criu/crit_json.h"
#include "formats/criu/image.h"
#include "formats/criu/imageset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto img = vk::criu::parse_image("fuzz.img", std::span(data, size));
  if (!img) return 0;
  (void)vk::criu::write_image(*img);
  if (img->magic == vk::criu::kPagemapMagic) (void)vk::criu::parse_pagemap(*img);
  for (auto schema : {vk::criu::CritSchema::Criu42, vk::criu::CritSchema::Criu317}) {
    vk::criu::CritOptions o;
    o.schema = schema;
    o.pretty = size & 1;
    (void)vk::criu::image_to_crit_json(*img, o);
  }
  return 0;
}
