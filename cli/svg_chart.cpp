#include "cli/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace principia::cli {
namespace {

// Tableau 10: distinguishable, and readable on white.
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr double kPanelW = 460, kPanelH = 320, kTitleH = 36, kLegendRowH = 18;
constexpr double kLeft = 64, kRight = 18, kTop = 30, kBottom = 48;  // plot area inside a panel

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string coord(double v) {
  return fmt("%.1f", v);
}

std::string tick_label(double v) {
  if (std::fabs(v) < 1e-12) v = 0;  // no "-0"
  return fmt("%.4g", v);
}

struct Range {
  double lo = 0, hi = 1;
};

// The data's extent widened to whole ticks; a single value gets room around it.
// `floor` (when finite) is a bound the data cannot go below, such as 0 for a rate: the padding
// around a constant series stops there.
Range axis_range(const std::vector<double>& values, std::vector<double>* ticks,
                 double floor = std::numeric_limits<double>::quiet_NaN()) {
  Range r{0, 1};
  if (!values.empty()) {
    r.lo = *std::min_element(values.begin(), values.end());
    r.hi = *std::max_element(values.begin(), values.end());
  }
  if (r.hi - r.lo < 1e-12) {
    const double pad = std::max(std::fabs(r.lo) * 0.1, 0.5);
    r.lo -= pad;
    r.hi += pad;
    if (std::isfinite(floor) && r.lo < floor) r.lo = floor;
  }
  *ticks = nice_ticks(r.lo, r.hi);
  if (!ticks->empty()) {
    r.lo = std::min(r.lo, ticks->front());
    r.hi = std::max(r.hi, ticks->back());
  }
  return r;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  std::vector<double> out;
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi <= lo || max_ticks < 2) return out;
  const double raw = (hi - lo) / (max_ticks - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  const double first = std::floor(lo / step + 1e-9) * step;
  for (double t = first; t <= hi + step * (1 - 1e-9) && out.size() < 100; t += step) {
    out.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
    if (t >= hi - step * 1e-9) break;
  }
  return out;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string line_chart_svg(const std::string& title, const std::vector<ChartPanel>& panels) {
  // Legend entries: series names in first-seen order, so a colour means one series everywhere.
  std::vector<std::string> names;
  for (const auto& p : panels)
    for (const auto& s : p.series)
      if (std::find(names.begin(), names.end(), s.name) == names.end()) names.push_back(s.name);
  auto color_of = [&](const std::string& name) {
    const size_t i = size_t(std::find(names.begin(), names.end(), name) - names.begin());
    return kColors[i % (sizeof kColors / sizeof kColors[0])];
  };

  const double width = std::max<size_t>(panels.size(), 1) * kPanelW;
  const double legend_top = kTitleH + kPanelH + 8;
  const double height = legend_top + double(names.size()) * kLegendRowH + 12;
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + coord(width) + "\" height=\"" +
         coord(height) + "\" viewBox=\"0 0 " + coord(width) + " " + coord(height) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + coord(width) + "\" height=\"" + coord(height) +
         "\" fill=\"white\"/>\n";
  svg += "<text x=\"" + coord(width / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" +
         xml_escape(title) + "</text>\n";

  for (size_t pi = 0; pi < panels.size(); ++pi) {
    const ChartPanel& panel = panels[pi];
    const double ox = double(pi) * kPanelW, oy = kTitleH;
    const double x0 = ox + kLeft, x1 = ox + kPanelW - kRight;
    const double y0 = oy + kPanelH - kBottom, y1 = oy + kTop;  // y0: bottom of the plot area
    std::vector<double> xs, ys;
    for (const auto& s : panel.series)
      for (const auto& [x, y] : s.points)
        if (std::isfinite(x) && std::isfinite(y)) xs.push_back(x), ys.push_back(y);
    if (std::isfinite(panel.y_min)) ys.push_back(panel.y_min);
    if (std::isfinite(panel.y_max)) ys.push_back(panel.y_max);
    std::vector<double> xticks, yticks;
    const Range xr = axis_range(xs, &xticks), yr = axis_range(ys, &yticks, panel.y_min);
    auto px = [&](double x) { return x0 + (x - xr.lo) / (xr.hi - xr.lo) * (x1 - x0); };
    auto py = [&](double y) { return y0 - (y - yr.lo) / (yr.hi - yr.lo) * (y0 - y1); };

    svg += "<g class=\"panel\" data-title=\"" + xml_escape(panel.title) + "\">\n";
    svg += "<text x=\"" + coord((x0 + x1) / 2) + "\" y=\"" + coord(oy + 18) +
           "\" text-anchor=\"middle\" font-size=\"13\">" + xml_escape(panel.title) + "</text>\n";
    for (double t : yticks) {
      const std::string y = coord(py(t));
      svg += "<line x1=\"" + coord(x0) + "\" y1=\"" + y + "\" x2=\"" + coord(x1) + "\" y2=\"" + y +
             "\" stroke=\"#e5e5e5\"/>\n";
      svg += "<text x=\"" + coord(x0 - 6) + "\" y=\"" + coord(py(t) + 4) +
             "\" text-anchor=\"end\">" + tick_label(t) + "</text>\n";
    }
    for (double t : xticks) {
      const std::string x = coord(px(t));
      svg += "<line x1=\"" + x + "\" y1=\"" + coord(y0) + "\" x2=\"" + x + "\" y2=\"" +
             coord(y0 + 5) + "\" stroke=\"black\"/>\n";
      svg += "<text x=\"" + x + "\" y=\"" + coord(y0 + 18) + "\" text-anchor=\"middle\">" +
             tick_label(t) + "</text>\n";
    }
    svg += "<polyline points=\"" + coord(x0) + "," + coord(y1) + " " + coord(x0) + "," + coord(y0) +
           " " + coord(x1) + "," + coord(y0) +
           "\" fill=\"none\" stroke=\"black\" class=\"axes\"/>\n";
    svg += "<text x=\"" + coord((x0 + x1) / 2) + "\" y=\"" + coord(y0 + 38) +
           "\" text-anchor=\"middle\">" + xml_escape(panel.x_label) + "</text>\n";
    svg += "<text transform=\"translate(" + coord(ox + 16) + "," + coord((y0 + y1) / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + xml_escape(panel.y_label) + "</text>\n";

    for (const auto& s : panel.series) {
      std::vector<std::pair<double, double>> pts;
      for (const auto& p : s.points)
        if (std::isfinite(p.first) && std::isfinite(p.second)) pts.push_back(p);
      std::sort(pts.begin(), pts.end());
      const char* color = color_of(s.name);
      std::string points;
      for (const auto& [x, y] : pts)
        points += (points.empty() ? "" : " ") + coord(px(x)) + "," + coord(py(y));
      svg += "<polyline data-series=\"" + xml_escape(s.name) + "\" points=\"" + points +
             "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"/>\n";
      for (const auto& [x, y] : pts)
        svg += "<circle cx=\"" + coord(px(x)) + "\" cy=\"" + coord(py(y)) + "\" r=\"3.5\" fill=\"" +
               color + "\"><title>" + xml_escape(s.name) + ": step " + tick_label(x) + ", " +
               fmt("%.4f", y) + "</title></circle>\n";
    }
    svg += "</g>\n";
  }

  svg += "<g class=\"legend\">\n";
  for (size_t i = 0; i < names.size(); ++i) {
    const double y = legend_top + double(i) * kLegendRowH;
    svg += "<line x1=\"" + coord(kLeft) + "\" y1=\"" + coord(y + 6) + "\" x2=\"" +
           coord(kLeft + 24) + "\" y2=\"" + coord(y + 6) + "\" stroke=\"" + color_of(names[i]) +
           "\" stroke-width=\"3\"/>\n";
    svg += "<text x=\"" + coord(kLeft + 32) + "\" y=\"" + coord(y + 10) + "\">" +
           xml_escape(names[i]) + "</text>\n";
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

}  // namespace principia::cli
