// edbp-client: the command-line client of edbp-server (edbp-client --help).
#include <iostream>
#include <string>
#include <vector>

#include "client/cli/cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return edbp::cli::RunCli(args, std::cout, std::cerr,
                           edbp::cli::EnvironmentFromProcess());
}
