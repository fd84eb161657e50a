#include "rewriters/transaction.h"

#include "formats/common/atomic.h"

namespace vk::rewrite {

Status Transaction::commit() {
  for (const auto& f : staged_) VK_CHECK(write_file_atomic(f.path, f.bytes));
  staged_.clear();
  return Status::ok();
}

}  // namespace vk::rewrite
