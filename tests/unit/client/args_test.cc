// edbp-client's command-line parsing.
#include "client/cli/args.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace edbp::cli {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kDefault[] = "127.0.0.1:50051";

Options Parse(const std::vector<std::string>& args) {
  absl::StatusOr<Options> o = ParseArgs(args, kDefault);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : Options{};
}

std::string Error(const std::vector<std::string>& args) {
  absl::StatusOr<Options> o = ParseArgs(args, kDefault);
  EXPECT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(o.status().message());
}

TEST(ArgsTest, DefaultsOfGlobalFlags) {
  const Options o = Parse({"list"});
  EXPECT_EQ(o.command, Command::kList);
  EXPECT_EQ(o.server, kDefault);
  EXPECT_EQ(o.output, OutputFormat::kText);
  EXPECT_EQ(o.timeout, absl::Seconds(10));
  EXPECT_EQ(o.state_filter, v1::JOB_STATE_UNSPECIFIED);
}

TEST(ArgsTest, GlobalFlagsBeforeOrAfterTheCommand) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--server", "h:1", "--output", "json", "--timeout", "2.5", "get", "17"},
           {"get", "17", "--server=h:1", "--output=json", "--timeout=2.5"},
           {"--output", "json", "get", "--server", "h:1", "jobs/17", "--timeout",
            "2.5"}}) {
    const Options o = Parse(args);
    EXPECT_EQ(o.command, Command::kGet);
    EXPECT_EQ(o.server, "h:1");
    EXPECT_EQ(o.output, OutputFormat::kJson);
    EXPECT_EQ(o.timeout, absl::Milliseconds(2500));
    EXPECT_EQ(o.job, "jobs/17");
  }
}

TEST(ArgsTest, JobNames) {
  EXPECT_EQ(*NormalizeJobName("17"), "jobs/17");
  EXPECT_EQ(*NormalizeJobName("jobs/17"), "jobs/17");
  for (const char* bad : {"", "jobs/", "x", "jobs/x", "-1", "jobs/17/x", "17 "}) {
    EXPECT_FALSE(NormalizeJobName(bad).ok()) << bad;
  }
}

