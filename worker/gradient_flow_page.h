// The files of `edbp-train --gradient-flow OUT` (ALGORITHM.md §14): OUT.json (the
// report, core/train/gradient_flow.h) and OUT.html, a page that needs no network: the
// dashboard's chart code (client/dashboard/web/charts.js, gradient_flow.js, style.css)
// and uPlot are embedded into edbp-train at build time and inlined into the page with
// the report. An edbp-train built without the dashboard's npm packages has no uPlot:
// its page shows the tables and says why the charts are missing.
#ifndef EDBP_WORKER_GRADIENT_FLOW_PAGE_H_
#define EDBP_WORKER_GRADIENT_FLOW_PAGE_H_

#include <string>

#include "absl/status/status.h"
#include "core/train/gradient_flow.h"

namespace edbp::worker {

// Where the files of --gradient-flow OUT go: OUT without a trailing ".json" or ".html"
// (so that OUT may name either file); the files are PREFIX.json and PREFIX.html.
std::string GradientFlowPrefix(const std::string& out);

// Fails early, before any training work: NOT_FOUND / PERMISSION_DENIED naming the
// directory when PREFIX's directory does not exist or is not writable; INVALID_ARGUMENT
// when PREFIX ends in "/" or PREFIX.json or PREFIX.html is a directory. Writes nothing.
absl::Status CheckGradientFlowOutput(const std::string& prefix);

// Whether this build embeds uPlot (the page then has charts).
bool GradientFlowPageHasCharts();

// The self-contained page for `json` (GradientFlowToJson of `report`).
std::string GradientFlowHtml(const train::GradientFlowReport& report,
                             const std::string& json);

// Writes PREFIX.json and PREFIX.html, each to a temporary file in the same directory
// renamed into place (a reader never sees half a file). Errors name the file.
absl::Status WriteGradientFlow(const std::string& prefix,
                               const train::GradientFlowReport& report);

}  // namespace edbp::worker

#endif  // EDBP_WORKER_GRADIENT_FLOW_PAGE_H_
