// Pan and zoom of the Graphviz drawings (provenance, a pipeline's DAG): svg-pan-zoom on each
// `.graph > svg`. A click on a node follows its link (Graphviz's <a>); a drag pans.
(function () {
  "use strict";
  function setUp(box) {
    var svg = box.querySelector("svg");
    if (!svg || typeof window.svgPanZoom !== "function") { return; }
    svg.setAttribute("width", "100%");
    svg.setAttribute("height", "100%");
    window.svgPanZoom(svg, {
      zoomEnabled: true,
      controlIconsEnabled: true,
      fit: true,
      center: true,
      minZoom: 0.1,
      maxZoom: 20,
      dblClickZoomEnabled: false
    });
  }
  document.querySelectorAll("div.graph").forEach(setUp);
})();
