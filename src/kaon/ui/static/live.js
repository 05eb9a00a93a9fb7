/* htmx polls pause while the tab is hidden (issue 18): a poll's request is cancelled while
   `document.hidden`. `every Ns` polls keep their timer and ask again once the tab shows; a
   one-shot poller (a log's next part: `load delay:1s`) is asked again when the tab shows.
   <html data-paused-polls> counts the polls skipped (what the browser tests watch). */
(function () {
  "use strict";
  var paused = [];
  var skipped = 0;

  function trigger(elt) { return (elt.getAttribute && elt.getAttribute("hx-trigger")) || ""; }

  document.body.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    var how = trigger(elt);
    if (!document.hidden || !/^(every |load delay)/.test(how)) { return; }
    evt.preventDefault();
    skipped += 1;
    document.documentElement.setAttribute("data-paused-polls", String(skipped));
    if (how.indexOf("load") === 0 && paused.indexOf(elt) < 0) { paused.push(elt); }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { return; }
    var waiting = paused;
    paused = [];
    waiting.forEach(function (elt) {
      if (!document.body.contains(elt)) { return; }
      window.htmx.ajax("GET", elt.getAttribute("hx-get"), {
        source: elt, target: elt, swap: elt.getAttribute("hx-swap") || "innerHTML"
      });
    });
  });
})();
