// The sweep's chart: a well-formed SVG document, one polyline per series in each panel, points
// placed by their values.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cli/svg_chart.h"

namespace principia::cli {
namespace {

// Tags balance (every open tag closed in order, or self-closed); "" when they do, else why not.
std::string tag_balance_error(const std::string& doc) {
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = doc.find('<', i)) != std::string::npos) {
    const size_t end = doc.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    const std::string tag = doc.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '?' || tag[0] == '!') continue;
    if (tag.find('<') != std::string::npos) return "'<' inside a tag: " + tag;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return "unexpected </" + name + ">";
      stack.pop_back();
      continue;
    }
    if (tag.back() == '/') continue;
    stack.push_back(tag.substr(0, tag.find_first_of(" \n\t")));
  }
  return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

// The points attribute of the polyline of `series` inside `doc`, as (x, y) pairs.
std::vector<std::pair<double, double>> points_of(const std::string& doc,
                                                 const std::string& series) {
  const size_t at = doc.find("data-series=\"" + series + "\" points=\"");
  EXPECT_NE(at, std::string::npos) << series;
  if (at == std::string::npos) return {};
  const size_t start = doc.find("points=\"", at) + 8, end = doc.find('"', start);
  std::vector<std::pair<double, double>> out;
  const std::string pts = doc.substr(start, end - start);
  size_t i = 0;
  while (i < pts.size()) {
    size_t sp = pts.find(' ', i);
    if (sp == std::string::npos) sp = pts.size();
    const std::string pair = pts.substr(i, sp - i);
    const size_t comma = pair.find(',');
    out.push_back({std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1))});
    i = sp + 1;
  }
  return out;
}

TEST(SvgChart, NiceTicksCoverTheRangeInRoundSteps) {
  const auto t = nice_ticks(0, 1);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_DOUBLE_EQ(t.front(), 0);
  EXPECT_NEAR(t[1], 0.2, 1e-12);
  EXPECT_NEAR(t.back(), 1.0, 1e-12);
  const auto s = nice_ticks(0, 37);
  ASSERT_GE(s.size(), 2u);
  EXPECT_LE(s.front(), 0);
  EXPECT_GE(s.back(), 37);
  EXPECT_NEAR(s[1] - s[0], 10, 1e-9);
  EXPECT_TRUE(nice_ticks(1, 1).empty());
}

TEST(SvgChart, TwoPanelsWithOnePolylinePerSeries) {
  ChartPanel a{"weighted_pair", "step", "wp", {}}, b{"format", "step", "rate", {}};
  a.series = {{"first", {{0, 0.1}, {2, 0.5}, {4, 0.3}}}, {"x<&y", {{0, 0.2}, {4, NAN}, {2, 0.4}}}};
  b.series = {{"first", {{0, 1.0}, {2, 0.9}, {4, 0.95}}},
              {"x<&y", {{0, 0.8}, {2, 0.85}, {4, 1.0}}}};
  const std::string doc = line_chart_svg("a sweep", {a, b});
  EXPECT_EQ(tag_balance_error(doc), "") << doc;
  EXPECT_EQ(doc.rfind("<?xml", 0), 0u);
  EXPECT_NE(doc.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(doc.find("x<&y"), std::string::npos) << "names are escaped";

  const size_t second = doc.find("<g class=\"panel\"", doc.find("<g class=\"panel\"") + 1);
  ASSERT_NE(second, std::string::npos);
  const std::string p1 = doc.substr(0, second), p2 = doc.substr(second);
  EXPECT_EQ(count(doc, "<g class=\"panel\""), 2u);
  EXPECT_EQ(count(p1, "<polyline data-series="), 2u);
  EXPECT_EQ(count(p2, "<polyline data-series="), 2u);

  // Sorted by x; the NaN point left out; a larger value is higher (smaller y).
  const auto first = points_of(p1, "first");
  ASSERT_EQ(first.size(), 3u);
  EXPECT_LT(first[0].first, first[1].first);
  EXPECT_LT(first[1].first, first[2].first);
  EXPECT_GT(first[0].second, first[2].second);  // 0.1 below 0.3
  EXPECT_LT(first[1].second, first[2].second);  // 0.5 above 0.3
  const auto other = points_of(p1, "x&lt;&amp;y");
  ASSERT_EQ(other.size(), 2u);
  EXPECT_DOUBLE_EQ(other[0].first, first[0].first);  // the same x axis for both series
  EXPECT_DOUBLE_EQ(other[1].first, first[1].first);
  // One marker per drawn point, and both series in the legend once.
  EXPECT_EQ(count(doc, "<circle "), 3u + 2u + 3u + 3u);
  const std::string legend = doc.substr(doc.find("<g class=\"legend\""));
  EXPECT_EQ(count(legend, ">first</text>"), 1u);
  EXPECT_EQ(count(legend, ">x&lt;&amp;y</text>"), 1u);
}

TEST(SvgChart, AFixedRangeHoldsConstantData) {
  ChartPanel fixed{"t", "x", "y", {{"s", {{0, 0.2}, {1, 0.2}}}}, 0.0, 1.0};
  ChartPanel free = fixed;
  free.y_min = free.y_max = NAN;
  const std::string a = line_chart_svg("t", {fixed}), b = line_chart_svg("t", {free});
  // Without the range a constant 0.2 gets room around it, below zero; with it the axis is 0..1.
  EXPECT_NE(b.find("\">-0.2</text>"), std::string::npos) << b;
  EXPECT_EQ(a.find("\">-0.2</text>"), std::string::npos) << a;
  // 0.2 on a 0..1 axis: a fifth of the way up (y 308 at the bottom, 66 at the top).
  EXPECT_NEAR(points_of(a, "s")[0].second, 308 - 0.2 * (308 - 66), 0.06);
  // Only a floor: a constant 0 sits on the bottom of the plot, the axis does not go below it.
  ChartPanel zero{"t", "x", "y", {{"z", {{0, 0.0}, {1, 0.0}}}}, 0.0, NAN};
  const std::string c = line_chart_svg("t", {zero});
  EXPECT_EQ(c.find("\">-0."), std::string::npos) << c;
  EXPECT_DOUBLE_EQ(points_of(c, "z")[0].second, 308.0);
}

TEST(SvgChart, EmptyAndSinglePointSeriesStillMakeADocument) {
  ChartPanel p{"t", "x", "y", {{"only", {{3, 0.5}}}, {"none", {}}}};
  const std::string doc = line_chart_svg("t", {p});
  EXPECT_EQ(tag_balance_error(doc), "") << doc;
  EXPECT_EQ(points_of(doc, "only").size(), 1u);
  EXPECT_EQ(doc.find("nan"), std::string::npos);
  EXPECT_EQ(doc.find("inf"), std::string::npos);
}

}  // namespace
}  // namespace principia::cli
