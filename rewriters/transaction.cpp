#include "rewriters/transaction.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "formats/common/atomic.h"
#include "formats/common/sha256.h"
#include "formats/common/source.h"

namespace vk::rewrite {

namespace fs = std::filesystem;

namespace {

Transaction::Hook& hook() {
  static Transaction::Hook h;
  return h;
}

Status step(const std::string& name) {
  if (hook()) return hook()(name);
  return Status::ok();
}

Error sys_error(const std::string& path, const std::string& what) {
  return bad_input(path, what + ": " + std::strerror(errno));
}

Error io_error(const std::string& path, const std::string& what) { return bad_input(path, what + ": " + std::strerror(errno)); }

// A temporary beside `path` holding its bytes with `patches` applied, fsynced, with the target's mode.
Expected<std::string> patched_temp_beside(const std::string& path, const std::vector<Patch>& patches) {
  int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return io_error(path, "cannot open");
  struct stat st {};
  if (::fstat(in, &st) != 0) {
    Error e = io_error(path, "cannot stat");
    ::close(in);
    return e;
  }
  for (const auto& p : patches)
    if (p.offset > uint64_t(st.st_size) || p.bytes.size() > uint64_t(st.st_size) - p.offset) {
      ::close(in);
      return bad_input_at(path, p.offset, "patch of " + std::to_string(p.bytes.size()) + " bytes past the end of the file");
    }
  // The temporary starts empty (write_temp_beside with no bytes), keeps the target's mode, and is
  // filled here by copy_file_range (in-kernel copy; a reflink where the file system can).
  auto tmp = write_temp_beside(path, {});
  if (!tmp) {
    ::close(in);
    return tmp.error();
  }
  int out = ::open(tmp->c_str(), O_WRONLY | O_CLOEXEC);
  auto fail = [&](const std::string& what) {
    Error e = io_error(path, what);
    ::close(in);
    if (out >= 0) ::close(out);
    ::unlink(tmp->c_str());
    return e;
  };
  if (out < 0) return fail("cannot open the temporary file");
  uint64_t left = uint64_t(st.st_size);
  while (left > 0) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, left, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(n == 0 ? "file shrank while copying" : "copy failed");
    left -= uint64_t(n);
  }
  for (const auto& p : patches) {
    size_t done = 0;
    while (done < p.bytes.size()) {
      ssize_t n = ::pwrite(out, p.bytes.data() + done, p.bytes.size() - done, off_t(p.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail("write failed");
      done += size_t(n);
    }
  }
  if (::fsync(out) != 0) return fail("fsync failed");
  ::close(in);
  if (::close(out) != 0) {
    ::unlink(tmp->c_str());
    return io_error(path, "close failed");
  }
  return *tmp;
}

std::string journal_path(const std::string& dir) { return (fs::path(dir) / kJournalName).string(); }

constexpr const char* kMagic = "vdsokit-journal 1";

// "vdsokit-journal 1\n" then "TEMP\tTARGET\n" per file (names inside the directory), then
// "sha256 HEX\n" over everything before it.
std::string journal_text(const std::vector<std::pair<std::string, std::string>>& moves) {
  std::string body = std::string(kMagic) + "\n";
  for (const auto& [tmp, target] : moves) body += tmp + "\t" + target + "\n";
  return body + "sha256 " + sha256_hex(std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size())) + "\n";
}

Expected<std::vector<std::pair<std::string, std::string>>> parse_journal(const std::string& path) {
  VK_TRY(bytes, read_file(path, 1 << 20));
  std::string text(bytes.begin(), bytes.end());
  auto sum = text.rfind("sha256 ");
  if (text.rfind(std::string(kMagic) + "\n", 0) != 0 || sum == std::string::npos)
    return bad_input_at(path, 0, "not a vdsokit journal");
  std::string body = text.substr(0, sum);
  if (text.substr(sum) != "sha256 " + sha256_hex(std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size())) + "\n")
    return bad_input_at(path, sum, "journal checksum mismatch (not written by vdsokit, or damaged): nothing done");
  std::vector<std::pair<std::string, std::string>> moves;
  size_t pos = std::string(kMagic).size() + 1;
  while (pos < body.size()) {
    auto nl = body.find('\n', pos);
    auto tab = body.find('\t', pos);
    if (nl == std::string::npos || tab == std::string::npos || tab > nl) return bad_input_at(path, pos, "malformed journal line");
    std::string tmp = body.substr(pos, tab - pos), target = body.substr(tab + 1, nl - tab - 1);
    // Names inside the directory only: a journal never moves files elsewhere.
    if (tmp.find('/') != std::string::npos || target.find('/') != std::string::npos || !is_temp_name(tmp) ||
        target.empty() || target == "." || target == "..")
      return bad_input_at(path, pos, "journal names a file outside its directory");
    moves.emplace_back(tmp, target);
    pos = nl + 1;
  }
  return moves;
}

}  // namespace

bool is_temp_name(const std::string& n) {
  // .NAME.vk-XXXXXX: mkstemp's six characters from [A-Za-z0-9].
  if (n.size() < 12 || n[0] != '.') return false;
  auto dot = n.size() - 10;
  if (n.compare(dot, 4, ".vk-") != 0) return false;
  for (size_t i = dot + 4; i < n.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(n[i]))) return false;
  return true;
}

