// Programmer-error checks that abort, and Status propagation helpers.
//
// EDBP_CHECK(cond) << "context"; aborts with file:line when cond is false. Use it only
// for broken invariants inside the program (a wrong shape passed between our own
// modules); anything the outside world can cause returns absl::Status instead.
#ifndef EDBP_BASE_CHECK_H_
#define EDBP_BASE_CHECK_H_

#include <sstream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace edbp::internal {

// Collects the message of a failed check and aborts in its destructor.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

}  // namespace edbp::internal

// A while loop (not if/else) so that `if (a) EDBP_CHECK(b);` has no dangling else; the
// body aborts, so it never loops.
#define EDBP_CHECK(cond)                                \
  while (__builtin_expect(!static_cast<bool>(cond), 0)) \
  ::edbp::internal::CheckFailure(__FILE__, __LINE__, #cond).stream()

#define EDBP_STATUS_CONCAT_INNER_(a, b) a##b
#define EDBP_STATUS_CONCAT_(a, b) EDBP_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define EDBP_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::absl::Status edbp_status_ = (expr);        \
    if (!edbp_status_.ok()) return edbp_status_; \
  } while (0)

// `EDBP_ASSIGN_OR_RETURN(auto x, Foo());` declares x from a StatusOr or returns its
// error.
#define EDBP_ASSIGN_OR_RETURN(lhs, expr) \
  EDBP_ASSIGN_OR_RETURN_IMPL_(EDBP_STATUS_CONCAT_(edbp_statusor_, __LINE__), lhs, expr)
// `lhs` may be a declaration (`auto x`) and `var` is a name made by the macro: neither
// can take the parentheses clang-tidy's bugprone-macro-parentheses asks for.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define EDBP_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                                \
  if (!var.ok()) return var.status();               \
  lhs = std::move(var).value()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // EDBP_BASE_CHECK_H_
