// The proctor's live monitor: the socket (htmx ws extension) swaps rows in; this keeps the
// connection status honest and counts each "time left" down between updates.
(function () {
  "use strict";
  var monitor = document.getElementById("monitor");
  if (!monitor) { return; }
  var status = function () { return document.getElementById("monitor-connection"); };
  monitor.addEventListener("htmx:wsClose", function () {
    var el = status();
    if (el) { el.textContent = monitor.dataset.textReconnecting; el.removeAttribute("data-synced"); }
  });
  var seen = new WeakMap();
  function tick() {
    var now = Date.now();
    document.querySelectorAll("#monitor-rows .time-left[data-left-s]").forEach(function (el) {
      if (!seen.has(el)) { seen.set(el, now); }
      var left = parseFloat(el.dataset.leftS) - (now - seen.get(el)) / 1000;
      var text = left < 0 ? monitor.dataset.textGrace
        : Math.floor(left / 60) + ":" + String(Math.floor(left % 60)).padStart(2, "0");
      if (el.textContent !== text) { el.textContent = text; }
      el.classList.toggle("low", left <= 60);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
