// Abseil flag names use '_'; the documented spelling is '--data-dir'. Rewrites the name
// part of every "--name[=value]" argument (up to a bare "--") so both work.
#ifndef EDBP_SERVER_FLAG_SPELLING_H_
#define EDBP_SERVER_FLAG_SPELLING_H_

#include <algorithm>
#include <string>
#include <vector>

namespace edbp::server {

inline std::vector<std::string> DashesToUnderscores(int argc, char** argv) {
  std::vector<std::string> out(argv, argv + argc);
  for (size_t i = 1; i < out.size(); ++i) {
    std::string& a = out[i];
    if (a == "--") break;
    if (a.size() < 3 || a[0] != '-' || a[1] != '-') continue;
    const size_t end = std::min(a.find('='), a.size());
    for (size_t j = 2; j < end; ++j) {
      if (a[j] == '-') a[j] = '_';
    }
  }
  return out;
}

}  // namespace edbp::server

#endif  // EDBP_SERVER_FLAG_SPELLING_H_
