// Text that comes from outside (a request's names, a config file): its size, valid UTF-8
// (no overlong forms, no surrogates, nothing above U+10FFFF) and no control characters
// (C0, DEL, C1: printed to a terminal they could rewrite it). One definition for the
// server's request limits (server/request_limits.h) and edbp-client's own check of a
// config before it sends it.
#ifndef EDBP_BASE_TEXT_CHECK_H_
#define EDBP_BASE_TEXT_CHECK_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace edbp {

// OK when `text` is at most `max_bytes` long and valid UTF-8 without control characters;
// a multi-line text may also hold tab, line feed and carriage return. Otherwise
// INVALID_ARGUMENT naming `field`: "FIELD: N bytes, more than the limit of M",
// "FIELD: not valid UTF-8 at byte I", "FIELD: control character U+001B at byte I".
absl::Status CheckText(absl::string_view field, absl::string_view text, size_t max_bytes,
                       bool multi_line);

}  // namespace edbp

#endif  // EDBP_BASE_TEXT_CHECK_H_
