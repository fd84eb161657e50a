#include "cli/common.h"

#include <iostream>

#include "formats/common/atomic.h"

namespace vk::cli {

int report(const Error& e) {
  std::cerr << "vdsokit: " << e.str() << "\n";
  return e.exit_code;
}

CLI::Option* add_format(CLI::App& cmd, std::string& format, const std::vector<std::string>& choices) {
  format = choices.front();
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : "|") + c;
  return cmd.add_option("--format", format, "Output format: " + list)->check(CLI::IsMember(choices))->capture_default_str();
}

int emit(const std::string& text, const std::string& path) {
  if (path.empty() || path == "-") {
    std::cout << text << std::flush;
    return kExitOk;
  }
  auto st = write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  return st ? kExitOk : report(st.error());
}

}  // namespace vk::cli