Expected<std::shared_ptr<DirLock>> DirLock::acquire(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error(dir, "cannot open directory");
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    Error e = sys_error(dir, "cannot lock directory");
    ::close(fd);
    return e;
  }
  return std::make_shared<DirLock>(fd);
}

DirLock::~DirLock() { ::close(fd_); }

bool has_journal(const std::string& dir) {
  struct stat st {};
  return ::lstat(journal_path(dir).c_str(), &st) == 0;
}

Status recover(const std::string& dir, size_t* removed) {
  if (removed) *removed = 0;
  std::string jpath = journal_path(dir);
  if (has_journal(dir)) {
    VK_TRY(moves, parse_journal(jpath));
    for (const auto& [tmp, target] : moves) {
      std::string t = (fs::path(dir) / tmp).string(), p = (fs::path(dir) / target).string();
      struct stat st {};
      if (::lstat(t.c_str(), &st) != 0) continue;   // renamed before the interruption
      if (::rename(t.c_str(), p.c_str()) != 0) return sys_error(p, "finishing an interrupted rewrite: rename failed");
    }
    VK_CHECK(fsync_directory(dir));
    if (::unlink(jpath.c_str()) != 0) return sys_error(jpath, "cannot remove the journal");
    VK_CHECK(fsync_directory(dir));
  }
  DIR* d = ::opendir(dir.c_str());
  if (!d) return sys_error(dir, "cannot list directory");
  std::vector<std::string> stale;
  while (auto* e = ::readdir(d))
    if (is_temp_name(e->d_name)) stale.push_back(e->d_name);
  ::closedir(d);
  for (const auto& n : stale) {
    std::string p = (fs::path(dir) / n).string();
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(p.c_str()) != 0) return sys_error(p, "cannot remove a stale temporary file");
    if (removed) ++*removed;
  }
  if (!stale.empty()) VK_CHECK(fsync_directory(dir));
  return Status::ok();
}

void Transaction::set_hook(Hook h) { hook() = std::move(h); }

Status Transaction::commit() {
  // Phase 0: every target checked before anything is written.
  std::vector<std::pair<std::string, std::string>> moves;   // temp name -> target name, inside dir_
  fs::path dir = fs::absolute(dir_).lexically_normal();
  for (const auto& f : staged_) {
    fs::path p = fs::absolute(f.path).lexically_normal();
    if (p.parent_path() != dir)
      return bad_input(f.path, "not in the rewrite unit's directory " + dir_ + " (internal error; nothing written)");
    std::string name = p.filename().string();
    if (name.find_first_of("\t\n") != std::string::npos) return bad_input(f.path, "file name holds a tab or newline; nothing written");
    struct stat st {};
    if (::lstat(f.path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      return bad_input(f.path, S_ISLNK(st.st_mode) ? "is a symbolic link: vdsokit replaces regular files only, never through "
                                                     "or over a link (docs/rewrite.md); nothing written"
                                                   : "is not a regular file; nothing written");
  }
  // Phase 1: every temporary written and fsynced before any target changes.
  std::vector<std::string> temps;
  auto drop = [&](Error e) {
    for (const auto& tmp : temps) ::unlink(tmp.c_str());
    return e;
  };
  for (const auto& f : staged_) {
    if (auto st = step("stage " + fs::path(f.path).filename().string()); !st) return drop(st.error());
    auto t = f.patches.empty() ? write_temp_beside(f.path, f.bytes) : patched_temp_beside(f.path, f.patches);
    if (!t) return drop(t.error());
    temps.push_back(*t);
    moves.emplace_back(fs::path(*t).filename().string(), fs::path(f.path).filename().string());
  }
  // Phase 2: the commit point.
  std::string jtext = journal_text(moves);
  std::string jpath = journal_path(dir_);
  if (auto st = step("journal"); !st) return drop(st.error());
  auto jt = write_temp_beside(jpath, std::span(reinterpret_cast<const uint8_t*>(jtext.data()), jtext.size()), 0600);
  if (!jt) return drop(jt.error());
  temps.push_back(*jt);
  if (auto st = step("commit"); !st) return drop(st.error());
  if (::rename(jt->c_str(), jpath.c_str()) != 0) return drop(sys_error(jpath, "cannot commit the journal"));
  temps.pop_back();
  // From here the unit is committed: an error leaves the journal for the next run to finish.
  auto committed = [&](const Error& e) {
    Error out = e;
    out.message += " (the rewrite is committed: the next vdsokit rewrite on this directory finishes it)";
    return out;
  };
  if (auto st = fsync_directory(dir_); !st) return committed(st.error());
  for (size_t i = 0; i < staged_.size(); ++i) {
    if (auto st = step("rename " + moves[i].second); !st) return committed(st.error());
    if (::rename(temps[i].c_str(), staged_[i].path.c_str()) != 0)
      return committed(sys_error(staged_[i].path, "rename failed"));
  }
  if (auto st = step("fsync"); !st) return committed(st.error());
  if (auto st = fsync_directory(dir_); !st) return committed(st.error());
  if (auto st = step("finish"); !st) return committed(st.error());
  if (::unlink(jpath.c_str()) != 0) return committed(sys_error(jpath, "cannot remove the journal"));
  VK_CHECK(fsync_directory(dir_));
  staged_.clear();
  return Status::ok();
}

}  // namespace vk::rewrite
