// The review queue by keyboard: j / k move between flagged verdicts, c confirms the one in
// focus, o goes to its override, n opens the next attempt. Keys typed into a field are left
// alone.
(function () {
  "use strict";
  function cards() {
    return Array.prototype.slice.call(document.querySelectorAll(".flag-card"));
  }
  function current() {
    var active = document.activeElement;
    var card = active && active.closest ? active.closest(".flag-card") : null;
    if (card) return card;
    var all = cards();
    return all.filter(function (c) { return !c.classList.contains("is-decided"); })[0] || all[0];
  }
  function move(step) {
    var all = cards();
    if (!all.length) return;
    var at = all.indexOf(current());
    var next = all[Math.max(0, Math.min(all.length - 1, at + step))];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var first = current();
    if (first && !location.hash.startsWith("#msg-")) first.focus();
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
    var card = current();
    if (event.key === "j") { move(1); event.preventDefault(); }
    else if (event.key === "k") { move(-1); event.preventDefault(); }
    else if (event.key === "c" && card) {
      card.querySelector(".confirm-button").click();
      event.preventDefault();
    } else if (event.key === "o" && card) {
      card.querySelector(".override-status").focus();
      event.preventDefault();
    } else if (event.key === "n") {
      var link = document.getElementById("next-attempt");
      if (link) { link.click(); event.preventDefault(); }
    }
  });
})();
