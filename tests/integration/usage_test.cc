// Usage errors of the real binaries (issue 19 item 8): exit status 2 with a message that
// says what to type instead, --help that lists the binary's own flags, and the exit
// status of a runtime failure kept apart from them. Needs no data set and no server.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/process_util.h"

namespace edbp {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using testing::CommandResult;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunCommand;

CommandResult Train(const std::string& args) {
  return RunCommand(std::string(EDBP_TRAIN_BIN) + " " + args);
}

// edbp-server's flags go with a data dir of its own; it exits before touching it.
// `env`: VAR=VALUE assignments for the server's environment.
CommandResult Server(const std::string& args, const std::string& env = "") {
  const std::string dir =
      (fs::temp_directory_path() / ("edbp_usage_" + std::to_string(getpid()))).string();
  return RunCommand(env + " " + std::string(EDBP_SERVER_BIN) +
                    " --listen=127.0.0.1:0 --data-dir=" + dir + " " + args +
                    " </dev/null");
}

CommandResult Client(const std::string& args) {
  return RunCommand(std::string(EDBP_CLIENT_BIN) + " " + args);
}

// The occurrences of `part` in `text`.
size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + 1)) {
    ++n;
  }
  return n;
}

// The reference's `main.py -config X`, in each spelling.
TEST(TrainUsage, TheConfigIsPositional) {
  for (const char* args :
       {"-config configs/small.yaml", "--config configs/small.yaml",
        "-config=configs/small.yaml", "--epochs 2 --config configs/small.yaml"}) {
    const CommandResult r = Train(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(r.output,
              "edbp-train: the config is positional: edbp-train configs/small.yaml "
              "[flags]\n")
        << args;
  }
  const CommandResult bare = Train("-config");
  EXPECT_EQ(bare.code, 2);
  EXPECT_EQ(bare.output,
            "edbp-train: the config is positional: edbp-train CONFIG.yaml [flags]\n");
}

TEST(TrainUsage, FlagTyposGetTheClosestFlag) {
  struct Case {
    const char* args;
    const char* message;
  };
  const Case cases[] = {
      {"configs/small.yaml --epoch 3",
       "edbp-train: unknown flag --epoch (did you mean --epochs?); --help lists the "
       "flags\n"},
      {"configs/small.yaml -seeed 3",
       "edbp-train: unknown flag --seeed (did you mean --seed?); --help lists the "
       "flags\n"},
      {"configs/small.yaml --synthetic_dat",
       "edbp-train: unknown flag --synthetic-dat (did you mean --synthetic-data?); "
       "--help "
       "lists the flags\n"},
      {"configs/small.yaml --init-weight w.safetensors",
       "edbp-train: unknown flag --init-weight (did you mean --init-weights?); --help "
       "lists the flags\n"},
      // Nothing close: no guess (a library's flag is never offered: --flagfil).
      {"configs/small.yaml --zzzzzzzz",
       "edbp-train: unknown flag --zzzzzzzz; --help lists the flags\n"},
      {"configs/small.yaml --flagfil x",
       "edbp-train: unknown flag --flagfil; --help lists the flags\n"},
      {"configs/small.yaml --epochs", "edbp-train: --epochs needs a value\n"},
      {"configs/small.yaml --notensorboard=1",
       "edbp-train: --notensorboard takes no value (--tensorboard=false does)\n"},
      {"a.yaml b.yaml",
       "edbp-train: one CONFIG.yaml, not 'a.yaml' and 'b.yaml'; usage: edbp-train "
       "CONFIG.yaml [flags]   (--help for the flags)\n"},
      {"",
       "edbp-train: missing CONFIG.yaml; usage: edbp-train CONFIG.yaml [flags]   "
       "(--help for the flags)\n"},
      {"configs/small.yaml --evaluate",
       "edbp-train: --evaluate needs --init-weights or --resume\n"},
  };
  for (const Case& c : cases) {
    const CommandResult r = Train(c.args);
    EXPECT_EQ(r.code, 2) << c.args;
    EXPECT_EQ(r.output, c.message) << c.args;
  }
  // A value the flag's type refuses: named, with Abseil's reason.
  const CommandResult bad = Train("configs/small.yaml --epochs=many");
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.output,
              HasSubstr("edbp-train: --epochs: 'many' is not a valid value ("));
  const CommandResult negative = Train("configs/small.yaml --seed -1");
  EXPECT_EQ(negative.code, 2);
  EXPECT_THAT(negative.output,
              HasSubstr("edbp-train: --seed: '-1' is not a valid value"));
}

