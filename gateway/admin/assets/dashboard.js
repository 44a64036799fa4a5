// The operator's dashboard: the state comes from GET /admin/api/events
// (a "resync" frame with every chart point, then one "state" frame a
// sample); nothing is drawn by hand but the tables: charts are uPlot's.
"use strict";

(function () {
  const key = new URLSearchParams(location.search).get("key") || "";
  const headers = key ? { "X-API-Key": key, "Content-Type": "application/json" } : { "Content-Type": "application/json" };
  const MAX_ROWS = 200; // rows drawn per group or table; the rest are reached by filtering
  const OPEN_UP_TO = 20; // groups of at most this many children start open

  const $ = (sel) => document.querySelector(sel);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const fix = (n, d) => (Number.isInteger(n) ? String(n) : n.toFixed(d === undefined ? 1 : d));
  const bytes = (n) => {
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  };
  const dur = (s) => {
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
  };
  const ago = (iso) => {
    if (!iso) return "—";
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    return s < 1 ? "now" : dur(s) + " ago";
  };

  let chaos = false;
  let series = null;
  let historySeconds = 600;

  // ---- charts ----
  const palette = ["#2f6fdd", "#d9822b", "#2c8a4b", "#8e44ad", "#c8372d"];
  const chartDefs = [
    { title: "Requests / s (all doors)", cols: [["requests_per_s", "req/s"]] },
    { title: "Request p99 (ms)", cols: [["p99_ms", "p99 ms"]] },
    { title: "Queues", cols: [["queue_depth", "depth"], ["publish_per_s", "publish/s"], ["consume_per_s", "consume/s"]] },
    { title: "Store commits / s", cols: [["commits_per_s", "commits/s"], ["fsyncs_per_s", "fsyncs/s"]] },
    { title: "Store commit p99 (ms)", cols: [["commit_p99_ms", "p99 ms"]] },
    { title: "Store size (MiB)", cols: [["store_bytes", "MiB", 1 / 1048576]] },
    { title: "Actors", cols: [["restarts", "restarts"], ["mailbox", "mailbox"]] },
    { title: "Sessions and subscribers", cols: [["sessions", "sessions"], ["room_subscribers", "room subs"], ["view_subscribers", "view subs"]] },
  ];
  const charts = [];

  function chartData(def) {
    const t = series ? series.t : [];
    const cols = def.cols.map(([name, , scale]) => {
      const col = (series && series[name]) || [];
      return scale ? col.map((v) => v * scale) : col.slice();
    });
    return [t.slice(), ...cols];
  }

  function makeCharts() {
    const box = $("#charts");
    for (const def of chartDefs) {
      const el = document.createElement("div");
      el.className = "chart";
      el.innerHTML = "<h3>" + esc(def.title) + "</h3>";
      box.appendChild(el);
      const opts = {
        width: Math.max(260, el.clientWidth - 8),
        height: 130,
        legend: { show: true, live: false },
        cursor: { show: true, points: { show: false } },
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [{ size: 28 }, { size: 44 }],
        series: [{}].concat(def.cols.map(([, label], i) => ({ label, stroke: palette[i], width: 1.5, points: { show: false } }))),
      };
      charts.push({ def, el, plot: new uPlot(opts, chartData(def), el) });
    }
    let pending = 0;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(() => {
        for (const c of charts) c.plot.setSize({ width: Math.max(260, c.el.clientWidth - 8), height: 130 });
      }, 100);
    });
  }

  function drawCharts() {
    for (const c of charts) c.plot.setData(chartData(c.def));
  }

  function addPoint(p) {
    if (!series) return;
    for (const k of Object.keys(series)) series[k].push(p[k] === undefined ? 0 : p[k]);
    const oldest = p.t - historySeconds;
    let drop = 0;
    while (drop < series.t.length && series.t[drop] < oldest) drop++;
    if (drop) for (const k of Object.keys(series)) series[k].splice(0, drop);
  }

  // ---- the tree ----
  const groups = new Map(); // domain name -> its DOM parts

  function killButton(name) {
    return chaos ? '<button class="kill" data-actor="' + esc(name) + '" title="inject a panic">crash</button>' : "";
  }

  function statCells(name, st) {
    const crash = st.last_crash;
    return '<td class="num mailbox">' + st.mailbox + "</td>" +
      '<td class="num restarts' + (st.restarts ? " restarted" : "") + '">' + st.restarts + "</td>" +
      '<td class="crash" title="' + (crash ? esc(crash.reason + " at " + crash.at) : "") + '">' + (crash ? esc(crash.reason) : "") + "</td>" +
      "<td>" + killButton(name) + "</td>";
  }

  function group(dom) {
    let g = groups.get(dom.name);
    if (g) return g;
    const el = document.createElement("details");
    el.className = "domain";
    el.dataset.domain = dom.name;
    el.open = dom.children.length <= OPEN_UP_TO;
    el.innerHTML = '<summary><span class="name"></span><span class="figs"></span><span class="self"></span></summary>' +
      '<div class="body"><input class="filter" placeholder="filter by name" aria-label="filter">' +
      '<table><thead><tr><th>actor</th><th class="num">mailbox</th><th class="num">restarts</th><th>last crash</th><th></th></tr></thead><tbody></tbody></table>' +
      '<div class="more"></div></div>';
    g = { el, dom, summaryName: el.querySelector(".name"), figs: el.querySelector(".figs"), self: el.querySelector(".self"),
      filter: el.querySelector(".filter"), tbody: el.querySelector("tbody"), more: el.querySelector(".more") };
    g.filter.addEventListener("input", () => drawGroupRows(g));
    el.addEventListener("toggle", () => drawGroupRows(g));
    groups.set(dom.name, g);
    return g;
  }

  function drawGroupRows(g) {
    if (!g.el.open) { g.tbody.innerHTML = ""; g.more.textContent = ""; return; }
    const f = g.filter.value.trim().toLowerCase();
    const kids = f ? g.dom.children.filter((c) => c.name.toLowerCase().includes(f)) : g.dom.children;
    let html = "";
    for (const c of kids.slice(0, MAX_ROWS)) {
      const name = g.dom.name + "/" + c.name;
      html += '<tr data-actor="' + esc(name) + '"><td>' + esc(c.name) + "</td>" + statCells(name, c.stats) + "</tr>";
    }
    g.tbody.innerHTML = html;
    g.more.textContent = kids.length > MAX_ROWS ? "showing " + MAX_ROWS + " of " + kids.length + ": filter to narrow" :
      (kids.length ? "" : (f ? "no child matches" : "no children"));
  }

  function drawTree(tree) {
    const box = $("#tree");
    const live = new Set();
    let prev = null;
    for (const dom of tree.domains) {
      live.add(dom.name);
      const g = group(dom);
      g.dom = dom;
      let restarts = dom.stats.restarts, mailbox = dom.stats.mailbox;
      for (const c of dom.children) { restarts += c.stats.restarts; mailbox += c.stats.mailbox; }
      g.summaryName.textContent = dom.name;
      g.figs.textContent = dom.children.length + " children · mailbox " + mailbox + " · restarts " + restarts;
      g.figs.className = "figs" + (restarts ? " restarted" : "");
      // A door's session supervisor only stops its crashed sessions: it has
      // no fault injection of its own.
      g.self.innerHTML = dom.name.startsWith("gateway/") ? "" : killButton(dom.name);
      drawGroupRows(g);
      const want = prev ? prev.nextSibling : box.firstChild;
      if (want !== g.el) box.insertBefore(g.el, want);
      prev = g.el;
    }
    for (const [name, g] of groups) if (!live.has(name)) { g.el.remove(); groups.delete(name); }
  }

  // ---- the kinds ----
  function table(id, rows, cells, key) {
    const tbody = $("#" + id + " tbody");
    const n = $("#" + id).previousElementSibling;
    if (n && n.tagName === "H2") n.dataset.count = rows.length;
    if (!rows.length) { tbody.innerHTML = '<tr><td class="empty" colspan="9">none</td></tr>'; return; }
    let html = "";
    for (const r of rows.slice(0, MAX_ROWS)) html += '<tr data-name="' + esc(key(r)) + '">' + cells(r) + "</tr>";
    if (rows.length > MAX_ROWS) html += '<tr><td class="empty" colspan="9">and ' + (rows.length - MAX_ROWS) + " more</td></tr>";
    tbody.innerHTML = html;
  }
  const num = (v, cls) => '<td class="num' + (cls ? " " + cls : "") + '">' + v + "</td>";

  function drawKinds(s) {
    table("doors", s.doors || [], (d) => "<td>" + esc(d.door) + "</td>" + num(fix(d.requests_per_s)) + num(fix(d.p99_ms, 2)) + num(d.sessions, "sessions"), (d) => d.door);
    const st = s.store;
    table("store", [st], (x) => "<td>" + (x.durable ? "yes" : "memory only") + "</td>" + num(bytes(x.size_bytes)) + num(fix(x.commits_per_s)) + num(fix(x.fsyncs_per_s)) + num(fix(x.commit_p99_ms, 2)) + num(fix(x.commit_mean_ms, 2)), () => "store");
    table("queues", s.queues || [], (q) => "<td>" + esc(q.name) + "</td>" + num(q.depth, "depth") +
      '<td class="prio">' + q.ready.slice().reverse().join(" ") + "</td>" + num(q.in_flight, "in-flight") + num(q.dlq, "dlq") + num(q.consumers) +
      num(fix(q.publish_per_s)) + num(fix(q.consume_per_s)), (q) => q.name);
    table("rooms", s.rooms || [], (r) => "<td>" + esc(r.name) + "</td>" + num(r.first_offset) + num(r.last_offset) + num(r.events) + num(r.subscribers, "subscribers"), (r) => r.name);
    table("views", s.views || [], (v) => "<td>" + esc(v.id) + "</td>" + num(v.rows, "rows") + num(v.subscribers, "subscribers") + "<td>" + ago(v.last_delta) + "</td>", (v) => v.id);
    table("instances", s.instances || [], (i) => "<td>" + esc(i.id) + "</td><td>" + esc(i.sequence) + "</td><td>" + esc(i.status) + "</td>" +
      '<td class="' + (i.healthy ? "" : "unhealthy") + '">' + (i.healthy ? "healthy" : "unhealthy") + "</td>" + num(dur(i.uptime_s)), (i) => i.id);
    table("reactive", s.reactive || [], (r) => "<td>" + esc(r.service) + "</td><td>" + esc(r.resource) + "</td>" + num(r.instances) + num(r.streams), (r) => r.service + "/" + r.resource);
  }

  function draw(s) {
    chaos = s.chaos;
    if (s.history_s) historySeconds = s.history_s;
    $("#version").textContent = "v" + s.version;
    $("#uptime").textContent = "up " + dur(s.uptime_s);
    $("#chaos").hidden = !chaos;
    drawTree(s.tree);
    drawKinds(s);
    drawCharts();
  }

  // ---- the wire ----
  const conn = $("#conn");
  function setConn(text, cls) { conn.textContent = text; conn.className = "conn " + cls; }

  function connect() {
    const es = new EventSource("/admin/api/events" + (key ? "?key=" + encodeURIComponent(key) : ""));
    es.addEventListener("resync", (e) => {
      const s = JSON.parse(e.data);
      series = s.series;
      draw(s);
      setConn("live", "live");
    });
    es.addEventListener("state", (e) => {
      const s = JSON.parse(e.data);
      addPoint(s.point);
      draw(s);
      setConn("live", "live");
    });
    // EventSource reconnects by itself; the next frame is a resync.
    es.onerror = () => setConn("reconnecting…", "down");
  }

  document.addEventListener("click", (e) => {
    const b = e.target.closest("button.kill");
    if (!b) return;
    e.preventDefault();
    const actor = b.dataset.actor;
    b.disabled = true;
    fetch("/admin/api/chaos", { method: "POST", headers, body: JSON.stringify({ actor }) })
      .then((r) => r.json().then((body) => setConn(r.ok ? "crashed " + actor : "crash " + actor + ": " + body.error, r.ok ? "live" : "down")))
      .catch((err) => setConn("crash " + actor + ": " + err.message, "down"));
  });

  function start() {
    makeCharts();
    connect();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
