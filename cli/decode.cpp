// vdsokit decode <file.img> [--pretty] [--schema S] [-o OUT]   (crit decode / crit show)
// vdsokit encode [IN] [--schema S] [-o OUT]                      (crit encode)
// docs/decode.md; the JSON shape is docs/criu-images.md §8.
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/common.h"
#include "formats/common/atomic.h"
#include "formats/criu/crit_json.h"

namespace vk::cli {
namespace {

// Reads a whole input: a file, or stdin for "" and "-" (crit's default).
// Inputs are bounded before they are held: `limit` bytes from a file (checked on its size) or from
// stdin (read in chunks, refused one byte past the limit; issue 12, D10).
Expected<std::string> slurp(const std::string& path, uint64_t limit) {
  if (path.empty() || path == "-") {
    std::string out;
    char buf[1 << 16];
    while (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0) {
      out.append(buf, size_t(std::cin.gcount()));
      if (out.size() > limit)
        return bad_input_at("<stdin>", limit, "more than the " + std::to_string(limit) + " bytes this command accepts");
    }
    return out;
  }
  VK_TRY(bytes, read_file(path, limit));
  return std::string(bytes.begin(), bytes.end());
}

// Resolves `IN` given positionally or with -i (crit's spelling); both at once is a usage error.
// decode holds the image and its JSON text (about 9 times the image for small entries, written entry
// by entry), encode the JSON text and its tree (at most kMaxJsonValues values): both stay under
// 256 MiB for any input (tests/cli/hostile_cli_test.cpp). Real images are a few KB to a few MB.
constexpr uint64_t kMaxDecodeInput = 4ull << 20;
constexpr uint64_t kMaxEncodeInput = 16ull << 20;

Expected<std::string> input_path(const std::string& positional, const std::string& dash_i) {
  if (!positional.empty() && !dash_i.empty() && positional != dash_i)
    return usage_error("give the input either positionally or with -i, not both");
  return positional.empty() ? dash_i : positional;
}

CLI::Option* add_schema(CLI::App& cmd, std::string& schema) {
  schema = "criu-4.2";
  return cmd
      .add_option("--schema", schema,
                  "Which crit to match: criu-4.2 (upstream) or criu-3.17 (Debian 12: pagemap field 2 is "
                  "\"nr_pages\", no field 5)")
      ->check(CLI::IsMember({"criu-4.2", "criu-3.17"}))
      ->capture_default_str();
}

}  // namespace

void add_decode(CLI::App& app, Context& ctx) {
  struct Opts {
    std::string input, dash_i, output, schema;
    bool pretty = false;
  };
  auto o = std::make_shared<Opts>();

  auto* dec = app.add_subcommand("decode", "Print a CRIU image as crit-compatible JSON");
  dec->add_option("image", o->input, "The image file (default: stdin)");
  dec->add_option("-i,--input", o->dash_i, "The image file (crit's spelling)");
  dec->add_option("-o,--output", o->output, "Write the JSON to this file (atomically, no trailing newline)");
  dec->add_flag("--pretty", o->pretty, "Indented output with crit's hex, flag and dict renderings");
  add_schema(*dec, o->schema);
  dec->callback([o, &ctx] {
    auto path = input_path(o->input, o->dash_i);
    if (!path) {
      ctx.exit_code = report(path.error());
      return;
    }
    auto bytes = slurp(*path, kMaxDecodeInput);
    if (!bytes) {
      ctx.exit_code = report(bytes.error());
      return;
    }
    std::string name = path->empty() || *path == "-" ? "<stdin>" : *path;
    auto img = criu::parse_image(name, std::span(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
    if (!img) {
      ctx.exit_code = report(img.error());
      return;
    }
    criu::CritOptions opts{o->pretty, *criu::crit_schema_by_name(o->schema)};
    auto text = criu::image_to_crit_json(*img, opts);
    if (!text) {
      ctx.exit_code = report(text.error());
      return;
    }
    // crit ends the output with a newline on stdout only, not in a file written with -o (§8.2).
    bool to_stdout = o->output.empty() || o->output == "-";
    ctx.exit_code = emit(to_stdout ? *text + "\n" : *text, o->output);
  });

  auto e = std::make_shared<Opts>();
  auto* enc = app.add_subcommand("encode", "Turn crit-compatible JSON back into a CRIU image");
  enc->add_option("json", e->input, "The JSON file (default: stdin)");
  enc->add_option("-i,--input", e->dash_i, "The JSON file (crit's spelling)");
  enc->add_option("-o,--output", e->output, "Write the image to this file (atomically) instead of stdout");
  add_schema(*enc, e->schema);
  enc->callback([e, &ctx] {
    auto path = input_path(e->input, e->dash_i);
    if (!path) {
      ctx.exit_code = report(path.error());
      return;
    }
    auto text = slurp(*path, kMaxEncodeInput);
    if (!text) {
      ctx.exit_code = report(text.error());
      return;
    }
    std::string name = path->empty() || *path == "-" ? "<stdin>" : *path;
    auto img = criu::crit_json_to_image(*text, name, *criu::crit_schema_by_name(e->schema));
    if (!img) {
      ctx.exit_code = report(img.error());
      return;
    }
    auto bytes = criu::write_image(*img);
    if (e->output.empty() || e->output == "-") {
      std::cout.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      std::cout.flush();
      ctx.exit_code = kExitOk;
      return;
    }
    auto st = write_file_atomic(e->output, bytes);
    ctx.exit_code = st ? kExitOk : report(st.error());
  });
}

}  // namespace vk::cli