// Both spellings and the "no" form still parse: --validate runs (exit 0).
TEST(TrainUsage, BothSpellingsStillWork) {
  const CommandResult r = Train(
      "configs/small.yaml --validate --batch_size=4 --batch-size 4 -notensorboard "
      "--data-limit=10");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("config OK"));
}

// A runtime failure is not a usage error: it keeps exit status 1.
TEST(TrainUsage, RuntimeFailuresKeepTheirStatus) {
  const CommandResult r = Train("/nonexistent/config.yaml --validate");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("/nonexistent/config.yaml"));
}

TEST(TrainUsage, HelpListsOnlyItsOwnFlags) {
  const CommandResult r = Train("--help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr("usage: edbp-train CONFIG.yaml [flags]"),
                              HasSubstr("--gradient_flow"), HasSubstr("--out_dir"),
                              HasSubstr("exit status: 0 done"),
                              HasSubstr("2 usage: an unknown flag")));
  EXPECT_EQ(Count(r.output, "Flags from "), 1u) << r.output;
  EXPECT_THAT(r.output, HasSubstr("worker/train_args.cc:"));
  EXPECT_THAT(r.output, AllOf(Not(HasSubstr("--flagfile")), Not(HasSubstr("--fromenv"))));
  EXPECT_EQ(Train("-h").output, r.output);
}

TEST(ServerUsage, HelpListsOnlyItsOwnFlags) {
  const CommandResult r = Server("--help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr("usage: edbp-server"), HasSubstr("--data_roots"),
                    HasSubstr("--executor"), HasSubstr("exit status: 0 stopped")));
  EXPECT_EQ(Count(r.output, "Flags from "), 1u) << r.output;
  EXPECT_THAT(r.output, HasSubstr("server/server_args.cc:"));
  EXPECT_THAT(r.output, AllOf(Not(HasSubstr("--flagfile")), Not(HasSubstr("--out_dir")),
                              Not(HasSubstr("--grpc"))));
}

TEST(ServerUsage, UsageErrorsExit2) {
  struct Case {
    const char* args;
    const char* message;
  };
  const Case cases[] = {
      {"--data-dri /tmp/x",
       "edbp-server: unknown flag --data-dri (did you mean --data-dir?); --help lists "
       "the flags\n"},
      {"--cpu-slot 2",
       "edbp-server: unknown flag --cpu-slot (did you mean --cpu-slots?); --help lists "
       "the flags\n"},
      {"serve",
       "edbp-server: unexpected argument 'serve': edbp-server takes flags only (--help "
       "lists them)\n"},
      {"--executor=kubernetes",
       "edbp-server: --executor: expected local or slurm, got \"kubernetes\"\n"},
      {"--grace-seconds=-1",
       "edbp-server: --grace-seconds: expected 0 or more, got -1\n"},
      {"--max-job-memory-gib=-2",
       "edbp-server: --max-job-memory-gib: expected 0 (half the machine) or more, got "
       "-2\n"},
      {"--event-cache-mib=-1",
       "edbp-server: --event-cache-mib: expected 0 to 1048576 MiB, got -1\n"},
      {"--listen", "edbp-server: --listen needs a value\n"},
  };
  for (const Case& c : cases) {
    const CommandResult r = Server(c.args);
    EXPECT_EQ(r.code, 2) << c.args;
    EXPECT_EQ(r.output, c.message) << c.args;
  }
  const CommandResult bad = Server("--cpu-slots=two");
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.output,
              HasSubstr("edbp-server: --cpu-slots: 'two' is not a valid value"));
}

