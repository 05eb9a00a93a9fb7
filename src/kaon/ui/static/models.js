/* Compare: the "only what differs" switch hides the rows that are the same for every model. */
(function () {
  "use strict";
  var only = document.getElementById("only-differs");
  if (!only) { return; }
  only.addEventListener("change", function () {
    document.querySelectorAll("table.compare tbody tr").forEach(function (row) {
      row.hidden = only.checked && !row.classList.contains("differs");
    });
  });
})();
