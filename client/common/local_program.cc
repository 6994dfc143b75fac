#include "client/common/local_program.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace edbp::client {

namespace fs = std::filesystem;

absl::StatusOr<TempDir> TempDir::Make(const std::string& prefix) {
  std::string pattern = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create a temporary directory ",
                                            pattern, ": ", std::strerror(errno)));
  }
  return TempDir(pattern);
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

absl::StatusOr<std::string> FindTrainProgram(const std::string& given,
                                             const std::string& flag) {
  if (!given.empty()) {
    if (access(given.c_str(), X_OK) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " ", given, ": not an executable file"));
    }
    return given;
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path next = ec ? fs::path() : self.parent_path() / "edbp-train";
  if (!next.empty() && access(next.c_str(), X_OK) == 0) return next.string();
  return absl::InvalidArgumentError(absl::StrCat("no edbp-train next to ",
                                                 ec ? "edbp-client" : self.string(),
                                                 ": give ", flag, " PATH"));
}

absl::StatusOr<std::pair<int, std::string>> RunProgram(
    const std::vector<std::string>& argv, const std::string& cwd) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec. The program gets no blocked
    // signals (the dashboard's threads block SIGINT and SIGTERM).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execv(c_argv[0], c_argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  std::string output;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return std::make_pair(WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status),
                        std::move(output));
}

std::string DescribeExitStatus(int status) {
  if (status >= 0) return absl::StrCat("exit status ", status);
  return absl::StrCat("killed by signal ", -status, " (", strsignal(-status), ")");
}

}  // namespace edbp::client
