// Errors as values that carry where they happened, in the style of llvm::Error:
//   'mm-1.img': offset 0x1c: entry length 4096 past end of file
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace vk {

// Exit codes shared by every subcommand (docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitFindings = 1,
  kExitUsage = 2,
  kExitBadInput = 3,
  kExitBlocked = 4,
};

struct Error {
  std::string file;                  // the input the error is about ("" when none)
  std::optional<uint64_t> offset;    // byte offset inside `file`, when known
  std::string message;
  int exit_code = kExitBadInput;

  std::string str() const;           // one line: 'file': offset 0x1c: message
  Error with_file(std::string f) const {
    Error e = *this;
    if (e.file.empty()) e.file = std::move(f);
    return e;
  }
};

Error bad_input(std::string file, std::string message);
Error bad_input_at(std::string file, uint64_t offset, std::string message);
Error usage_error(std::string message);

std::string hex(uint64_t v);         // "0x1c"

// A value or the Error explaining why there is none.
template <class T>
class Expected {
 public:
  Expected(T v) : v_(std::move(v)) {}
  Expected(Error e) : v_(std::move(e)) {}
  explicit operator bool() const { return v_.index() == 0; }
  T& operator*() { return std::get<0>(v_); }
  const T& operator*() const { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }
  T take() { return std::move(std::get<0>(v_)); }

 private:
  std::variant<T, Error> v_;
};

// For operations that return nothing but may fail.
class Status {
 public:
  Status() = default;
  Status(Error e) : e_(std::move(e)) {}
  static Status ok() { return {}; }
  explicit operator bool() const { return !e_; }
  const Error& error() const { return *e_; }

 private:
  std::optional<Error> e_;
};

}  // namespace vk

// Propagate an error from an Expected/Status: VK_TRY(x, expr) binds x or returns the error.
#define VK_CONCAT_(a, b) a##b
#define VK_CONCAT(a, b) VK_CONCAT_(a, b)
#define VK_TRY(var, expr)                                   \
  auto VK_CONCAT(vk_try_, __LINE__) = (expr);               \
  if (!VK_CONCAT(vk_try_, __LINE__))                        \
    return VK_CONCAT(vk_try_, __LINE__).error();            \
  auto var = VK_CONCAT(vk_try_, __LINE__).take()
#define VK_CHECK(expr)                                      \
  do {                                                      \
    auto vk_st_ = (expr);                                   \
    if (!vk_st_) return vk_st_.error();                     \
  } while (0)
