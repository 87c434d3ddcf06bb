// Line charts as a standalone SVG document, built as a string: `principia sweep` draws its
// curves with it and a person opens the file in a browser, so no plotting library is needed.
#pragma once

#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace principia::cli {

struct ChartSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite points are left out
};

struct ChartPanel {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<ChartSeries> series;
  // Bounds the y axis always shows (widened where the data leaves them); NaN: the data's own
  // range. A finite y_min is also where the padding around a constant series stops.
  double y_min = std::numeric_limits<double>::quiet_NaN();
  double y_max = std::numeric_limits<double>::quiet_NaN();
};

// Panels side by side, each with axes, ticks, one polyline with markers per series (series i
// gets the same colour in every panel) and a legend under them. Every panel is a
// <g class="panel"> and every polyline carries data-series="<name>". Deterministic output.
std::string line_chart_svg(const std::string& title, const std::vector<ChartPanel>& panels);

// "Nice" tick positions (steps of 1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 6);

// `s` with &, <, >, " and ' escaped for XML text and attribute values.
std::string xml_escape(const std::string& s);

}  // namespace principia::cli
