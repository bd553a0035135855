// The login page's resend timer: counts down the seconds the server sent (data-wait) and keeps
// the "new code" button off until then. Without JS the page shows the seconds as of its loading.
(function () {
  "use strict";
  var form = document.getElementById("resend");
  if (!form) return;
  var timer = document.getElementById("resend-timer");
  var button = document.getElementById("resend-code");
  var left = parseInt(form.getAttribute("data-wait"), 10) || 0;
  var text = timer.getAttribute("data-text");
  var done = timer.getAttribute("data-done");
  function tick() {
    if (left <= 0) {
      button.disabled = false;
      timer.textContent = done;
      return;
    }
    button.disabled = true;
    timer.textContent = text.replace("{s}", String(left));
    left -= 1;
    setTimeout(tick, 1000);
  }
  tick();
})();
