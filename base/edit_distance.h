// Edit distance and "did you mean" suggestions: config keys and enum values, and the
// binaries' flags and commands.
#ifndef EDBP_BASE_EDIT_DISTANCE_H_
#define EDBP_BASE_EDIT_DISTANCE_H_

#include <optional>
#include <span>
#include <string>

#include "absl/strings/string_view.h"

namespace edbp {

// Optimal-string-alignment distance (insertions, deletions, substitutions and swaps
// of adjacent characters each cost 1), ignoring ASCII case.
int EditDistance(absl::string_view a, absl::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo
// (distance <= max(1, min(3, |word| / 3))); ties go to the earlier candidate.
std::optional<std::string> ClosestMatch(absl::string_view word,
                                        std::span<const absl::string_view> candidates);

}  // namespace edbp

#endif  // EDBP_BASE_EDIT_DISTANCE_H_
