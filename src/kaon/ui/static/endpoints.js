// An endpoint's page: request rate, errors and latency over the last hour (ECharts), from
// the JSON the page embeds (#rates-data), refreshed every 10 s from <page>/rates.json.
(function () {
  "use strict";
  var rateBox = document.getElementById("rate-chart");
  var latencyBox = document.getElementById("latency-chart");
  var data = document.getElementById("rates-data");
  if (!rateBox || !latencyBox || !data || typeof window.echarts === "undefined") { return; }
  var rateChart = window.echarts.init(rateBox);
  var latencyChart = window.echarts.init(latencyBox);

  function lines(doc, columns) {
    var out = [];
    doc.series.forEach(function (s) {
      columns.forEach(function (c) {
        out.push({
          name: s.version + " " + c.label,
          type: "line",
          showSymbol: s.points.length < 40,
          symbolSize: 5,
          connectNulls: false,
          lineStyle: c.dashed ? { type: "dashed" } : undefined,
          data: s.points.map(function (p) { return [p[0], p[c.index]]; })
        });
      });
    });
    return out;
  }

  function option(series, unit, last) {
    var end = Math.max(Date.now(), last);
    return {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 48, right: 16, top: 16, bottom: 56 },
      xAxis: { type: "time", min: end - 3600 * 1000, max: end },
      yAxis: { type: "value", name: unit, min: 0 },
      series: series
    };
  }

  function draw(doc) {
    var any = doc.series.some(function (s) { return s.points.length > 0; });
    var empty = document.getElementById("no-rates");
    if (empty) { empty.hidden = any; }
    var last = 0;
    doc.series.forEach(function (s) {
      s.points.forEach(function (p) { last = Math.max(last, p[0]); });
    });
    var charts = document.getElementById("rate-charts");
    var shown = charts ? !charts.hidden : true;
    if (charts) { charts.hidden = !any; }
    rateChart.setOption(option(lines(doc, [
      { label: "requests/s", index: 1 },
      { label: "errors/s", index: 2, dashed: true }
    ]), "/s", last), true);
    latencyChart.setOption(option(lines(doc, [
      { label: "mean", index: 3 },
      { label: "p95", index: 4, dashed: true }
    ]), "ms", last), true);
    if (any && !shown) { rateChart.resize(); latencyChart.resize(); }
  }

  draw(JSON.parse(data.textContent));
  function resize() { rateChart.resize(); latencyChart.resize(); }
  window.addEventListener("resize", resize);
  var url = rateBox.getAttribute("data-url");
  window.setInterval(function () {
    if (document.hidden) { return; }
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (doc) { if (doc) { draw(doc); } })
      .catch(function () { /* the next refresh tries again */ });
  }, 10000);
})();
