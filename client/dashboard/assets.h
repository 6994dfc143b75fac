// The dashboard's page (html, js, css, uPlot): files embedded into edbp-client at build
// time by cmake/EdbpEmbedAssets.cmake, which generates the definition of
// EmbeddedAssets() from client/dashboard/web/ and the npm-installed uPlot.
#ifndef EDBP_CLIENT_DASHBOARD_ASSETS_H_
#define EDBP_CLIENT_DASHBOARD_ASSETS_H_

#include <span>
#include <string_view>

namespace edbp::dashboard {

// One file of the page, served at `path`.
struct Asset {
  std::string_view path;          // URL path, e.g. "/index.html"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;          // the file's bytes
};

// The embedded files; static storage, valid for the life of the process.
std::span<const Asset> EmbeddedAssets();

}  // namespace edbp::dashboard

#endif  // EDBP_CLIENT_DASHBOARD_ASSETS_H_
