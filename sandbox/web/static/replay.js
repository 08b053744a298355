// Replay of a stored conversation at its own pace: play/pause, step, speed 1x/2x/4x.
// Without this script the whole transcript is simply shown; with it, the messages after
// the current one are hidden while replaying. Keys inside the player: Space or K
// play/pause, Left/Right (or J/L) step, Home back to the start, End shows everything.
(function () {
  "use strict";

  // A reply stored at the same second as the message it answers still gets a moment.
  var MIN_PAUSE_S = 0.8;

  function start() {
    var player = document.getElementById("replay-player");
    var list = document.getElementById("review-transcript");
    if (!player || !list) return;
    var rows = Array.prototype.slice.call(list.querySelectorAll("li[data-at]"));
    if (rows.length === 0) return;
    var times = rows.map(function (row) { return parseFloat(row.getAttribute("data-at")) || 0; });
    var playButton = document.getElementById("replay-play");
    var backButton = document.getElementById("replay-back");
    var stepButton = document.getElementById("replay-step");
    var allButton = document.getElementById("replay-all");
    var speedSelect = document.getElementById("replay-speed");
    var clock = document.getElementById("replay-clock");
    var progress = document.getElementById("replay-progress");
    var status = document.getElementById("replay-status");

    var shown = rows.length; // how many messages are visible
    var timer = null;
    var ticker = null;
    var playing = false;
    var clockAt = times[times.length - 1]; // conversation seconds the clock shows
    var waitStartedAt = 0; // wall-clock ms when the wait for the next message began
    var waitFrom = 0; // conversation seconds at that moment

    function speed() { return parseFloat(speedSelect.value) || 1; }

    function format(seconds) {
      var tenths = Math.round(Math.max(0, seconds) * 10);
      var minutes = Math.floor(tenths / 600);
      var rest = (tenths - minutes * 600) / 10;
      return minutes + ":" + (rest < 10 ? "0" : "") + rest.toFixed(1);
    }

    function showClock(seconds) {
      clockAt = seconds;
      clock.textContent = format(seconds);
      progress.value = Math.min(seconds, parseFloat(progress.max) || seconds);
    }

    function announce() {
      if (shown >= rows.length && !playing) {
        status.textContent = player.getAttribute("data-all");
        return;
      }
      status.textContent = player.getAttribute("data-status")
        .replace("{n}", String(shown))
        .replace("{count}", String(rows.length))
        .replace("{at}", format(times[shown - 1]));
    }

    function render(scroll) {
      var active = playing || shown < rows.length;
      rows.forEach(function (row, index) {
        row.hidden = index >= shown;
        row.classList.toggle("replay-current", active && index === shown - 1);
      });
      if (scroll) {
        rows[shown - 1].scrollIntoView({ block: "nearest" });
      }
      announce();
    }

    function setPlaying(value) {
      playing = value;
      playButton.textContent = player.getAttribute(value ? "data-pause" : "data-play");
      playButton.setAttribute("aria-pressed", value ? "true" : "false");
      player.classList.toggle("is-playing", value);
    }

    function stopTimers() {
      if (timer !== null) { clearTimeout(timer); timer = null; }
      if (ticker !== null) { clearInterval(ticker); ticker = null; }
    }

    function scheduleNext() {
      stopTimers();
      if (shown >= rows.length) {
        setPlaying(false);
        render(false);
        return;
      }
      var gap = Math.max(times[shown] - clockAt, 0);
      var wait = Math.max(gap, gap === 0 ? MIN_PAUSE_S : 0) / speed();
      waitStartedAt = Date.now();
      waitFrom = clockAt;
      ticker = setInterval(function () {
        var elapsed = (Date.now() - waitStartedAt) / 1000 * speed();
        showClock(Math.min(waitFrom + elapsed, times[shown]));
      }, 100);
      timer = setTimeout(function () {
        shown += 1;
        showClock(times[shown - 1]);
        render(true);
        scheduleNext();
      }, wait * 1000);
    }

    function play() {
      if (shown >= rows.length) {
        shown = 1;
        showClock(times[0]);
      }
      setPlaying(true);
      render(true);
      scheduleNext();
    }

    function pause() {
      stopTimers();
      setPlaying(false);
      render(false);
    }

    function goTo(count) {
      stopTimers();
      setPlaying(false);
      shown = Math.min(Math.max(count, 1), rows.length);
      showClock(times[shown - 1]);
      render(true);
    }

    playButton.addEventListener("click", function () { if (playing) { pause(); } else { play(); } });
    stepButton.addEventListener("click", function () { goTo(shown + 1); });
    backButton.addEventListener("click", function () { goTo(shown - 1); });
    allButton.addEventListener("click", function () { goTo(rows.length); });
    speedSelect.addEventListener("change", function () {
      if (playing) {
        // Keep the clock where it is and wait out the rest of the gap at the new speed.
        scheduleNext();
      }
    });
    player.addEventListener("keydown", function (event) {
      var tag = event.target && event.target.tagName;
      if (tag === "SELECT") return;
      var key = event.key;
      if ((key === " " || key === "Enter") && tag === "BUTTON") return; // the button's own click
      if (key === " " || key === "k" || key === "K") {
        if (playing) { pause(); } else { play(); }
      } else if (key === "ArrowRight" || key === "l" || key === "L") {
        goTo(shown + 1);
      } else if (key === "ArrowLeft" || key === "j" || key === "J") {
        goTo(shown - 1);
      } else if (key === "Home") {
        goTo(1);
      } else if (key === "End") {
        goTo(rows.length);
      } else {
        return;
      }
      event.preventDefault();
    });

    player.hidden = false;
    player.tabIndex = -1;
    setPlaying(false);
    showClock(times[times.length - 1]);
    render(false);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
