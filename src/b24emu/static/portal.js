/* The emulated portal page's side of an app frame: posts the hidden form into the iframe
 * (as Bitrix24 opens an app) and answers the BX24 library's messages from that frame. */
(function () {
  "use strict";
  var frame = document.getElementById("app-frame");
  var initNode = document.getElementById("frame-init");
  var form = document.getElementById("app-form");
  if (!frame || !initNode || !form) {
    return;
  }
  var init = JSON.parse(initNode.textContent);
  var sid = init.APP_SID;
  var as = document.body.getAttribute("data-as") || "1";
  var PATHS = ["/crm/deal/", "/crm/lead/", "/crm/contact/", "/crm/company/", "/crm/type/"];

  function reply(origin, id, value) {
    if (id) {
      frame.contentWindow.postMessage(id + ":" + JSON.stringify(value === undefined ? null : value), origin);
    }
  }

  function control(action, done) {
    fetch("/portal/frames/" + encodeURIComponent(sid) + "/" + action, { method: "POST" })
      .then(function (response) {
        return response.json();
      })
      .then(done);
  }

  function note(command) {
    var seen = (frame.getAttribute("data-commands") || "").split(" ").filter(Boolean);
    seen.push(command);
    frame.setAttribute("data-commands", seen.join(" "));
  }

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow) {
      return;
    }
    var text = String(event.data);
    var first = text.indexOf(":");
    var last = text.lastIndexOf(":");
    var middle = text.lastIndexOf(":", last - 1);
    if (first < 0 || middle <= first) {
      return;
    }
    if (text.slice(last + 1) !== sid) {
      return;
    }
    var command = text.slice(0, first);
    var raw = text.slice(first + 1, middle);
    var id = text.slice(middle + 1, last);
    var args = raw ? JSON.parse(raw) : {};
    note(command);
    if (command === "getInitData") {
      reply(event.origin, id, init);
    } else if (command === "setInstallFinish") {
      control("install-finish", function (answer) {
        if (answer.redirect) {
          window.location.href = answer.redirect;
        }
      });
    } else if (command === "refreshAuth") {
      control("refresh-auth", function (answer) {
        init.AUTH_ID = answer.AUTH_ID;
        init.REFRESH_ID = answer.REFRESH_ID;
        reply(event.origin, id, answer);
      });
    } else if (command === "resizeWindow") {
      var width = parseInt(args.width, 10);
      var height = parseInt(args.height, 10);
      if (width > 0) {
        frame.style.width = width + "px";
      }
      if (height > 0) {
        frame.style.height = height + "px";
      }
      reply(event.origin, id, { width: frame.offsetWidth, height: frame.offsetHeight });
    } else if (command === "setTitle") {
      document.title = String(args.title || "");
      reply(event.origin, id, {});
    } else if (command === "openPath") {
      var path = String(args.path || "");
      var allowed = PATHS.some(function (prefix) {
        return path.indexOf(prefix) === 0;
      });
      if (!allowed) {
        reply(event.origin, id, { result: "error", errorCode: "PATH_NOT_AVAILABLE" });
        return;
      }
      var glue = path.indexOf("?") >= 0 ? "&" : "?";
      window.location.href = "/portal" + path + glue + "as=" + encodeURIComponent(as) +
        "&from=rest_placement";
    } else if (command === "reloadWindow") {
      window.location.reload();
    } else {
      reply(event.origin, id, { error: "UNKNOWN_COMMAND" });
    }
  });

  form.submit();
})();
