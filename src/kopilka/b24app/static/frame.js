// Every page Kopilka shows inside Bitrix24: tell the portal we are ready and fit the frame to
// the page (BX24 is the portal's library; the page loads it from the configured URL).
(function () {
  function fit() {
    if (window.BX24 && BX24.fitWindow) { BX24.fitWindow(); }
  }
  if (window.BX24 && BX24.init) { BX24.init(fit); } else { fit(); }
  window.addEventListener("load", fit);
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-open-path]") : null;
    if (link && window.BX24 && BX24.openPath) {
      event.preventDefault();
      BX24.openPath(link.getAttribute("data-open-path"));
    }
  });
})();
