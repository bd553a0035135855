// The installer's page (POST /b24/app/install), shown only once the install was proven and
// everything was bound: tell the portal the app is installed (reference §1.2.5 B). The
// portal then opens the app's own page. A refused or failed install has no such page.
(function () {
  function finish() {
    if (window.BX24 && BX24.installFinish) { BX24.installFinish(); }
  }
  if (window.BX24 && BX24.init) { BX24.init(finish); } else { finish(); }
})();
