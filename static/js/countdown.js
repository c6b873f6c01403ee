// The exam timer: counts down to the attempt's deadline and hands the form in at zero.
// The server renders the remaining seconds, so a wrong clock on the expert's device does not
// shorten or lengthen the test; the <time datetime> attribute is only a fallback.
(function () {
  "use strict";

  var clock = document.querySelector("time[data-countdown]");
  if (!clock) return;
  var form = document.querySelector("form[data-countdown-form]");
  var announcer = document.querySelector("[data-countdown-announce]");
  var timer = clock.closest(".exam-timer");

  var secondsLeft = parseInt(clock.getAttribute("data-seconds-left"), 10);
  var end = isNaN(secondsLeft)
    ? Date.parse(clock.getAttribute("datetime"))
    : Date.now() + secondsLeft * 1000;
  if (isNaN(end)) return;

  var announced = {};
  var submitting = false;
  var dirty = false;

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function format(total) {
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var seconds = total % 60;
    return hours > 0
      ? hours + ":" + pad(minutes) + ":" + pad(seconds)
      : minutes + ":" + pad(seconds);
  }

  function announce(text) {
    if (announcer) announcer.textContent = text;
  }

  function handIn() {
    if (!form || submitting) return;
    submitting = true;
    announce("Time is up. Handing in your answers.");
    // form.submit() skips the submit event and validation: time is up, send what there is.
    form.submit();
  }

  function tick() {
    var left = Math.max(0, Math.round((end - Date.now()) / 1000));
    clock.textContent = format(left);
    if (timer) {
      timer.classList.toggle("is-low", left > 0 && left <= 300);
      timer.classList.toggle("is-up", left === 0);
    }
    [5, 1].forEach(function (minutes) {
      if (left <= minutes * 60 && left > 0 && !announced[minutes]) {
        announced[minutes] = true;
        announce(minutes + (minutes === 1 ? " minute" : " minutes") + " left.");
      }
    });
    if (left === 0) {
      window.clearInterval(interval);
      handIn();
    }
  }

  if (form) {
    form.addEventListener("input", function () {
      dirty = true;
    });
    form.addEventListener("submit", function () {
      submitting = true;
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.disabled = true;
        button.textContent = "Handing in…";
      }
    });
    window.addEventListener("beforeunload", function (event) {
      if (dirty && !submitting) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  var interval = window.setInterval(tick, 1000);
  tick();
})();
