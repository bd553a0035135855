/* b24emu's stand-in for the BX24 JS library (https://api.bitrix24.com/api/v1/).
 *
 * Like the real one it lives in the app's frame, reads "<portal host>|<protocol>|<APP_SID>"
 * from window.name (set by the portal page on the iframe), and talks to the portal page by
 * cross-origin postMessage: "command:JSON arguments:callback id:APP_SID" up, "callback
 * id:JSON result" down. Only what an app needs here is implemented (docs/emulator.md).
 */
(function () {
  "use strict";
  var parts = String(window.name || "").split("|");
  if (parts.length !== 3 || window.parent === window) {
    window.BX24 = null;
    throw new Error("Unable to initialize Bitrix24 JS library!");
  }
  var origin = (parts[1] === "1" ? "https" : "http") + "://" + parts[0];
  var sid = parts[2];
  var callbacks = {};
  var sequence = 0;
  var data = null;
  var expiresAt = 0;
  var waiting = [];

  function send(command, args, callback) {
    var id = "";
    if (typeof callback === "function") {
      sequence += 1;
      id = "cb" + sequence;
      callbacks[id] = callback;
    }
    var body = args === undefined ? "" : JSON.stringify(args);
    window.parent.postMessage(command + ":" + body + ":" + id + ":" + sid, origin);
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || event.source !== window.parent) {
      return;
    }
    var text = String(event.data);
    var colon = text.indexOf(":");
    if (colon < 0) {
      return;
    }
    var id = text.slice(0, colon);
    var payload = text.slice(colon + 1);
    var callback = callbacks[id];
    if (callback) {
      delete callbacks[id];
      callback(payload ? JSON.parse(payload) : undefined);
    }
  });

  function ready() {
    return data !== null;
  }

  function runWaiting() {
    var queue = waiting;
    waiting = [];
    queue.forEach(function (callback) {
      callback();
    });
  }

  function setAuth(auth) {
    data.AUTH_ID = auth.AUTH_ID;
    data.REFRESH_ID = auth.REFRESH_ID;
    expiresAt = Date.now() + Number(auth.AUTH_EXPIRES) * 1000;
  }

  var BX24 = {
    init: function (callback) {
      if (typeof callback !== "function") {
        return;
      }
      if (ready()) {
        setTimeout(callback, 0);
      } else {
        waiting.push(callback);
      }
    },
    installFinish: function () {
      send("setInstallFinish", {});
    },
    getAuth: function () {
      if (!ready() || Date.now() >= expiresAt) {
        return false;
      }
      return {
        access_token: data.AUTH_ID,
        refresh_token: data.REFRESH_ID,
        expires_in: expiresAt,
        domain: data.DOMAIN,
        member_id: data.MEMBER_ID,
      };
    },
    refreshAuth: function (callback) {
      send("refreshAuth", {}, function (auth) {
        setAuth(auth);
        if (typeof callback === "function") {
          callback(BX24.getAuth());
        }
      });
    },
    isAdmin: function () {
      return ready() && data.IS_ADMIN === true;
    },
    getLang: function () {
      return ready() ? data.LANG : "";
    },
    getDomain: function () {
      return ready() ? data.DOMAIN : "";
    },
    placement: {
      info: function () {
        if (!ready()) {
          return {};
        }
        return { placement: data.PLACEMENT, options: data.PLACEMENT_OPTIONS };
      },
    },
    getScrollSize: function () {
      var root = document.documentElement;
      return { scrollWidth: root.scrollWidth, scrollHeight: root.scrollHeight };
    },
    resizeWindow: function (width, height, callback) {
      send("resizeWindow", { width: width, height: height }, callback);
    },
    fitWindow: function (callback) {
      send("resizeWindow", { height: BX24.getScrollSize().scrollHeight }, callback);
    },
    setTitle: function (title, callback) {
      send("setTitle", { title: String(title) }, callback);
    },
    openPath: function (path, callback) {
      send("openPath", { path: String(path) }, callback);
    },
    reloadWindow: function () {
      send("reloadWindow", {});
    },
  };
  window.BX24 = BX24;

  send("getInitData", undefined, function (init) {
    data = init;
    setAuth(init);
    runWaiting();
  });
})();
