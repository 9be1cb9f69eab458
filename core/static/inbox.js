// The inbox's page script: live updates over /inbox/ws, exact catch-up by sequence
// number, forms that post without reloading, canned answers, browser
// notifications. Hand-written, no library, no build step. Everything it shows comes
// from the server's escaped HTML or is set with textContent.
(function () {
  "use strict";

  var body = document.body;
  var site = body.dataset.site;
  if (!site || !body.dataset.agent) return;

  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var conversationId = body.dataset.conversation ? Number(body.dataset.conversation) : null;
  var announcer = document.getElementById("announcer");
  var liveState = document.getElementById("live-state");
  var list = document.getElementById("live-list");
  var thread = document.getElementById("thread");
  var statusBox = document.getElementById("conversation-status");
  var typingBox = document.getElementById("typing");
  var replyText = document.getElementById("reply-text");
  var baseTitle = document.title.replace(/^\(\d+\) /, "");

  function announce(text) {
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 60);
  }

  // Run fn one at a time; a call that arrives while it runs makes it run once more.
  function serial(fn) {
    var running = false, again = false;
    return function run() {
      if (running) { again = true; return; }
      running = true;
      Promise.resolve().then(fn).catch(function () {}).then(function () {
        running = false;
        if (again) { again = false; run(); }
      });
    };
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fn, ms);
    };
  }

  function fetchHTML(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(function (r) {
      if (r.url.indexOf("/inbox/login") >= 0) { window.location.reload(); throw new Error("signed out"); }
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    });
  }

  function post(url, params) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
      body: params
    });
  }

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  // --- the list (and the backlog) -------------------------------------------------
  var refreshList = serial(function () {
    if (!list) return null;
    return fetchHTML(list.dataset.fragment).then(function (html) {
      var active = document.activeElement;
      var focusedRow = active && list.contains(active) && active.closest("li") ? active.closest("li").id : null;
      list.replaceChildren(fragment(html));
      if (focusedRow) {
        var again = document.getElementById(focusedRow);
        var link = again && again.querySelector("a");
        if (link) link.focus();
      }
      var counter = list.querySelector("[data-unread-total]");
      var unread = counter ? Number(counter.dataset.unreadTotal) : 0;
      document.title = (unread ? "(" + unread + ") " : "") + baseTitle;
    });
  });
  var scheduleList = debounce(refreshList, 300);

  // --- the open conversation -------------------------------------------------------
  function lastSeq() {
    var items = thread.querySelectorAll("li[data-seq]");
    return items.length ? Number(items[items.length - 1].dataset.seq) : 0;
  }

  var catchUp = serial(function () {
    if (!thread) return null;
    var url = thread.dataset.fragment + "?after=" + lastSeq() + (document.hidden ? "" : "&read=1");
    return fetchHTML(url).then(function (html) {
      var added = Array.prototype.slice.call(fragment(html).querySelectorAll("li[data-seq]"));
      added.forEach(function (li) {
        if (!document.getElementById(li.id)) thread.appendChild(li);
      });
      added.forEach(function (li) {
        if (li.classList.contains("from-citizen")) {
          announce("Nuevo mensaje: " + li.querySelector(".message-text").textContent);
        }
      });
      if (added.length) added[added.length - 1].scrollIntoView({ block: "nearest" });
    });
  });

  function refreshMessage(messageId) {
    var current = document.getElementById("m-" + messageId);
    if (!current || !thread) return;
    fetchHTML(thread.dataset.fragment + "/" + messageId).then(function (html) {
      var fresh = fragment(html).querySelector("li");
      if (fresh && !current.contains(document.activeElement)) current.replaceWith(fresh);
    }).catch(function () {});
  }

  var refreshStatus = serial(function () {
    if (!statusBox) return null;
    // Never pull the form out from under someone using it.
    if (statusBox.contains(document.activeElement) || statusBox.dataset.dirty) return null;
    return fetchHTML(statusBox.dataset.fragment).then(function (html) {
      if (statusBox.contains(document.activeElement) || statusBox.dataset.dirty) return;
      statusBox.replaceChildren(fragment(html));
    });
  });
  if (statusBox) {
    statusBox.addEventListener("input", function () { statusBox.dataset.dirty = "1"; });
  }

  var typingTimer = null;
  function showTyping() {
    if (!typingBox) return;
    typingBox.textContent = "La persona está escribiendo…";
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(function () { typingBox.textContent = ""; }, 6000);
  }

  function markRead() {
    if (!thread || document.hidden) return;
    var params = new URLSearchParams({ seq: String(lastSeq()), csrf_token: csrf });
    post(thread.dataset.fragment.replace(/\/messages$/, "/read"), params).catch(function () {});
  }
  document.addEventListener("visibilitychange", markRead);

  // --- notifications ---------------------------------------------------------------
  var notifyButton = document.getElementById("enable-notifications");
  if (notifyButton && "Notification" in window && Notification.permission === "default") {
    notifyButton.hidden = false;
    notifyButton.addEventListener("click", function () {
      Notification.requestPermission().then(function () { notifyButton.hidden = true; });
    });
  }

  function notify(title, text, event) {
    var here = event.conversation_id === conversationId && !document.hidden;
    if (here || !("Notification" in window) || Notification.permission !== "granted") return;
    var note = new Notification(title, { body: text || "", tag: "conversation-" + event.conversation_id });
    note.addEventListener("click", function () {
      window.focus();
      window.location.href = "/inbox/" + event.site + "/conversations/" + event.conversation_id;
    });
  }

  // --- the socket ------------------------------------------------------------------
  var socket = null;
  var backoff = 1000;
  var seenWaiting = {};

  function setLive(on, text) {
    liveState.textContent = text || (on ? "En vivo" : "Reconectando…");
    liveState.classList.toggle("is-live", on);
  }

  function catchUpAll() {
    refreshList();
    catchUp();
    refreshStatus();
  }

  function handle(event) {
    switch (event.kind) {
      case "ready":
        backoff = 1000;
        setLive(true);
        catchUpAll(); // subscribed first, fetched after: nothing falls in between
        break;
      case "resync":
        catchUpAll();
        break;
      case "message":
        if (event.conversation_id === conversationId) catchUp();
        scheduleList();
        if (event.direction === "in") notify("Nuevo mensaje", event.text, event);
        break;
      case "conversation":
      case "changed":
        scheduleList();
        if (event.conversation_id === conversationId) refreshStatus();
        if (event.kind === "conversation" && event.state === "queued" && !seenWaiting[event.conversation_id]) {
          seenWaiting[event.conversation_id] = true;
          notify("Conversación en espera", "Una conversación espera a un agente.", event);
        }
        break;
      case "delivery":
        if (event.conversation_id === conversationId) refreshMessage(event.message_id);
        break;
      case "typing":
        if (event.conversation_id === conversationId && event.who === "citizen") showTyping();
        break;
      case "alert":
        announce("Hay una alerta nueva del sitio; recargá la página para verla.");
        break;
      default:
        break;
    }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/inbox/ws?site=" + encodeURIComponent(site));
    socket.addEventListener("message", function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      handle(event);
    });
    socket.addEventListener("close", function (closed) {
      socket = null;
      if (closed.code === 4401 || closed.code === 4404) {
        setLive(false, "Sesión terminada: recargá la página");
        announce("Tu sesión terminó. Recargá la página para volver a entrar.");
        return;
      }
      setLive(false);
      // A refused handshake looks like a network error: check the session, and
      // reload (to the login page) if it ended.
      fetch("/inbox/api/v1/me", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (r.status === 401) window.location.reload(); })
        .catch(function () {});
      window.setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    });
  }
  connect();

  // --- typing ----------------------------------------------------------------------
  var lastTyping = 0;
  if (replyText && conversationId) {
    replyText.addEventListener("input", function () {
      var now = Date.now();
      if (now - lastTyping < 2500 || !socket || socket.readyState !== WebSocket.OPEN) return;
      lastTyping = now;
      socket.send(JSON.stringify({ type: "typing", site: site, conversation_id: conversationId }));
    });
  }

  // --- forms without reload --------------------------------------------------------
  document.addEventListener("submit", function (submitted) {
    var form = submitted.target;
    if (!form.dataset || !form.dataset.enhance) return;
    submitted.preventDefault();
    var error = form.querySelector(".form-error");
    var button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    post(form.action, new URLSearchParams(new FormData(form)))
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (r.ok) {
            if (error) error.textContent = "";
            var text = form.querySelector("textarea");
            if (text) text.value = "";
            announce(data.message || "Listo.");
            catchUp();
          } else if (error) {
            error.textContent = data.message || "No se pudo enviar. Probá de nuevo.";
          } else {
            announce(data.message || "No se pudo.");
          }
        });
      })
      .catch(function () {
        if (error) error.textContent = "Sin conexión con el servidor. Tu texto sigue aquí; probá de nuevo.";
      })
      .then(function () { if (button) button.disabled = false; });
  });

  // --- reply box: Ctrl+Enter sends, "/" opens canned answers -------------------------
  var canned = document.getElementById("canned");
  var cannedInsert = document.getElementById("canned-insert");

  function insertCanned() {
    var option = canned.options[canned.selectedIndex];
    if (!option || !option.value) return;
    var text = option.dataset.text;
    var start = replyText.selectionStart, end = replyText.selectionEnd;
    replyText.value = replyText.value.slice(0, start) + text + replyText.value.slice(end);
    replyText.focus();
    replyText.selectionStart = replyText.selectionEnd = start + text.length;
    canned.selectedIndex = 0;
  }

  if (replyText) {
    replyText.addEventListener("keydown", function (key) {
      if (key.key === "Enter" && (key.ctrlKey || key.metaKey)) {
        key.preventDefault();
        replyText.form.requestSubmit();
      } else if (key.key === "/" && canned && replyText.value === "") {
        key.preventDefault();
        canned.focus();
      }
    });
  }
  if (canned) {
    canned.addEventListener("keydown", function (key) {
      if (key.key === "Enter") { key.preventDefault(); insertCanned(); }
      if (key.key === "Escape") { key.preventDefault(); replyText.focus(); }
    });
    cannedInsert.addEventListener("click", insertCanned);
  }
})();
