"""The try-it page served by the gateway at ``GET /``: pick an endpoint, send it, watch live messages.

One self-contained HTML document (no external scripts, fonts or styles), so it works offline.
Messages are rendered with ``textContent`` only: nothing a server or client sends becomes markup.
"""

from __future__ import annotations

import html
from typing import Final

PAGE_HTML: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rxbybit gateway</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; display: grid; grid-template-columns: 430px 1fr;
         height: 100vh; color: #1d2330; }
  aside { overflow-y: auto; padding: 12px 16px; border-right: 1px solid #d8dce6; background: #f7f8fb; }
  main { display: flex; flex-direction: column; min-height: 0; }
  h1 { font-size: 17px; margin: 4px 0 10px; }
  h2 { font-size: 14px; margin: 0 0 4px; }
  .card { background: #fff; border: 1px solid #d8dce6; border-radius: 6px; padding: 8px 10px; margin-bottom: 10px; }
  .card p { margin: 0 0 6px; color: #556; font-size: 12px; }
  textarea { width: 100%; box-sizing: border-box; font: 12px ui-monospace, monospace; height: 58px; }
  input { font: 12px ui-monospace, monospace; width: 100%; box-sizing: border-box; margin-bottom: 4px; }
  button { margin-top: 4px; }
  #bar { display: flex; gap: 10px; align-items: center; padding: 8px 12px; border-bottom: 1px solid #d8dce6; }
  #status { font-weight: 600; }
  #status.open { color: #11772b; } #status.closed { color: #b3261e; }
  #log { flex: 1; overflow-y: auto; margin: 0; padding: 8px 12px; font: 12px ui-monospace, monospace; }
  #log div { white-space: pre-wrap; word-break: break-all; border-bottom: 1px solid #eef0f4; padding: 2px 0; }
  .out { color: #4b3fb3; } .ack { color: #11772b; } .error { color: #b3261e; } .event { color: #1d2330; }
  .status { color: #9a6700; font-weight: 600; }
  .tag { font-size: 11px; color: #889; margin-right: 6px; }
</style>
</head>
<body>
<aside>
  <h1>rxbybit gateway</h1>
  <div class="card" id="auth">
    <h2>Authorization</h2>
    <p>Paste the access token printed by <code>rxbybit gateway users add</code>.</p>
    <input id="token" placeholder="accessToken" autocomplete="off">
    <input id="fingerprint" placeholder="fingerprint">
  </div>
  <div id="endpoints"></div>
</aside>
<main>
  <div id="bar">
    <span id="status" class="closed">disconnected</span>
    <button id="connect">connect</button>
    <label><input type="checkbox" id="pause" style="width:auto"> pause</label>
    <input id="filter" placeholder="filter messages" style="width:220px;margin:0">
    <button id="clear">clear</button>
    <span id="counts"></span>
  </div>
  <div id="log"></div>
</main>
<script>
"use strict";
const ENDPOINTS = [
  ["authorization", "Authorize this connection (uses the token and fingerprint above).",
   () => ({path: "authorization", payload: {accessToken: val("token"), fingerprint: val("fingerprint")}})],
  ["external-direction", "Pick the Bybit socket requests go to: spot, linear, inverse, option or private.",
   {path: "/external", payload: {direction: "linear"}}],
  ["external-subscribe", "Pass a Bybit request through (op subscribe / unsubscribe / ping with args).",
   {path: "/external", payload: {op: "subscribe", args: ["tickers.BTCUSDT"]}}],
  ["symbols", "The instrument list, then live symbol events.", {path: "/symbols"}],
  ["unsubscribe", "End any subscription by its path.",
   {path: "/unsubscribe", payload: {path: "/external/linear/tickers.BTCUSDT"}}],
  ["notifications", "Order and fill notifications (needs authorization).", {path: "/user/notifications"}],
  ["profile", "Total balance events (needs authorization).", {path: "/user/profile"}],
];
const MAX_LINES = 500;
let ws = null, nextId = 1, counts = {ack: 0, event: 0, error: 0};
const $ = (id) => document.getElementById(id);
const val = (id) => $(id).value;
if (!$("fingerprint").value) {
  let fp = localStorage.getItem("rxbybit-fingerprint");
  if (!fp) {
    fp = "browser-" + Math.random().toString(36).slice(2, 12);
    localStorage.setItem("rxbybit-fingerprint", fp);
  }
  $("fingerprint").value = fp;
}
for (const [name, text, body] of ENDPOINTS) {
  const card = document.createElement("div");
  card.className = "card"; card.dataset.endpoint = name;
  const h = document.createElement("h2"); h.textContent = name;
  const p = document.createElement("p"); p.textContent = text;
  const area = document.createElement("textarea"); area.className = "body";
  area.value = typeof body === "function" ? "" : JSON.stringify(body);
  if (typeof body === "function") area.placeholder = "built from the token and fingerprint above";
  const send = document.createElement("button"); send.className = "send"; send.textContent = "send";
  send.onclick = () => {
    let request;
    try { request = area.value.trim() ? JSON.parse(area.value) : (typeof body === "function" ? body() : {}); }
    catch (e) { line("error", "local", "not JSON: " + e.message); return; }
    if (request && typeof request === "object" && request.id === undefined) request.id = nextId++;
    transmit(JSON.stringify(request));
  };
  card.append(h, p, area, send);
  $("endpoints").append(card);
}
function transmit(text) {
  if (!ws || ws.readyState !== WebSocket.OPEN) { line("error", "local", "not connected"); return; }
  ws.send(text); line("out", "sent", text);
}
function line(kind, tag, text) {
  if ($("pause").checked && kind === "event") return;
  const f = val("filter");
  if (f && !text.includes(f)) return;
  const row = document.createElement("div"); row.className = kind;
  const t = document.createElement("span"); t.className = "tag";
  t.textContent = new Date().toISOString().slice(11, 23) + " " + tag;
  row.append(t, document.createTextNode(text));
  const log = $("log"); log.prepend(row);
  while (log.childElementCount > MAX_LINES) log.lastElementChild.remove();
}
function connect() {
  if (ws && ws.readyState <= WebSocket.OPEN) { ws.close(); return; }
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  ws = new WebSocket(url);
  $("status").textContent = "connecting";
  ws.onopen = () => {
    $("status").textContent = "connected"; $("status").className = "open"; $("connect").textContent = "disconnect";
  };
  ws.onclose = (e) => {
    $("status").textContent = "disconnected (" + e.code + (e.reason ? " " + e.reason : "") + ")";
    $("status").className = "closed"; $("connect").textContent = "connect";
  };
  ws.onmessage = (e) => {
    let kind = "event";
    try { kind = JSON.parse(e.data).type || "event"; } catch (_) {}
    counts[kind] = (counts[kind] || 0) + 1;
    $("counts").textContent = "acks " + counts.ack + " · events " + counts.event + " · errors " + counts.error;
    line(kind, kind, e.data);
  };
}
$("connect").onclick = connect;
$("clear").onclick = () => { $("log").replaceChildren(); };
connect();
</script>
</body>
</html>
"""


_LABEL_NOTES: Final = {
    "SIMULATED": "data from the local simulator (rxbybit.sim), not the market",
    "REPLAY": "a recording played back, not the live market",
}


def page_html(label: str = "") -> str:
    """The try-it page, with a banner naming where the data comes from when it is not the live
    market (``label`` ``"SIMULATED"`` or ``"REPLAY"``; ``""`` for live data: no banner)."""
    if not label:
        return PAGE_HTML
    note = _LABEL_NOTES.get(label, "not the live market")
    banner = (f'<div id="provenance" style="background:#b45309;color:#fff;font-weight:700;padding:4px 8px;'
              f'border-radius:4px;margin-bottom:10px">{html.escape(label)}: {html.escape(note)}</div>')
    return PAGE_HTML.replace("<h1>rxbybit gateway</h1>", "<h1>rxbybit gateway</h1>\n  " + banner, 1)
