// crit JSON encode (both schemas), and the image it gives decoded back.
#include <cstdint>
#include <string_view>

#include "formats/criu/crit_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto schema : {vk::criu::CritSchema::Criu42, vk::criu::CritSchema::Criu317}) {
    auto img = vk::criu::crit_json_to_image(text, "fuzz.json", schema);
    if (!img) continue;
    auto bytes = vk::criu::write_image(*img);
    auto back = vk::criu::parse_image("fuzz.img", bytes);
    if (!back) __builtin_trap();   // what encode writes must frame correctly
    vk::criu::CritOptions o;
    o.schema = schema;
    (void)vk::criu::image_to_crit_json(*back, o);
  }
  (void)vk::criu::base64_decodebytes(text);
  (void)vk::criu::parse_python_int(text);
  return 0;
}