TEST(ArgsTest, Submit) {
  const Options o =
      Parse({"submit", "configs/mnist.yaml", "--priority", "-3", "--follow"});
  EXPECT_EQ(o.command, Command::kSubmit);
  EXPECT_EQ(o.config_path, "configs/mnist.yaml");
  EXPECT_EQ(o.display_name, "mnist");
  EXPECT_EQ(o.priority, -3);
  EXPECT_TRUE(o.follow);
  EXPECT_FALSE(o.validate_only);
  EXPECT_THAT(o.request_id, MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                                         "[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
  EXPECT_NE(Parse({"submit", "a.yaml"}).request_id, o.request_id);

  const Options named = Parse(
      {"submit", "--name", "run 1", "--request-id", "r1", "--validate-only", "a.yaml"});
  EXPECT_EQ(named.display_name, "run 1");
  EXPECT_EQ(named.request_id, "r1");
  EXPECT_TRUE(named.validate_only);
}

TEST(ArgsTest, SubmitProgressEvery) {
  EXPECT_EQ(Parse({"submit", "a.yaml"}).progress_every, -1);  // not given: unset
  EXPECT_EQ(Parse({"submit", "a.yaml", "--progress-every", "5"}).progress_every, 5);
  EXPECT_EQ(Parse({"submit", "a.yaml", "--progress-every=0"}).progress_every, 0);
  // The range is the server's to check; the syntax is the client's.
  EXPECT_EQ(Parse({"submit", "a.yaml", "--progress-every", "2000000"}).progress_every,
            2000000);
  for (const char* bad : {"-1", "x", "", "1e3", "99999999999999999999"}) {
    EXPECT_THAT(Error({"submit", "a.yaml", "--progress-every", bad}),
                HasSubstr("--progress-every must be an integer >= 0"))
        << bad;
  }
  EXPECT_THAT(Error({"watch", "1", "--progress-every", "5"}),
              HasSubstr("--progress-every"));
}

TEST(ArgsTest, ListStateFilter) {
  EXPECT_EQ(Parse({"list", "--state", "running"}).state_filter, v1::RUNNING);
  EXPECT_EQ(Parse({"list", "--state=CANCELLED"}).state_filter, v1::CANCELLED);
  EXPECT_EQ(Parse({"list", "--state", "canceled"}).state_filter, v1::CANCELLED);
  EXPECT_THAT(Error({"list", "--state", "unspecified"}), HasSubstr("invalid --state"));
}

TEST(ArgsTest, WatchAndDownload) {
  EXPECT_TRUE(Parse({"watch", "3", "--from-start"}).from_start);
  EXPECT_FALSE(Parse({"watch", "3"}).from_start);
  const Options d = Parse({"download", "3", "--best", "-o", "out.ckpt"});
  EXPECT_EQ(d.job, "jobs/3");
  EXPECT_TRUE(d.best);
  EXPECT_EQ(d.output_file, "out.ckpt");
  EXPECT_FALSE(d.nir);
  // Issue 20: --format nir converts the checkpoint; safetensors is the default.
  EXPECT_TRUE(Parse({"download", "3", "--format", "nir", "-o", "out.nir"}).nir);
  EXPECT_FALSE(Parse({"download", "3", "--format=safetensors", "-o", "o"}).nir);
}

TEST(ArgsTest, DoubleDashEndsTheFlags) {
  const Options o = Parse({"submit", "--", "--weird.yaml"});
  EXPECT_EQ(o.config_path, "--weird.yaml");
}

TEST(ArgsTest, Help) {
  EXPECT_EQ(Parse({"--help"}).command, Command::kHelp);
  EXPECT_EQ(Parse({"watch", "-h"}).command, Command::kHelp);
  EXPECT_EQ(Parse({"help"}).command, Command::kHelp);
}

// Issue 19 item 8: COMMAND --help and help COMMAND ask for that command's help.
TEST(ArgsTest, HelpTopics) {
  EXPECT_EQ(Parse({"--help"}).help_topic, "");
  EXPECT_EQ(Parse({"help"}).help_topic, "");
  EXPECT_EQ(Parse({"submit", "--help"}).help_topic, "submit");
  EXPECT_EQ(Parse({"-h", "watch"}).help_topic, "watch");
  EXPECT_EQ(
      Parse({"--server", "h:1", "sweep", "c.yaml", "--grid", "a=1", "-h"}).help_topic,
      "sweep");
  EXPECT_EQ(Parse({"help", "metrics"}).help_topic, "metrics");
  EXPECT_EQ(Parse({"help", "help"}).help_topic, "help");
  EXPECT_EQ(Parse({"help", "dashboard"}).help_topic, "dashboard");
  EXPECT_EQ(Parse({"help", "gradient-flow"}).help_topic, "gradient-flow");
  EXPECT_EQ(Parse({"help", "--help"}).help_topic, "help");  // as COMMAND --help
  EXPECT_EQ(Error({"help", "sbumit"}),
            "unknown command 'sbumit' (did you mean 'submit'?)");
  EXPECT_EQ(Error({"sbumit", "--help"}),
            "unknown command 'sbumit' (did you mean 'submit'?)");
  EXPECT_EQ(Error({"help", "gradient-flwo"}),
            "unknown command 'gradient-flwo' (did you mean 'gradient-flow'?)");
  EXPECT_EQ(Error({"help", "list", "watch"}), "help: unexpected argument 'watch'");
}

// The flags that mean different things to different commands parse per command.
TEST(ArgsTest, FlagsWithAMeaningPerCommand) {
  EXPECT_TRUE(Parse({"logs", "3", "--follow"}).follow);
  EXPECT_TRUE(Parse({"submit", "a.yaml", "--follow"}).follow);
  EXPECT_EQ(Parse({"metrics", "3", "--format", "jsonl"}).metrics_format,
            MetricsFormat::kJsonl);
  EXPECT_TRUE(Parse({"download", "3", "-o", "f", "--format", "nir"}).nir);
  EXPECT_EQ(Error({"watch", "3", "--follow"}), "--follow is not a flag of 'watch'");
  EXPECT_EQ(Error({"list", "--format", "csv"}), "--format is not a flag of 'list'");
  EXPECT_TRUE(
      Parse({"sweep", "a.yaml", "--log-uniform", "Network.lr=1e-4,1e-2", "--random", "2"})
          .ranges.front()
          .log);
  EXPECT_EQ(Parse({"list", "--cert", "c.pem", "--key", "k.pem"}).key, "k.pem");
  // Every trial of a sweep takes submit's --progress-every.
  EXPECT_EQ(
      Parse({"sweep", "a.yaml", "--grid", "a=1", "--progress-every", "0"}).progress_every,
      0);
}

// Each command's help holds its own flags and no other command's.
TEST(ArgsTest, CommandHelpListsItsOwnFlags) {
  for (const std::string& name : CommandNames()) {
    if (name == "dashboard" || name == "gradient-flow") {
      EXPECT_EQ(CommandHelpText(name), "") << name;  // their own (cli.cc)
      continue;
    }
    const std::string help = CommandHelpText(name);
    EXPECT_THAT(help, StartsWith("usage: edbp-client [GLOBAL FLAGS] " + name)) << name;
    EXPECT_THAT(help, HasSubstr("\nExample:\n  edbp-client ")) << name;
    for (const std::string& flag : FlagsOf(name)) {
      EXPECT_THAT(help, HasSubstr(flag)) << name << " " << flag;
    }
  }
  const std::string submit = CommandHelpText("submit");
  EXPECT_THAT(submit, HasSubstr("usage: edbp-client [GLOBAL FLAGS] submit CONFIG.yaml "
                                "[FLAGS]\n\nQueue a training job for the config file."));
  EXPECT_THAT(submit, HasSubstr("\n  --seed N              seed of init, shuffling, "
                                "augmentation and dropout (default:\n"
                                "                        the config's Network.seed"));
  EXPECT_THAT(submit, HasSubstr("\n  --init-from JOB[:best|last]\n"
                                "                        start from that job's last"));
  EXPECT_THAT(submit, HasSubstr("  --follow              then watch the job as watch "
                                "--from-start does, and exit"));
  EXPECT_THAT(submit,
              HasSubstr("  --progress-every N    batches between progress records"));
  EXPECT_THAT(submit, Not(HasSubstr("--grid")));
  EXPECT_THAT(submit, Not(HasSubstr("keep printing")));  // logs' --follow
  EXPECT_THAT(CommandHelpText("logs"),
              AllOf(HasSubstr("  --follow              keep printing what is appended"),
                    HasSubstr("--events"), Not(HasSubstr("then watch the job"))));
  EXPECT_THAT(CommandHelpText("metrics"),
              AllOf(HasSubstr("--format csv|jsonl"), Not(HasSubstr("safetensors"))));
  EXPECT_THAT(CommandHelpText("download"),
              AllOf(HasSubstr("  -o FILE               the file to write (required)"),
                    HasSubstr("--format F"), HasSubstr("nir"), Not(HasSubstr("jsonl"))));
  EXPECT_THAT(CommandHelpText("sweep"),
              AllOf(HasSubstr("--grid KEY=V1,V2,..."), HasSubstr("--name NAME"),
                    HasSubstr("--uniform KEY=LO,HI, --log-uniform KEY=LO,HI"),
                    Not(HasSubstr("--request-id")), Not(HasSubstr("--seed N "))));
  EXPECT_THAT(CommandHelpText("get"), HasSubstr("Flags: none of its own."));
  EXPECT_THAT(CommandHelpText("get"),
              HasSubstr("\n\nThe global flags (--server, --output, --timeout, "
                        "--token-file, --tls, --ca-cert,\n--cert, --key) work as for "
                        "every command; edbp-client --help lists them, with\nJOB's forms "
                        "and the exit codes.\n"));
  EXPECT_EQ(CommandHelpText("frob"), "");
  EXPECT_THAT(FlagsOf("list"), ElementsAre("--state"));
  EXPECT_THAT(FlagsOf("download"), ElementsAre("-o", "--best", "--format"));
}

// The whole --help lists the shared flags of sweep once, under submit.
TEST(ArgsTest, HelpNamesSharedFlagsOnce) {
  const std::string help = HelpText();
  EXPECT_THAT(help,
              HasSubstr("  sweep CONFIG.yaml     Queue a sweep: one job (trial) per "
                        "point of the grid, random\n"));
  EXPECT_THAT(help, HasSubstr("                        Also --name, --priority, "
                              "--validate-only, --workers,\n"
                              "                        --gpus-per-worker, --nodes, "
                              "--progress-every as for\n"
                              "                        submit.\n"));
  EXPECT_THAT(help, HasSubstr("  cancel JOB|sweeps/ID  Cancel a queued or running job"));
  EXPECT_THAT(help, HasSubstr("  -h, --help            show this text"));
  EXPECT_THAT(UsageText(),
              HasSubstr("commands: submit, sweep, sweeps, list, get, cancel, "
                        "watch, logs, download, delete, resume, metrics, "
                        "health, gradient-flow, dashboard, help\n"));
}

TEST(ArgsTest, Errors) {
  EXPECT_EQ(Error({}), "missing command");
  EXPECT_EQ(Error({"frob"}), "unknown command 'frob'");
  EXPECT_EQ(Error({"list", "--frob"}), "unknown flag --frob");
  EXPECT_EQ(Error({"list", "--state"}), "--state needs a value");
  EXPECT_EQ(Error({"list", "--follow"}), "--follow is not a flag of 'list'");
  EXPECT_EQ(Error({"watch", "1", "--from-start=yes"}), "--from-start takes no value");
  EXPECT_EQ(Error({"cancel"}), "cancel: missing JOB");
  EXPECT_EQ(Error({"list", "x"}), "list: unexpected argument 'x'");
  EXPECT_EQ(Error({"download", "1"}), "download: missing -o FILE");
  EXPECT_EQ(Error({"download", "1", "-o", "f", "--format", "onnx"}),
            "--format must be safetensors or nir, not 'onnx'");
  EXPECT_THAT(Error({"watch", "1", "--format", "nir"}), HasSubstr("--format"));
  EXPECT_THAT(Error({"--timeout", "0", "list"}), HasSubstr("--timeout"));
  EXPECT_THAT(Error({"--timeout", "soon", "list"}), HasSubstr("--timeout"));
  EXPECT_THAT(Error({"submit", "a.yaml", "--priority", "high"}), HasSubstr("--priority"));
  EXPECT_THAT(Error({"--output", "yaml", "list"}), HasSubstr("text or json"));
  EXPECT_THAT(Error({"--server=", "list"}), HasSubstr("--server"));
}

TEST(ArgsTest, HelpDocumentsTheExitCodes) {
  const std::string help = HelpText();
  for (const char* line : {"  0  success", "  1  watch and submit --follow",
                           "  2  usage error", "  3  edbp-server cannot be reached",
                           "  4  not found", "  5  invalid argument"}) {
    EXPECT_THAT(help, HasSubstr(line));
  }
}

}  // namespace
}  // namespace edbp::cli
