// The progress charts: the attempt under the pointer (or keyboard focus) is written under
// its chart. Without scripts each point still has its tooltip and its link.
(function () {
  "use strict";
  function show(evt) {
    var link = evt.target.closest && evt.target.closest("a.point-link");
    if (!link) { return; }
    var figure = link.closest("figure");
    var readout = figure && figure.querySelector(".chart-readout");
    if (readout) { readout.textContent = link.getAttribute("data-readout"); }
    figure.querySelectorAll("a.point-link.current").forEach(function (other) {
      other.classList.remove("current");
    });
    link.classList.add("current");
  }
  document.addEventListener("pointerover", show);
  document.addEventListener("focusin", show);
})();
