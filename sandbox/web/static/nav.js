// The phone-size menu: below 40rem the site's links fold behind the "Menu" button (the
// stylesheet hides them once this script has marked the header). Escape closes it.
(function () {
  "use strict";
  var button = document.getElementById("nav-toggle");
  var nav = document.getElementById("site-nav");
  if (!button || !nav) { return; }
  var header = button.closest(".site-header");
  header.classList.add("nav-ready");
  button.hidden = false;
  function set(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    nav.classList.toggle("open", open);
  }
  button.addEventListener("click", function () {
    set(button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      set(false);
      button.focus();
    }
  });
})();
