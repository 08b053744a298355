// Exam pages: show each moment in the browser's own time zone, and send the times typed
// in a datetime-local field back as UTC (without this script both are plain UTC).
(function () {
  "use strict";
  var lang = document.documentElement.lang || undefined;
  var shown = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  function pad(n) { return String(n).padStart(2, "0"); }
  function localValue(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
  }
  document.querySelectorAll("main time[datetime]").forEach(function (el) {
    var date = new Date(el.getAttribute("datetime"));
    if (isNaN(date.getTime())) { return; }
    el.title = el.textContent;
    el.textContent = shown.format(date);
  });
  var inputs = document.querySelectorAll("input[type=datetime-local][data-utc]");
  if (!inputs.length) { return; }
  inputs.forEach(function (input) {
    var utc = input.getAttribute("data-utc");
    var date = new Date(utc + (utc.length === 16 ? ":00Z" : "Z"));
    if (utc && !isNaN(date.getTime()) && input.value === utc) { input.value = localValue(date); }
  });
  var note = document.getElementById("zone-note");
  if (note && note.dataset.textLocal) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    note.textContent = note.dataset.textLocal.replace("{zone}", zone);
  }
  var form = inputs[0].form;
  form.addEventListener("submit", function () {
    inputs.forEach(function (input) {
      var date = new Date(input.value);
      var hidden = form.querySelector("input[name='" + input.name + "_utc']");
      if (!hidden) {
        hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = input.name + "_utc";
        form.appendChild(hidden);
      }
      hidden.value = isNaN(date.getTime()) ? "" : date.toISOString();
    });
  });
})();
