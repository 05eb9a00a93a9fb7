/* A search's charts with ECharts: the metric against each hyperparameter (scatter) and
   parallel coordinates over the hyperparameters and the metric; the best trial marked.
   The data is the page's <script type="application/json" id="search-data">. */
(function () {
  "use strict";
  var source = document.getElementById("search-data");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var BEST = "#c62828", DOT = "#2457c5";
  var charts = [];

  function numeric(values) {
    return values.every(function (v) { return typeof v === "number"; });
  }
  function categories(values) {
    var seen = [];
    values.forEach(function (v) { var s = String(v); if (seen.indexOf(s) < 0) { seen.push(s); } });
    return seen;
  }
  function open(point) {
    var row = document.getElementById("trial-" + point.i);
    if (point.model) {
      var ws = source.dataset.workspace;
      if (ws) { window.location.href = "/ui/w/" + encodeURIComponent(ws) + "/models/" + encodeURIComponent(point.model); return; }
    }
    if (row) { row.scrollIntoView({ block: "center" }); }
  }

  var scatters = document.getElementById("scatters");
  data.params.forEach(function (name, k) {
    var values = data.points.map(function (p) { return p.p[k]; });
    var isNumber = numeric(values.filter(function (v) { return v !== null; }));
    var box = document.createElement("div");
    box.className = "chart scatter";
    box.setAttribute("data-param", name);
    scatters.appendChild(box);
    var chart = window.echarts.init(box);
    var asPoint = function (p) {
      return { value: [isNumber ? p.p[k] : String(p.p[k]), p.m], trial: p };
    };
    chart.setOption({
      title: { text: data.metric + " vs " + name, textStyle: { fontSize: 13 } },
      tooltip: { formatter: function (x) { return "trial " + x.data.trial.i + ": " + name + "=" + x.value[0] + ", " + data.metric + "=" + x.value[1]; } },
      grid: { left: 50, right: 20, top: 40, bottom: 40 },
      xAxis: isNumber ? { type: "value", name: name, scale: true } : { type: "category", name: name, data: categories(values) },
      yAxis: { type: "value", name: data.metric, scale: true },
      series: [
        { type: "scatter", name: "trials", itemStyle: { color: DOT, opacity: 0.7 },
          data: data.points.filter(function (p) { return p.i !== data.best; }).map(asPoint) },
        { type: "scatter", name: "best", symbol: "diamond", symbolSize: 16, itemStyle: { color: BEST },
          data: data.points.filter(function (p) { return p.i === data.best; }).map(asPoint) }
      ]
    });
    chart.on("click", function (x) { open(x.data.trial); });
    charts.push(chart);
  });

  var axes = data.params.concat([data.metric]).map(function (name, k) {
    var values = data.points.map(function (p) { return k < data.params.length ? p.p[k] : p.m; });
    return numeric(values.filter(function (v) { return v !== null; }))
      ? { dim: k, name: name, type: "value", scale: true }
      : { dim: k, name: name, type: "category", data: categories(values) };
  });
  var asLine = function (p) {
    return { value: p.p.map(function (v, k) { return axes[k].type === "category" ? String(v) : v; }).concat([p.m]), trial: p };
  };
  var parallel = window.echarts.init(document.getElementById("parallel"));
  parallel.setOption({
    title: { text: "Parallel coordinates (" + data.points.length + " trials)", textStyle: { fontSize: 13 } },
    parallel: { left: 60, right: 80, top: 60, bottom: 30 },
    parallelAxis: axes,
    series: [
      { type: "parallel", name: "trials", lineStyle: { color: DOT, opacity: 0.35, width: 1 },
        data: data.points.filter(function (p) { return p.i !== data.best; }).map(asLine) },
      { type: "parallel", name: "best", lineStyle: { color: BEST, opacity: 1, width: 3 },
        data: data.points.filter(function (p) { return p.i === data.best; }).map(asLine) }
    ]
  });
  charts.push(parallel);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
