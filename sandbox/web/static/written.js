// Written parts and quizzes: a countdown from the server's seconds left, and, on a written
// part, every answer saved as it changes (the Save buttons do the same without script).
(function () {
  "use strict";
  var clock = document.getElementById("time-left");
  if (clock) {
    var left = parseInt(clock.getAttribute("data-seconds-left"), 10) || 0;
    var template = clock.textContent;
    var started = Date.now();
    var tick = function () {
      var remaining = Math.max(0, left - Math.floor((Date.now() - started) / 1000));
      var minutes = Math.floor(remaining / 60);
      var seconds = remaining % 60;
      var i = 0;
      clock.textContent = template.replace(/\d+/g, function (n) {
        i += 1;
        return i === 1 ? String(minutes) : i === 2 ? String(seconds) : n;
      });
      if (remaining === 0) {
        // The server hands the paper in; show its word after the grace.
        window.setTimeout(function () { window.location.reload(); }, 3000);
        return;
      }
      window.setTimeout(tick, 1000);
    };
    tick();
  }
  var list = document.getElementById("questions");
  if (!list || list.getAttribute("data-autosave") !== "1") {
    return;
  }
  var state = document.getElementById("autosave-state");
  var timers = {};
  var save = function (form) {
    var body = new FormData(form);
    fetch(form.action, {
      method: "POST",
      body: body,
      headers: { "X-Autosave": "1" },
      credentials: "same-origin",
    }).then(function (response) {
      if (state) {
        state.textContent = response.ok
          ? list.getAttribute("data-saved-text")
          : list.getAttribute("data-failed-text");
      }
      form.setAttribute("data-saved", response.ok ? "1" : "0");
    }).catch(function () {
      if (state) { state.textContent = list.getAttribute("data-failed-text"); }
    });
  };
  Array.prototype.forEach.call(list.querySelectorAll("form.answer-form"), function (form) {
    var key = form.querySelector("input[name=position]").value;
    form.addEventListener("change", function () { save(form); });
    form.addEventListener("input", function (event) {
      if (event.target.tagName !== "TEXTAREA") { return; }
      window.clearTimeout(timers[key]);
      timers[key] = window.setTimeout(function () { save(form); }, 600);
    });
  });
})();
