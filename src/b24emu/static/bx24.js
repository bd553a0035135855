/* b24emu's stand-in for the BX24 JS library (https://api.bitrix24.com/api/v1/).
 *
 * Like the real one it lives in the app's frame, reads "<portal host>|<protocol>|<APP_SID>"
 * from window.name (set by the portal page on the iframe), and talks to the portal page by
 * cross-origin postMessage: "command:JSON arguments:callback id:APP_SID" up, "callback
 * id:JSON result" down; BX24.callMethod calls the portal's REST from the browser. Only what
 * an app needs here is implemented (docs/emulator.md).
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

  // BX24.callMethod: the REST call from the browser, to the portal (window.name's host), with
  // the frame's token; PHP-style form fields, as the real library sends them.
  function formFields(value, prefix, out) {
    if (value === null || value === undefined) {
      return out;
    }
    if (typeof value === "object") {
      Object.keys(value).forEach(function (key) {
        formFields(value[key], prefix ? prefix + "[" + key + "]" : key, out);
      });
      if (Array.isArray(value) && value.length === 0 && prefix) {
        out.push([prefix, ""]);
      }
      return out;
    }
    out.push([prefix, typeof value === "boolean" ? (value ? "Y" : "N") : String(value)]);
    return out;
  }

  function AjaxResult(answer, status, query) {
    this.answer = answer;
    this.status = status;
    this.query = query;
  }
  AjaxResult.prototype.data = function () {
    return this.answer.result;
  };
  AjaxResult.prototype.error = function () {
    return this.answer.error ? this.answer.error : null;
  };
  AjaxResult.prototype.error_description = function () {
    return this.answer.error_description || "";
  };
  AjaxResult.prototype.total = function () {
    return this.answer.total;
  };
  AjaxResult.prototype.more = function () {
    return this.answer.next !== undefined;
  };
  AjaxResult.prototype.next = function (callback) {
    if (!this.more()) {
      return false;
    }
    var params = Object.assign({}, this.query.params, { start: this.answer.next });
    callMethod(this.query.method, params, callback || this.query.callback);
    return true;
  };

  function callMethod(method, params, callback, retried) {
    var query = { method: method, params: params || {}, callback: callback };
    var body = new URLSearchParams();
    formFields(params || {}, "", []).forEach(function (pair) {
      body.append(pair[0], pair[1]);
    });
    body.append("auth", data.AUTH_ID);
    fetch(origin + "/rest/" + method + ".json", { method: "POST", body: body })
      .then(function (response) {
        return response.json().then(function (answer) {
          if (answer.error === "expired_token" && !retried) {
            BX24.refreshAuth(function () {
              callMethod(method, params, callback, true);
            });
            return;
          }
          if (typeof callback === "function") {
            callback(new AjaxResult(answer, response.status, query));
          }
        });
      })
      .catch(function (error) {
        if (typeof callback === "function") {
          callback(new AjaxResult({ error: "NETWORK", error_description: String(error) }, 0, query));
        }
      });
  }

  var BX24 = {
    callMethod: function (method, params, callback) {
      if (ready()) {
        callMethod(method, params, callback);
      } else {
        waiting.push(function () {
          callMethod(method, params, callback);
        });
      }
    },
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
