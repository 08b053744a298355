// The chat page's own glue around htmx's ws extension: resume from the last message shown,
// clear the input only once the server has stored the message, keep the clock.
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  if (!chat) { return; }
  var input = document.getElementById("message-input");
  var clientId = document.getElementById("client-id");
  // Look #connection up each time: the server's sync frame replaces the element.
  function setConnection(text) {
    var element = document.getElementById("connection");
    if (element) { element.textContent = text; }
  }
  var sentText = null;
  if (!window.htmx) {
    // The vendored htmx files are missing (scripts/setup copies them): say so plainly.
    setConnection(chat.dataset.textNoScripts);
    return;
  }

  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }
  function lastSeq() {
    var last = -1;
    document.querySelectorAll("#messages [data-seq]").forEach(function (el) {
      var seq = parseInt(el.getAttribute("data-seq"), 10);
      if (seq > last) { last = seq; }
    });
    return last;
  }
  function scrollDown() {
    var box = document.getElementById("messages");
    if (box) { box.scrollTop = box.scrollHeight; }
  }
  clientId.value = newClientId();
  scrollDown();

  var lost = false;  // keep saying "reconnecting" through the retries after a drop
  chat.addEventListener("htmx:wsConnecting", function () {
    if (!lost) { setConnection(chat.dataset.textConnecting); }
  });
  // "Connected" is shown by the server's sync frame, once the page has caught up.
  chat.addEventListener("htmx:wsOpen", function (evt) {
    lost = false;
    evt.detail.socketWrapper.send(JSON.stringify({ type: "hello", last_seq: lastSeq() }));
  });
  chat.addEventListener("htmx:wsClose", function (evt) {
    var code = evt.detail.event && evt.detail.event.code;
    if (code === 1008) {
      closed(evt.detail.event.reason);
    } else if (code !== 1000) {
      lost = true;
      setConnection(chat.dataset.textReconnecting);
    }
  });
  // The server closed this socket for good (1008: signed out, too many open on this
  // conversation): say why, say it is disconnected, and stop offering to send.
  function closed(reason) {
    var texts = {
      "signed-out": chat.dataset.textClosedSignedOut,
      "too-many-sockets": chat.dataset.textClosedTooMany
    };
    var notice = document.getElementById("notice");
    var text = texts[reason] || chat.dataset.textClosed;
    if (notice && !notice.textContent.trim()) { notice.textContent = text; }
    setConnection(chat.dataset.textClosed);
    var connection = document.getElementById("connection");
    if (connection) { connection.setAttribute("data-closed", "true"); }
    ["send-button", "hint-button", "finish-button"].forEach(function (id) {
      var button = document.getElementById(id);
      if (button) { button.disabled = true; }
    });
  }
  chat.addEventListener("htmx:wsConfigSend", function (evt) {
    var form = evt.target;
    if (form.id === "finish-form" && !window.confirm(chat.dataset.textConfirm)) {
      evt.preventDefault();
      return;
    }
    if (form.id === "say-form") { sentText = input.value; }
    delete evt.detail.headers;
  });
  chat.addEventListener("htmx:wsAfterMessage", function () {
    var ack = document.getElementById("ack");
    if (ack && ack.dataset.clientId && ack.dataset.clientId === clientId.value) {
      if (input.value === sentText) { input.value = ""; count(); }
      clientId.value = newClientId();
      ack.dataset.clientId = "";
    }
    var hints = document.getElementById("hints");
    if (hints && hints.hidden && hints.querySelector("h2")) { hints.hidden = false; }
    syncClock();
    scrollDown();
  });

  // The live character count under the box: "12 / 2000", and a warning past the limit
  // (the server refuses a longer message with a notice; this says so before sending).
  // Characters are counted as the server counts them: code points, not UTF-16 units.
  var counter = document.getElementById("message-count");
  var maxChars = parseInt(input.dataset.max, 10);
  function count() {
    if (!counter) { return; }
    var used = Array.from(input.value).length;
    var over = used - maxChars;
    var text = over > 0
      ? counter.dataset.textOver.replace("{over}", String(over))
      : counter.dataset.textCount.replace("{used}", String(used));
    if (counter.textContent !== text) { counter.textContent = text; }
    counter.classList.toggle("over", over > 0);
    counter.classList.toggle("near", over <= 0 && used >= maxChars * 0.9);
    // Screen readers hear the count only once it matters, not at every key.
    if (over > 0 || used >= maxChars * 0.9) {
      counter.setAttribute("aria-live", "polite");
    } else {
      counter.removeAttribute("aria-live");
    }
  }
  input.addEventListener("input", count);
  count();

  // Enter sends, Shift+Enter starts a new line.
  input.addEventListener("keydown", function (evt) {
    if (evt.key === "Enter" && !evt.shiftKey && !evt.isComposing) {
      evt.preventDefault();
      document.getElementById("say-form").requestSubmit();
    }
  });

  var clock = document.getElementById("clock");
  var limit = parseFloat(chat.dataset.limit);
  var startedAt = Date.now() - parseFloat(chat.dataset.elapsed) * 1000;
  function tick() {
    var left = Math.max(0, Math.round(limit - (Date.now() - startedAt) / 1000));
    var text = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    if (clock.textContent !== text) { clock.textContent = text; }
    clock.parentElement.classList.toggle("low", left <= 60);
  }
  // The proctor gave more time during the exam: the server sends the new limit and the
  // seconds elapsed on its clock (#clock-sync); the clock counts down from there.
  function syncClock() {
    var sync = document.getElementById("clock-sync");
    if (!sync || !sync.dataset.limit) { return; }
    limit = parseFloat(sync.dataset.limit);
    startedAt = Date.now() - parseFloat(sync.dataset.elapsed) * 1000;
    sync.removeAttribute("data-limit");
    tick();
  }
  tick();
  var timer = setInterval(function () {
    // Once the conversation has ended the clock stops where it was; a conversation ended by
    // its time limit ends at 0:00 (not at the second the last tick happened to show).
    var ended = document.querySelector("#chat-controls[data-ended]");
    if (ended) {
      clearInterval(timer);
      if (ended.getAttribute("data-ended") === "timeout") { clock.textContent = "0:00"; }
      return;
    }
    tick();
  }, 1000);
})();
