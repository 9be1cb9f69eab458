/* canales — live chat widget. Hand-written, no dependencies, no build step.
 * Embed with: <script src="https://HOST/s/SITE/chat/widget.js" async></script>
 * It renders inside a Shadow DOM, inserts every text with textContent, and speaks
 * the protocol of docs/chat-protocol.md. The server writes the site's settings into
 * the last line of this file. */
(function (CONFIG) {
  "use strict";
  var flag = "canalesChat:" + CONFIG.site;
  if (window[flag] || !window.WebSocket || !document.body.attachShadow) return;
  window[flag] = true;

  var script = document.currentScript || document.querySelector('script[src*="/s/' + CONFIG.site + '/chat/widget.js"]');
  var base = new URL(script.src, location.href);
  var WS_URL = base.origin.replace(/^http/, "ws") + "/s/" + encodeURIComponent(CONFIG.site) + "/chat/ws";
  var T = CONFIG.texts;
  var STORE = "canales-chat:" + CONFIG.site;
  var SAFE_HREF = /^(https?:|mailto:|tel:)/i;
  var reduceMotion = window.matchMedia && matchMedia("(prefers-reduced-motion: reduce)").matches;

  var STYLE = [
    ":host{all:initial}",
    ".root{--accent:ACCENT;font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1a1a1a}",
    ".root *{box-sizing:border-box}",
    "[hidden]{display:none!important}",
    ".vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "button,input,select,textarea{font:inherit;color:inherit}",
    ":focus{outline:none}",
    ":focus-visible{outline:3px solid #1a1a1a;outline-offset:2px;box-shadow:0 0 0 5px #fff}",
    ".launcher{position:fixed;bottom:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;min-height:48px;padding:10px 18px;border:2px solid #fff;border-radius:24px;background:var(--accent);color:#fff;font-weight:600;cursor:pointer;box-shadow:0 2px 8px rgba(0,0,0,.35)}",
    ".right .launcher,.right .panel{right:20px}.left .launcher,.left .panel{left:20px}",
    ".launcher svg{width:22px;height:22px;fill:none;stroke:currentColor;stroke-width:2}",
    ".badge{min-width:24px;padding:0 6px;border-radius:12px;background:#fff;color:#1a1a1a;font-size:14px;line-height:24px;text-align:center}",
    ".panel{position:fixed;bottom:84px;z-index:2147483001;display:flex;flex-direction:column;width:380px;max-width:calc(100vw - 40px);height:600px;max-height:calc(100vh - 104px);background:#fff;border:1px solid #6b6b6b;border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.3);overflow:hidden}",
    "header{display:flex;align-items:flex-start;gap:4px;padding:12px 12px 10px 16px;background:var(--accent);color:#fff}",
    ".heading{flex:1;min-width:0}",
    "h2{margin:0;font-size:18px;line-height:1.3}",
    ".state{margin:2px 0 0;font-size:14px}",
    ".tool{display:flex;align-items:center;justify-content:center;width:40px;height:40px;padding:0;border:0;border-radius:8px;background:transparent;color:#fff;cursor:pointer}",
    ".tool svg{width:22px;height:22px;fill:none;stroke:currentColor;stroke-width:2.2;stroke-linecap:round}",
    "header :focus-visible{outline-color:#fff;box-shadow:0 0 0 5px #1a1a1a}",
    ".notice{padding:10px 16px;background:#fff4e0;color:#3d2800;border-bottom:1px solid #c9a25a;font-size:15px;max-height:45%;overflow:auto}",
    ".notice p{margin:0 0 6px}.notice ul{margin:0;padding-left:20px}",
    ".notice a,.privacy a{color:#0b3f7a;text-decoration:underline}",
    ".body{flex:1;min-height:0;display:flex;flex-direction:column;overflow:auto}",
    ".start{padding:12px 16px}",
    ".start>p{margin:0 0 10px}",
    ".field{margin-bottom:12px}",
    ".field label{display:block;margin-bottom:4px;font-weight:600}",
    "input[type=text],input[type=email],select,textarea{width:100%;padding:8px 10px;border:1px solid #6b6b6b;border-radius:6px;background:#fff}",
    "[aria-invalid=true]{border-color:#b3261e;border-width:2px}",
    ".privacy{margin:0 0 12px;padding:10px 12px;border:1px solid #6b6b6b;border-radius:8px;font-size:15px}",
    ".privacy legend{padding:0 4px;font-weight:600}.privacy p{margin:0 0 8px}",
    ".check{display:flex;gap:8px;align-items:flex-start}.check input{width:20px;height:20px;margin:2px 0 0;flex:none}",
    ".error{margin:4px 0 0;color:#b3261e;font-size:14px}.error:empty{display:none}",
    ".primary{min-height:44px;padding:8px 18px;border:0;border-radius:8px;background:var(--accent);color:#fff;font-weight:600;cursor:pointer}",
    ".panel>.primary{margin:10px 16px 14px}",
    ".log{flex:1;padding:12px 16px;overflow:auto}",
    ".msg{max-width:85%;margin:0 0 10px;padding:8px 12px;border-radius:12px;background:#eef1f5;overflow-wrap:anywhere}",
    ".msg.mine{margin-left:auto;background:var(--accent);color:#fff}",
    ".msg p{margin:0}.who{font-size:13px;font-weight:600}.time{font-weight:400}",
    ".text{white-space:pre-wrap}",
    ".meta{font-size:13px;margin-top:4px!important}",
    ".choices{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}",
    ".choice{min-height:36px;padding:4px 12px;border:2px solid var(--accent);border-radius:18px;background:#fff;color:var(--accent);cursor:pointer}",
    ".link{padding:0;border:0;background:none;color:inherit;text-decoration:underline;cursor:pointer}",
    ".typing,.conn{margin:0;padding:0 16px;font-size:14px;color:#4a4a4a}.typing:empty,.conn:empty{display:none}",
    ".composer{display:grid;grid-template-columns:1fr auto;gap:4px 8px;padding:10px 16px 14px;border-top:1px solid #c4c4c4}",
    ".composer label{grid-column:1/-1;font-weight:600;font-size:15px}",
    ".composer textarea{resize:none;min-height:48px}",
    ".hint{grid-column:1;grid-row:3;margin:0;font-size:13px;color:#4a4a4a}",
    ".composer .error{grid-column:1/-1}",
    ".composer .primary{grid-column:2;grid-row:2;align-self:end}",
    "@media (max-width:480px){.panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0;border:0}.launcher{bottom:12px}.right .launcher{right:12px}.left .launcher{left:12px}}",
    "@media (prefers-reduced-motion:no-preference){.panel{animation:rise .18s ease-out}@keyframes rise{from{opacity:0;transform:translateY(8px)}}}",
    "@media (forced-colors:active){.launcher,.primary,.msg,.panel{border:1px solid CanvasText}}"
  ].join("\n");

  // --- state
  var saved = load();
  var ws = null, wanted = false, attempts = 0, retryTimer = 0, deadTimer = 0, heartbeat = 25;
  var conversationId = saved.conversation || null, lastSeq = 0, readSeq = 0, unread = 0;
  var bySeq = {}, pending = {}, startWanted = null, state = null, typingTimer = 0, typingSent = 0, replayTimer = 0, readTimer = 0;
  var isOpen = false;

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; }
  }
  function save() {
    try {
      if (saved.token) localStorage.setItem(STORE, JSON.stringify(saved));
      else localStorage.removeItem(STORE);
    } catch (e) { /* storage refused: the chat still works until the page closes */ }
  }
  function t(key, params) {
    return (T[key] || key).replace(/\{(\w+)\}/g, function (m, name) {
      return params && params[name] != null ? String(params[name]) : "";
    });
  }

  // --- DOM helpers (text always through textContent)
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var key in attrs || {}) {
      var value = attrs[key];
      if (value == null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }
  function icon(path) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    svg.appendChild(p);
    return svg;
  }
  function on(node, event, handler) { node.addEventListener(event, handler); }
  function show(node, visible) { node.hidden = !visible; }

  // --- building the widget
  var host = el("div", { "data-canales-chat": CONFIG.site, lang: "es" });
  var root = host.attachShadow({ mode: "open" });
  var css = STYLE.replace(/ACCENT/g, CONFIG.accent);
  if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    // A constructed sheet is not inline style: host pages with a strict CSP allow it.
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el("style", { text: css }));
  }

  var badge = el("span", { class: "badge", hidden: true });
  var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "panel" }, [
    icon("M4 4h16v12H8l-4 4z"), el("span", { text: T.launcher }), badge
  ]);
  var title = el("h2", { id: "title", text: T.title });
  var stateLine = el("p", { class: "state", id: "state" });
  var transcriptButton = el("button", { class: "tool", type: "button", "aria-label": T.transcript, title: T.transcript, hidden: true }, [
    icon("M12 3v12m0 0l-5-5m5 5l5-5M5 21h14")
  ]);
  var closeButton = el("button", { class: "tool", type: "button", "aria-label": T.close, title: T.close }, [icon("M6 6l12 12M18 6L6 18")]);
  var notice = el("div", { class: "notice", hidden: true });
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": T.messages, tabindex: "0" });
  var typing = el("p", { class: "typing", role: "status" });
  var conn = el("p", { class: "conn", role: "status" });
  var startForm = buildStartForm();
  var textarea = el("textarea", { id: "text", rows: "2", maxlength: String(CONFIG.maxText), "aria-describedby": "hint composer-error", autocomplete: "off" });
  var composerError = el("p", { class: "error", id: "composer-error" });
  var sendButton = el("button", { class: "primary", type: "submit", text: T.send });
  var composer = el("form", { class: "composer", hidden: true, novalidate: true }, [
    el("label", { for: "text", text: T.composer }), textarea,
    el("p", { class: "hint", id: "hint", text: T.composer_hint }), composerError, sendButton
  ]);
  var newButton = el("button", { class: "primary", type: "button", text: T.new_conversation, hidden: true });
  var panel = el("section", { class: "panel", id: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "title", "aria-describedby": "state", hidden: true }, [
    el("header", {}, [el("div", { class: "heading" }, [title, stateLine]), transcriptButton, closeButton]),
    notice, el("div", { class: "body" }, [startForm.form, log]), typing, conn, composer, newButton
  ]);
  root.appendChild(el("div", { class: "root " + (CONFIG.position === "left" ? "left" : "right") }, [launcher, panel]));
  document.body.appendChild(host);

  function buildStartForm() {
    var fields = {}, parts = [], pre = CONFIG.prechat;
    function field(name, label, control) {
      var error = el("p", { class: "error", id: "f-" + name + "-error", hidden: true });
      control.setAttribute("id", "f-" + name);
      control.setAttribute("name", name);
      control.setAttribute("aria-describedby", "f-" + name + "-error");
      fields[name] = { control: control, error: error };
      var optional = pre[name] === "optional" ? " " + T.optional : "";
      parts.push(el("div", { class: "field" }, [el("label", { for: "f-" + name, text: label + optional }), control, error]));
    }
    if (pre) {
      parts.push(el("p", { text: T.prechat_intro }));
      if (pre.name !== "off") field("name", T.name, el("input", { type: "text", autocomplete: "name", maxlength: "200", required: pre.name === "required" }));
      if (pre.email !== "off") field("email", T.email, el("input", { type: "email", autocomplete: "email", maxlength: "254", required: pre.email === "required" }));
      if (pre.topic !== "off") {
        var control;
        if (pre.topics.length) {
          control = el("select", { required: pre.topic === "required" }, [el("option", { value: "", text: T.topic_choose })]);
          pre.topics.forEach(function (topic) { control.appendChild(el("option", { value: topic, text: topic })); });
        } else {
          control = el("input", { type: "text", maxlength: "80", required: pre.topic === "required" });
        }
        field("topic", T.topic, control);
      }
    }
    var check = el("input", { type: "checkbox", id: "f-privacy", "aria-describedby": "privacy-text f-privacy-error" });
    var privacyError = el("p", { class: "error", id: "f-privacy-error", hidden: true });
    fields.privacy = { control: check, error: privacyError };
    var privacy = el("fieldset", { class: "privacy" }, [
      el("legend", { text: T.privacy_title }),
      el("p", { id: "privacy-text", text: CONFIG.privacy.text }),
      CONFIG.privacy.url && SAFE_HREF.test(CONFIG.privacy.url)
        ? el("p", {}, [el("a", { href: CONFIG.privacy.url, target: "_blank", rel: "noopener", text: T.privacy_link })]) : null,
      el("div", { class: "check" }, [check, el("label", { for: "f-privacy", text: T.privacy_accept })]),
      privacyError
    ]);
    var form = el("form", { class: "start", novalidate: true, hidden: true }, parts.concat([privacy, el("button", { class: "primary", type: "submit", text: T.start })]));
    return { form: form, fields: fields };
  }

  // --- opening and closing (focus management)
  function isPhone() { return window.matchMedia && matchMedia("(max-width: 480px)").matches; }

  function open(focus) {
    isOpen = true;
    show(panel, true);
    launcher.setAttribute("aria-expanded", "true");
    panel.setAttribute("aria-modal", isPhone() ? "true" : "false");
    saved.open = true; save();
    render();
    if (focus !== false) firstFocus().focus();
    connect();
    markRead();
  }
  function close() {
    isOpen = false;
    show(panel, false);
    launcher.setAttribute("aria-expanded", "false");
    saved.open = false; save();
    launcher.focus();
  }
  function firstFocus() {
    if (!startForm.form.hidden) return startForm.form.querySelector("input, select") || startForm.form;
    if (!composer.hidden) return textarea;
    if (!newButton.hidden) return newButton;
    return closeButton;
  }
  function focusables() {
    return Array.prototype.filter.call(
      panel.querySelectorAll("button, a[href], input, select, textarea, [tabindex='0']"),
      function (node) { return !node.disabled && node.getClientRects().length; }
    );
  }
  on(launcher, "click", function () { if (isOpen) close(); else open(); });
  on(closeButton, "click", close);
  on(panel, "keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); close(); return; }
    // The panel traps focus only while it is modal (full screen on a phone).
    if (event.key !== "Tab" || panel.getAttribute("aria-modal") !== "true") return;
    var items = focusables(), first = items[0], last = items[items.length - 1], active = root.activeElement;
    if (event.shiftKey && active === first) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && active === last) { event.preventDefault(); first.focus(); }
  });
  window.addEventListener("resize", function () { if (isOpen) panel.setAttribute("aria-modal", isPhone() ? "true" : "false"); });

  // --- views
  function render() {
    var started = !!saved.token;
    show(startForm.form, !started);
    show(log, started);
    var finished = state === "closed";
    show(composer, started && !finished);
    show(newButton, started && finished);
    show(transcriptButton, !!conversationId);
  }
  function setState(conversation) {
    state = conversation ? conversation.state : null;
    var text = "";
    if (state === "assigned") text = conversation.agent ? t("state.assigned", { name: conversation.agent }) : "";
    else if (state && T["state." + state]) text = T["state." + state];
    stateLine.textContent = text;
    render();
  }
  function setStatus(status) {
    notice.textContent = "";
    show(notice, !status.open);
    if (status.open) return;
    notice.appendChild(el("p", { text: status.message }));
    var items = (status.alternatives || []).map(function (alt) {
      var value = alt.href && SAFE_HREF.test(alt.href) ? el("a", { href: alt.href, text: alt.value }) : el("span", { text: alt.value });
      return el("li", {}, [el("strong", { text: alt.label + ": " }), value, alt.detail ? el("span", { text: " (" + alt.detail + ")" }) : null]);
    });
    if (items.length) notice.appendChild(el("p", { text: T.alternatives }));
    if (items.length) notice.appendChild(el("ul", {}, items));
  }

  // --- messages
  function author(frame) {
    if (frame.author === "citizen") return T.you;
    if (frame.author === "agent") return frame.agent || T.agent;
    if (frame.author === "bot") return T.bot;
    return T.title;
  }
  function time(iso) {
    var date = iso ? new Date(iso) : new Date();
    return date.toLocaleTimeString("es-UY", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }
  function bubble(who, mine, text, when) {
    return el("div", { class: "msg " + (mine ? "mine" : "theirs") }, [
      el("p", { class: "who" }, [el("span", { text: who }), el("span", { class: "time", text: " · " + time(when) })]),
      el("p", { class: "text", text: text })
    ]);
  }
  function firstPending() { return log.querySelector(".pending"); }

  function addMessage(frame) {
    lastSeq = Math.max(lastSeq, frame.seq);
    if (bySeq[frame.seq]) return;
    var node = bubble(author(frame), frame.author === "citizen", frame.text, frame.created_at);
    node.setAttribute("data-seq", frame.seq);
    (frame.buttons || []).forEach(function (button, index) {
      if (!index) node.appendChild(el("div", { class: "choices" }));
      var choice = el("button", { type: "button", class: "choice", text: button.title });
      on(choice, "click", function () { say(button.title, button.payload); });
      node.lastChild.appendChild(choice);
    });
    bySeq[frame.seq] = node;
    log.insertBefore(node, firstPending());
    if (frame.author !== "citizen") {
      typing.textContent = "";
      if (frame.seq > readSeq && !(isOpen && !document.hidden)) { unread += 1; showBadge(); }
    }
    scrollDown();
    markRead();
  }
  function scrollDown() { log.scrollTo({ top: log.scrollHeight, behavior: reduceMotion ? "auto" : "smooth" }); }
  function showBadge() {
    badge.textContent = "";
    if (unread) badge.append(el("span", { "aria-hidden": "true", text: unread }), el("span", { class: "vh", text: t("launcher_unread", { count: unread }) }));
    show(badge, unread > 0);
  }
  function markRead() {
    if (!isOpen || document.hidden) return;
    unread = 0; showBadge();
    // One receipt for a burst of messages (a replayed history), not one each.
    clearTimeout(readTimer);
    readTimer = setTimeout(function () {
      if (lastSeq > readSeq && ws && ws.bound) { readSeq = lastSeq; send({ type: "read", seq: lastSeq }); }
    }, 300);
  }
  on(document, "visibilitychange", markRead);

  function say(text, choice) {
    var id = Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    var node = bubble(T.you, true, text);
    var status = el("p", { class: "meta", text: T.sending });
    node.classList.add("pending");
    node.appendChild(status);
    log.appendChild(node);
    pending[id] = { node: node, status: status, frame: { type: "message", id: id, text: text } };
    if (choice) pending[id].frame.choice = choice;
    scrollDown();
    pump();
  }
  function pump() {
    // A few messages in flight at a time: a long queue written while offline is
    // resent gently, within the server's limits, and in order.
    var flying = 0;
    for (var id in pending) {
      var item = pending[id];
      if (item.sent) flying += 1;
      else if (flying < 3 && ws && ws.bound) { item.sent = true; flying += 1; send(item.frame); }
    }
  }
  function acked(frame) {
    var item = pending[frame.id];
    if (!item) return;
    delete pending[frame.id];
    pump();
    if (bySeq[frame.seq]) { item.node.remove(); return; }
    item.node.classList.remove("pending");
    item.status.remove();
    item.node.setAttribute("data-seq", frame.seq);
    // The resume point (lastSeq) moves only with message frames, which come in order.
    bySeq[frame.seq] = item.node;
  }
  function failed(frame) {
    var item = pending[frame.id];
    if (!item) return;
    if (frame.retry_after && (frame.code === "rate_limited" || frame.code === "unavailable")) {
      item.status.textContent = frame.message;
      setTimeout(function () { item.status.textContent = T.sending; item.sent = false; pump(); }, frame.retry_after * 1000);
      return;
    }
    delete pending[frame.id];
    pump();
    item.status.textContent = frame.message + " ";
    var retry = el("button", { type: "button", class: "link", text: T.retry });
    on(retry, "click", function () { item.node.remove(); say(item.frame.text, item.frame.choice); });
    item.status.appendChild(retry);
  }
  function clearLog() {
    log.textContent = ""; bySeq = {}; lastSeq = 0;
    for (var id in pending) log.appendChild(pending[id].node);
  }

  on(composer, "submit", function (event) {
    event.preventDefault();
    var text = textarea.value;
    if (!text.trim()) { composerError.textContent = T.empty; return; }
    composerError.textContent = "";
    textarea.value = "";
    say(text);
    sendTyping(false);
  });
  on(textarea, "keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); composer.requestSubmit(); }
  });
  on(textarea, "input", function () { sendTyping(!!textarea.value); });
  function sendTyping(active) {
    var now = Date.now();
    if (active && now - typingSent < 2000) return;
    if (!active && !typingSent) return;
    typingSent = active ? now : 0;
    send({ type: "typing", active: active });
  }

  on(startForm.form, "submit", function (event) {
    event.preventDefault();
    var fields = startForm.fields, frame = { type: "start", privacy: fields.privacy.control.checked };
    ["name", "email", "topic"].forEach(function (name) {
      if (fields[name]) frame[name] = fields[name].control.value;
    });
    for (var name in fields) fieldError(name, "");
    startWanted = frame;
    send(frame);
  });
  function fieldError(name, message) {
    var item = startForm.fields[name];
    if (!item) return false;
    item.error.textContent = message;
    show(item.error, !!message);
    if (message) item.control.setAttribute("aria-invalid", "true");
    else item.control.removeAttribute("aria-invalid");
    return true;
  }
  on(newButton, "click", function () {
    saved = { open: true }; save();
    conversationId = null; clearLog(); setState(null);
    firstFocus().focus();
    // The socket is bound to the finished chat: open a fresh one.
    var old = ws;
    attempts = 0;
    dropped(1);
    if (old) old.close();
  });
  on(transcriptButton, "click", function () { send({ type: "transcript" }); });

  function download(frame) {
    var link = el("a", { href: URL.createObjectURL(new Blob([frame.text], { type: frame.content_type })), download: frame.filename });
    root.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  // --- the connection
  function send(frame) {
    if (ws && ws.readyState === 1 && ws.ready) ws.send(JSON.stringify(frame));
    else connect();
  }
  function connect() {
    wanted = true;
    if (ws || retryTimer) return;
    conn.textContent = attempts ? T.reconnecting : T.connecting;
    var socket = ws = new WebSocket(WS_URL);
    socket.onmessage = function (event) {
      alive();
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handle(frame, socket);
    };
    socket.onclose = function () { if (ws === socket) dropped(); };
  }
  function alive() {
    clearTimeout(deadTimer);
    // No frame (not even a ping) for two heartbeats: the connection is dead even if
    // the browser has not noticed (a half-open socket). Drop it and reconnect.
    deadTimer = setTimeout(function () { if (ws) { var old = ws; dropped(); old.close(); } }, (heartbeat * 2 + 5) * 1000);
  }
  function dropped(wait) {
    clearTimeout(deadTimer);
    if (ws) { ws.onclose = ws.onmessage = null; }
    ws = null;
    if (!wanted) return;
    conn.textContent = T.reconnecting;
    // Exponential backoff with full jitter, so that a restarted server is not hit by
    // every widget at once.
    var delay = Math.max(wait || 0, Math.random() * Math.min(30000, 500 * Math.pow(2, attempts)));
    attempts += 1;
    retryTimer = setTimeout(function () { retryTimer = 0; connect(); }, delay);
  }
  function ready() {
    ws.bound = true;
    attempts = 0;
    conn.textContent = "";
    for (var id in pending) pending[id].sent = false;
    pump();
    markRead();
  }

  function handle(frame, socket) {
    switch (frame.type) {
      case "welcome":
        heartbeat = frame.heartbeat || heartbeat;
        socket.ready = true;
        setStatus(frame.status);
        if (saved.token) {
          var resume = { type: "resume", token: saved.token, last_seq: lastSeq };
          if (conversationId) resume.conversation_id = conversationId;
          socket.send(JSON.stringify(resume));
        } else if (startWanted) {
          socket.send(JSON.stringify(startWanted));
        } else {
          attempts = 0;
          conn.textContent = "";
        }
        break;
      case "started":
        saved.token = frame.token; saved.open = isOpen; save();
        startWanted = null;
        render();
        ready();
        if (isOpen) textarea.focus();
        break;
      case "resumed":
        if (!lastSeq) quietReplay();
        var conversation = frame.conversation;
        if (conversation && conversation.id !== conversationId) { clearLog(); }
        conversationId = conversation ? conversation.id : null;
        saved.conversation = conversationId; save();
        readSeq = Math.max(readSeq, frame.read_seq || 0);
        setState(conversation);
        ready();
        break;
      case "conversation":
        if (frame.conversation.id !== conversationId) {
          if (conversationId) { quietReplay(); clearLog(); }
          conversationId = frame.conversation.id;
          saved.conversation = conversationId; save();
        }
        setState(frame.conversation);
        break;
      case "message":
        if (replayTimer) quietReplay();
        addMessage(frame);
        break;
      case "ack": acked(frame); break;
      case "status": setStatus(frame.status); break;
      case "ping": socket.send('{"type":"pong"}'); break;
      case "typing":
        clearTimeout(typingTimer);
        typing.textContent = frame.active === false ? "" : frame.agent ? t("typing", { name: frame.agent }) : T.typing_anyone;
        typingTimer = setTimeout(function () { typing.textContent = ""; }, 6000);
        break;
      case "read":
        log.querySelectorAll(".mine .read").forEach(function (node) { node.remove(); });
        var mine = log.querySelectorAll(".mine[data-seq]"), last = null;
        mine.forEach(function (node) { if (+node.getAttribute("data-seq") <= frame.seq) last = node; });
        if (last) last.appendChild(el("p", { class: "meta read", text: T.read }));
        break;
      case "transcript": download(frame); break;
      case "error": error(frame); break;
    }
  }
  function error(frame) {
    if (frame.id) { failed(frame); return; }
    if (frame.code === "not_found") {
      // The token is unknown here (expired, or never valid): start afresh.
      saved = { open: isOpen }; save();
      conversationId = null; clearLog(); setState(null);
      attempts = 0; conn.textContent = "";
      return;
    }
    if (frame.field && fieldError(frame.field, frame.message)) {
      startForm.fields[frame.field].control.focus();
      startWanted = null;
      return;
    }
    if (frame.code === "too_many_connections" || frame.code === "flood") {
      var socket = ws;
      dropped((frame.retry_after || 30) * 1000);
      if (socket) socket.close();
    }
    conn.textContent = frame.message;
  }
  function quietReplay() {
    // History replayed after a reload is not news: keep screen readers quiet until
    // it has arrived, then announce new messages again.
    log.setAttribute("aria-live", "off");
    clearTimeout(replayTimer);
    replayTimer = setTimeout(function () { replayTimer = 0; log.setAttribute("aria-live", "polite"); }, 400);
  }

  render();
  showBadge();
  if (saved.token) {
    connect();
    if (saved.open) open(false);
  }
})(__CANALES_CHAT_CONFIG__);
