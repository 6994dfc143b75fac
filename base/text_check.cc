#include "base/text_check.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace edbp {
namespace {

// The code point starting at text[i] and its length in bytes; length 0 for an invalid
// sequence (truncated, a stray continuation byte, overlong, a surrogate, > U+10FFFF).
struct Decoded {
  uint32_t code_point = 0;
  size_t length = 0;
};

Decoded DecodeUtf8(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) return {b0, 1};
  size_t length = 0;
  uint32_t cp = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    length = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {};
  }
  if (i + length > text.size()) return {};
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return {};
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
  return {cp, length};
}

bool IsControl(uint32_t cp, bool multi_line) {
  if (multi_line && (cp == '\t' || cp == '\n' || cp == '\r')) return false;
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

}  // namespace

absl::Status CheckText(absl::string_view field, absl::string_view text, size_t max_bytes,
                       bool multi_line) {
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", text.size(), " bytes, more than the limit of ", max_bytes));
  }
  for (size_t i = 0; i < text.size();) {
    const Decoded d = DecodeUtf8(text, i);
    if (d.length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": not valid UTF-8 at byte ", i));
    }
    if (IsControl(d.code_point, multi_line)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: control character U+%04X at byte %d", field, d.code_point, i));
    }
    i += d.length;
  }
  return absl::OkStatus();
}

}  // namespace edbp
