/* Job pages: confirm the Kill button; keep a followed log scrolled to its end (unless the
   reader scrolled up). The polling itself is htmx (hx-get on the log's tail element). */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  var atEnd = {};
  document.addEventListener("htmx:beforeSwap", function (event) {
    var log = event.detail.target && event.detail.target.closest && event.detail.target.closest("pre.log");
    if (log) { atEnd[log.id] = log.scrollTop + log.clientHeight >= log.scrollHeight - 8; }
  });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("pre.log").forEach(function (log) {
      if (atEnd[log.id]) { log.scrollTop = log.scrollHeight; }
    });
  });
  document.querySelectorAll("pre.log").forEach(function (log) { log.scrollTop = log.scrollHeight; });
})();
