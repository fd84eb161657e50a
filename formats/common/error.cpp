#include "formats/common/error.h"
#include "formats/common/text.h"

#include <cstdio>

namespace vk {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Error::str() const {
  std::string s;
  // File names and messages may quote input bytes: never print them raw (formats/common/text.h).
  if (!file.empty()) s += "'" + printable(file) + "': ";
  if (offset) s += "offset " + hex(*offset) + ": ";
  return s + printable(message);
}

Error bad_input(std::string file, std::string message) {
  return Error{std::move(file), std::nullopt, std::move(message), kExitBadInput};
}

Error bad_input_at(std::string file, uint64_t offset, std::string message) {
  return Error{std::move(file), offset, std::move(message), kExitBadInput};
}

Error usage_error(std::string message) {
  return Error{"", std::nullopt, std::move(message), kExitUsage};
}

}  // namespace vk
