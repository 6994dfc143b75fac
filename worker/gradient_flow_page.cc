#include "worker/gradient_flow_page.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "client/dashboard/assets.h"

namespace edbp::worker {
namespace {

namespace fs = std::filesystem;

// The embedded file at `path` ("" when this build has none).
absl::string_view Asset(std::string_view path) {
  for (const dashboard::Asset& a : dashboard::EmbeddedAssets()) {
    if (a.path == path) return absl::string_view(a.body.data(), a.body.size());
  }
  return {};
}

// Code safe inside <script> or <style>: no "</script" or "</style" ends the element
// early (the embedded files have none; this keeps it so).
std::string InElement(absl::string_view text) {
  return absl::StrReplaceAll(text,
                             {{"</script", "<\\/script"}, {"</style", "<\\/style"}});
}

// JSON safe inside <script>: every "<" (only in strings) as \u003c, which JSON.parse
// reads back as "<".
std::string JsonInElement(absl::string_view json) {
  return absl::StrReplaceAll(json, {{"<", "\\u003c"}});
}

std::string HtmlEscape(absl::string_view text) {
  return absl::StrReplaceAll(
      text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

absl::Status WriteAtomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  std::FILE* f = std::fopen(temp.c_str(), "w");
  if (f == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot write: ", std::strerror(errno)));
  }
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed) {
    const std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    return absl::ResourceExhaustedError(absl::StrCat(path, ": cannot write: ", why));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write: ", why));
  }
  return absl::OkStatus();
}

}  // namespace

std::string GradientFlowPrefix(const std::string& out) {
  for (absl::string_view suffix : {".json", ".html"}) {
    if (out.size() > suffix.size() && absl::EndsWith(out, suffix)) {
      return out.substr(0, out.size() - suffix.size());
    }
  }
  return out;
}

absl::Status CheckGradientFlowOutput(const std::string& prefix) {
  if (fs::path(prefix).filename().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--gradient-flow ", prefix,
                     ": give a file name (OUT.json and OUT.html are written)"));
  }
  fs::path dir = fs::path(prefix).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("--gradient-flow ", prefix, ": directory ",
                                            dir.string(), " does not exist"));
  }
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "--gradient-flow ", prefix, ": directory ", dir.string(), " is not writable"));
  }
  for (std::string_view suffix : {".json", ".html"}) {
    const std::string file = prefix + std::string(suffix);
    if (fs::is_directory(file, ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--gradient-flow: ", file, " is a directory"));
    }
  }
  return absl::OkStatus();
}

bool GradientFlowPageHasCharts() { return !Asset("/uPlot.iife.min.js").empty(); }

std::string GradientFlowHtml(const train::GradientFlowReport& report,
                             const std::string& json) {
  std::string page = absl::StrCat(
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>edbp gradient flow: ",
      HtmlEscape(report.config), "</title>\n<link rel=\"icon\" href=\"data:,\">\n");
  absl::StrAppend(&page, "<style>\n", InElement(Asset("/uPlot.min.css")), "\n",
                  InElement(Asset("/style.css")),
                  "\ntr[data-holds=\"false\"] td { color: var(--bad); }\n"
                  "#step-table td, #step-table th { white-space: nowrap; }\n"
                  ".scroll { overflow-x: auto; }\n</style>\n</head>\n<body>\n");
  absl::StrAppend(
      &page,
      "<header>\n  <h1>edbp gradient flow</h1>\n  <span id=\"meta\" class=\"muted\">",
      HtmlEscape(report.config), "</span>\n</header>\n<main>\n<div class=\"grid\">\n",
      R"(  <div class="card wide">
    <h3>Gradient-sum invariant (ALGORITHM.md §14): Σ dL/dx a layer passes down vs Σ dL/dt entering the spiking layer below</h3>
    <table id="invariant-table" class="small"><thead><tr><th>layer → below</th><th class="num">Σ passed down</th><th class="num">Σ entering below</th><th class="num">rel. diff</th><th class="num">max rel. diff per step</th></tr></thead><tbody></tbody></table>
  </div>
  <div class="card"><h3>Σ dL/dt entering each layer's neurons, per time step</h3><div id="chart-in" class="chart"></div></div>
  <div class="card"><h3>Σ dL/dx passed down by each layer, per time step</h3><div id="chart-out" class="chart"></div></div>
  <div class="card"><h3>Spikes per neuron and sample, per time step</h3><div id="chart-spikes" class="chart"></div></div>
  <div class="card"><h3>‖dL/dW‖ per layer (log)</h3><div id="chart-grad" class="chart"></div></div>
  <div class="card wide">
    <h3>Layers (sums over the batch and every time step)</h3>
    <table id="layer-table" class="small"><thead><tr><th>layer</th><th>type</th><th class="num">neurons</th><th class="num">Σ dL/dt in</th><th class="num">Σ dL/dx out</th><th class="num">‖dL/dW‖</th><th class="num">‖W‖</th><th class="num">spikes</th><th class="num">silent neurons</th></tr></thead><tbody></tbody></table>
  </div>
  <div class="card wide scroll">
    <h3>Per time step</h3>
    <table id="step-table" class="small"><thead></thead><tbody></tbody></table>
  </div>
</div>
</main>
)");
  absl::StrAppend(&page, "<script type=\"application/json\" id=\"gradient-flow-data\">\n",
                  JsonInElement(json), "</script>\n");
  for (std::string_view js : {"/uPlot.iife.min.js", "/charts.js", "/gradient_flow.js"}) {
    const absl::string_view body = Asset(js);
    if (body.empty()) continue;
    absl::StrAppend(&page, "<script>\n", InElement(body), "\n</script>\n");
  }
  absl::StrAppend(&page, "</body>\n</html>\n");
  return page;
}

absl::Status WriteGradientFlow(const std::string& prefix,
                               const train::GradientFlowReport& report) {
  const std::string json = train::GradientFlowToJson(report);
  if (absl::Status s = WriteAtomically(prefix + ".json", json); !s.ok()) return s;
  return WriteAtomically(prefix + ".html", GradientFlowHtml(report, json));
}

}  // namespace edbp::worker
