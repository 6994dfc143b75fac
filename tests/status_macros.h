// ASSERT_OK(expr), EXPECT_OK(expr): the absl::Status `expr` is OK, else the test fails
// with it.
// ASSERT_OK_AND_ASSIGN(lhs, expr): asserts that the absl::StatusOr `expr` is OK (the
// test stops with its status otherwise) and moves its value into `lhs`, which may be a
// declaration: ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(path)).
#ifndef EDBP_TESTS_STATUS_MACROS_H_
#define EDBP_TESTS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "gtest/gtest.h"

#define ASSERT_OK(expr)                   \
  do {                                    \
    const absl::Status& status_ = (expr); \
    ASSERT_TRUE(status_.ok()) << status_; \
  } while (false)
#define EXPECT_OK(expr)                   \
  do {                                    \
    const absl::Status& status_ = (expr); \
    EXPECT_TRUE(status_.ok()) << status_; \
  } while (false)

#define EDBP_TEST_CONCAT_INNER_(a, b) a##b
#define EDBP_TEST_CONCAT_(a, b) EDBP_TEST_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(EDBP_TEST_CONCAT_(statusor_, __LINE__), lhs, expr)
// `lhs` may be a declaration and `var` is a name the macro makes: neither takes the
// parentheses of bugprone-macro-parentheses.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ASSERT_OK_AND_ASSIGN_IMPL_(var, lhs, expr) \
  auto var = (expr);                               \
  ASSERT_TRUE(var.ok()) << var.status();           \
  lhs = std::move(var).value()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // EDBP_TESTS_STATUS_MACROS_H_
