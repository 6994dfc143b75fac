// WaitUntil: the one way a test waits for something another thread or process does.
//
// A probe answers "done" or "not yet"; it must not fail (ASSERT/ADD_FAILURE, or throw)
// merely because what it waits for does not exist yet: a job row not listed yet, a file
// not written yet, a poll not finished yet. A probe may record a failure for what can
// never come right (a job that FAILED), and the caller checks the result.
#ifndef EDBP_TESTS_WAIT_UNTIL_H_
#define EDBP_TESTS_WAIT_UNTIL_H_

#include <chrono>
#include <thread>

namespace edbp::testing {

// Calls `done()` every `every` until it returns true (then true) or `limit` has passed
// (then false, after one last call at the deadline, so a slow machine that reaches the
// state just in time still passes). `limit` and `every` are std::chrono durations.
template <typename Predicate, typename LimitRep, typename LimitPeriod,
          typename EveryRep = int64_t, typename EveryPeriod = std::milli>
bool WaitUntil(
    Predicate&& done, std::chrono::duration<LimitRep, LimitPeriod> limit,
    std::chrono::duration<EveryRep, EveryPeriod> every = std::chrono::milliseconds(10)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace edbp::testing

#endif  // EDBP_TESTS_WAIT_UNTIL_H_
