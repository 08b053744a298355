// The proctor's live monitor: the socket (htmx ws extension) swaps rows in; this keeps the
// connection status honest and counts each "time left" down between updates.
(function () {
  "use strict";
  var monitor = document.getElementById("monitor");
  if (!monitor) { return; }
  var status = function () { return document.getElementById("monitor-connection"); };
  monitor.addEventListener("htmx:wsClose", function (evt) {
    var el = status();
    var event = evt.detail && evt.detail.event;
    if (event && event.code === 1008) {
      // Closed for good (signed out, or no longer a proctor): say why; no reconnecting.
      var texts = {
        "signed-out": monitor.dataset.textClosedSignedOut,
        "role-changed": monitor.dataset.textClosedRole
      };
      var notice = document.getElementById("monitor-notice");
      if (notice && !notice.textContent.trim()) {
        notice.textContent = texts[event.reason] || monitor.dataset.textClosed;
      }
      if (el) {
        el.textContent = monitor.dataset.textClosed;
        el.removeAttribute("data-synced");
        el.setAttribute("data-closed", "true");
      }
      return;
    }
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