// A --flagfile (the ConfigMap of deploy/k8s) gets the checks of the command line, and
// an error names the file and the line; Abseil's own reading exited 1 without a hint.
TEST(ServerUsage, FlagfileErrorsNameTheFileAndLine) {
  const fs::path dir =
      fs::temp_directory_path() / ("edbp_usage_flags_" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };
  const std::string typo =
      write("typo", "# edbp-server flags\n\n  --grace-seconds=5\n--data-dri=/x\n");
  CommandResult r = Server("--flagfile=" + typo);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(r.output,
            "edbp-server: " + typo +
                ":4: unknown flag --data-dri (did you mean --data-dir?); --help "
                "lists the flags\n");
  // The file's flags are applied: a value check sees them.
  r = Server("--flagfile " + write("value", "--grace-seconds=-1\n"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(r.output, "edbp-server: --grace-seconds: expected 0 or more, got -1\n");
  const std::string text = write("text", "serve\n");
  r = Server("--flagfile=" + text);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(r.output,
            "edbp-server: " + text + ":1: expected a flag (--name=value), got 'serve'\n");
  // A file that names itself, one that is missing, one far too big.
  const std::string loop = (dir / "loop").string();
  write("loop", "--flagfile=" + loop + "\n");
  r = Server("--flagfile=" + loop);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--flagfile: more than 32 files read"));
  r = Server("--flagfile=" + (dir / "missing").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("--flagfile: cannot read " + (dir / "missing").string()));
  const std::string big = write("big", std::string(2 << 20, '#'));
  r = Server("--flagfile=" + big);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("a flag file holds at most 1048576"));
  fs::remove_all(dir);
}

// The CPU kernels' variables, which every job inherits: a value edbp-train would abort
// on is the server's usage error.
TEST(ServerUsage, KernelVariablesAreChecked) {
  CommandResult r = Server("", "EDBP_CPU_ISA=avx9");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(
      r.output,
      "edbp-server: EDBP_CPU_ISA=avx9: expected portable, avx2 or avx512 (or unset)\n");
  r = Server("", "EDBP_SPARSE=sometimes");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_EQ(r.output,
            "edbp-server: EDBP_SPARSE=sometimes: expected auto, off, always or blas (or "
            "unset)\n");
}

// What needs the machine is a failure to start (exit 1), not a usage error.
TEST(ServerUsage, StartFailuresKeepTheirStatus) {
  const CommandResult r = Server("--train-program=/nonexistent/edbp-train");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("edbp-train not found at /nonexistent/edbp-train"));
  fs::remove_all(fs::temp_directory_path() / ("edbp_usage_" + std::to_string(getpid())));
}

TEST(ClientUsage, CommandHelpThroughTheBinary) {
  const CommandResult r = Client("submit --help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr("usage: edbp-client [GLOBAL FLAGS] submit CONFIG.yaml"),
                    HasSubstr("--seed N"), HasSubstr("Example:\n  edbp-client submit "),
                    Not(HasSubstr("--grid"))));
  EXPECT_EQ(Client("help submit").output, r.output);
  const CommandResult typo = Client("sbumit c.yaml");
  EXPECT_EQ(typo.code, 2);
  EXPECT_THAT(typo.output,
              HasSubstr("unknown command 'sbumit' (did you mean 'submit'?)"));
  const CommandResult flag = Client("list --stat running");
  EXPECT_EQ(flag.code, 2);
  EXPECT_THAT(flag.output, HasSubstr("unknown flag --stat (did you mean --state?)"));
}

}  // namespace
}  // namespace edbp
