// firebreak trust-graph explorer (/blast/graph). Served from /static under
// the dashboard's CSP (script-src 'self', no inline script or style); the
// graph comes from /blast/graph/data, the effect of a fix from
// /blast/graph/whatif (computed by the trust engine). Drawing is a few
// aggregated SVG paths (one per kind and per privilege) so that thousands
// of nodes paint in well under a second; the graph is one Tab stop and the
// arrow keys move between nodes.
(function () {
  "use strict";
  var root = document.getElementById("gx");
  if (!root) return;
  var NS = "http://www.w3.org/2000/svg";
  var KC = { outsider: "#ff6b6b", vendor: "#d4a373", identity: "#4ea1ff", group: "#b392f0", tool: "#ffa657", asset: "#8b949e", provider: "#39c5cf", tenant: "#3fb950" };
  var PN = ["none", "read", "operate", "admin", "full control"];
  var PC = ["#555", "#7fb3d5", "#f5b041", "#ff8c42", "#ff4d4f"];
  var BG = "#070a0e", LABEL = "#e6edf3", CUT = "#56d364";
  var svg = document.getElementById("gx-svg"), canvas = document.getElementById("gx-canvas");
  var statusEl = document.getElementById("gx-status"), cursorEl = document.getElementById("gx-cursor");
  var resultEl = document.getElementById("gx-result"), planEl = document.getElementById("gx-plan"), whatifEl = document.getElementById("gx-whatif");
  var hitBtn = document.getElementById("gx-hit"), whatifURL = root.getAttribute("data-whatif");
  // D is the data as sent (columns, see explorerData); N[i] node i as an
  // object; edge j goes from EF[j] to ET[j], of kind EK[j], usable at
  // priv[j] (P0[j] before a fix); OS/OE are the out-edges by node (edges
  // OE[OS[i]] .. OE[OS[i+1]-1] leave node i).
  var D, N, EF, ET, EK, P0, priv, OS, OE, pos, cols, colOf, vb, full, cursor = -1, selected = -1, reach = null, applied = [], baseExcess = 0;
  var layers = {};
  mark("gx-script");

  function el(name, attrs, parent) {
    var x = document.createElementNS(NS, name);
    for (var k in attrs) x.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(x);
    return x;
  }
  function h(tag, text, cls) {
    var x = document.createElement(tag);
    if (text != null) x.textContent = text;
    if (cls) x.className = cls;
    return x;
  }
  function say(s) { statusEl.textContent = s; }

  // The page preloads the same URL (<link rel=preload as=fetch>), so the
  // data is on its way while this script loads; the request must match
  // the preload's (same-origin credentials, no extra headers) to use it.
  fetch(root.getAttribute("data-src"), { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(start)
    .catch(function (e) { say("The graph could not be loaded (" + e.message + "). Reassess, or use the ranking."); root.setAttribute("data-state", "error"); });

  // Timing marks (gx-data, gx-layout, gx-draw, gx-side, gx-painted) for
  // the paint benchmark: where the first paint's time goes.
  function mark(name) { if (performance.mark) performance.mark(name); }
  function start(data) {
    mark("gx-data");
    D = data;
    nodes();
    edges();
    // The status line first: it may wrap, and size() gives the drawing
    // the height the page's other parts leave.
    baseExcess = D.excess;
    say(N.length + " nodes" + (D.truncated ? " (the " + D.truncated + " nodes with the least reach are left out)" : "") + ", " + D.tenants + " tenants; " + D.edge_note +
      ". Limit: no single compromise should reach more than " + D.limit + " tenants at admin or above.");
    size();
    layout();
    mark("gx-layout");
    draw();
    fit();
    mark("gx-draw");
    fillSearch();
    fillPlan();
    mark("gx-side");
    // First paint: the frame after the one that drew the graph.
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        var t = performance.now();
        root.setAttribute("data-paint-ms", String(Math.round(t)));
        root.setAttribute("data-state", "ready");
        mark("gx-painted");
      });
    });
    var f = root.getAttribute("data-focus");
    if (f) { var i = find(f); if (i >= 0) { move(i, true); compromise(i); } }
  }

  // The nodes come band by band (one band per kind, left to right) in
  // the order they are drawn top to bottom: the server ranks them.
  function nodes() {
    var n = D.id.length, i = 0;
    N = new Array(n);
    cols = [];
    colOf = new Int32Array(n);
    D.kinds.forEach(function (k, b) {
      var ids = [];
      for (var end = i + D.bands[b]; i < end; i++) {
        ids.push(i);
        colOf[i] = cols.length;
        N[i] = { id: D.id[i], k: k, n: D.name[i], m: D.mfas[D.mfa[i]], tf: D.tf[i], ta: D.ta[i], tn: D.tn[i], w: D.w[i], r: D.r[i] };
      }
      cols.push({ k: k, ids: ids });
    });
    D.exposed.forEach(function (j) { N[j].x = true; });
    D.kev.forEach(function (x) { N[x.i].v = x.v; });
  }
  function edges() {
    var m = D.grants.length, e = D.edges, n = N.length, j;
    EF = new Int32Array(m); ET = new Int32Array(m); EK = new Int32Array(m); P0 = new Int8Array(m);
    OS = new Int32Array(n + 1); OE = new Int32Array(m);
    for (j = 0; j < m; j++) { EF[j] = e[4 * j]; ET[j] = e[4 * j + 1]; P0[j] = e[4 * j + 2]; EK[j] = e[4 * j + 3]; OS[EF[j] + 1]++; }
    for (j = 0; j < n; j++) OS[j + 1] += OS[j];
    var at = OS.slice(0, n);
    for (j = 0; j < m; j++) OE[at[EF[j]]++] = j;
    priv = P0.slice();
  }

  // Layout: one band per kind, left to right; a band wraps into
  // sub-columns every ROWS nodes, ROWS chosen so the drawing has the
  // canvas's aspect (it fits the window).
  var DX = 16, DY = 14, GAP = 130;
  function layout() {
    var r = canvas.getBoundingClientRect(), aspect = Math.max(0.4, (r.width || 800) / (r.height || 500));
    var best = 0, bestErr = Infinity;
    for (var rows = 12; rows <= 400; rows += 4) {
      var w = 0;
      cols.forEach(function (c) { w += (Math.ceil(c.ids.length / rows) - 1) * DX + GAP; });
      var hgt = Math.min(rows, maxLen()) * DY + 40;
      var err = Math.abs(Math.log((w + 40) / hgt / aspect));
      if (err < bestErr) { bestErr = err; best = rows; }
    }
    var ROWS = best;
    pos = new Float32Array(N.length * 2);
    var x = 30, maxY = 0;
    cols.forEach(function (c) {
      c.rows = ROWS;
      c.x0 = x;
      c.ids.forEach(function (i, j) {
        var cx = x + Math.floor(j / ROWS) * DX, cy = 30 + (j % ROWS) * DY;
        pos[2 * i] = cx; pos[2 * i + 1] = cy;
        if (cy > maxY) maxY = cy;
      });
      x += (Math.ceil(c.ids.length / ROWS) - 1) * DX + GAP;
    });
    full = { x: 0, y: 0, w: x + 10, h: maxY + 40 };
    buildGrid();
  }
  // The canvas and the side panel take the rest of the window's height.
  // What follows the drawing (the legend, the page's padding and footer)
  // stays in the window too: at 1440×900 the legend was below the fold.
  function size() {
    var side = document.querySelector(".gx-side"), top = canvas.getBoundingClientRect().top + window.scrollY;
    var main = canvas.parentNode.getBoundingClientRect(), below = document.documentElement.scrollHeight - (main.bottom + window.scrollY);
    var hgt = Math.max(320, window.innerHeight - top - Math.max(0, below)) + "px";
    canvas.style.height = hgt;
    if (side && side.getBoundingClientRect().top + window.scrollY === top) side.style.height = hgt;
  }
  window.addEventListener("resize", function () { if (N) size(); });
  function maxLen() { var m = 0; cols.forEach(function (c) { m = Math.max(m, c.ids.length); }); return m; }
  function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

  // Hit testing: a grid of DX×DY cells.
  var grid;
  function buildGrid() {
    grid = new Map();
    for (var i = 0; i < N.length; i++) {
      var key = Math.round(pos[2 * i] / DX) + ":" + Math.round(pos[2 * i + 1] / DY);
      if (!grid.has(key)) grid.set(key, []);
      grid.get(key).push(i);
    }
  }
  function nodeAt(x, y) {
    var gx = Math.round(x / DX), gy = Math.round(y / DY), best = -1, bd = 9 * 9 * Math.max(1, vb.w / full.w);
    for (var a = gx - 1; a <= gx + 1; a++) for (var b = gy - 1; b <= gy + 1; b++) {
      (grid.get(a + ":" + b) || []).forEach(function (i) {
        var dx = pos[2 * i] - x, dy = pos[2 * i + 1] - y, d = dx * dx + dy * dy;
        if (d < bd) { bd = d; best = i; }
      });
    }
    return best;
  }

  function circle(i, r) { var x = pos[2 * i], y = pos[2 * i + 1]; return "M" + (x - r) + " " + y + "a" + r + " " + r + " 0 1 0 " + 2 * r + " 0a" + r + " " + r + " 0 1 0 " + -2 * r + " 0"; }
  function radius(i) { return N[i].k === "tenant" ? 6 : N[i].k === "asset" ? 3.5 : 5; }

  // Drawing: edges by privilege, nodes by kind, labels for tenants and
  // the widest-reaching nodes; an overlay for the selection.
  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    el("rect", { x: -5000, y: -5000, width: 20000 + full.w, height: 20000 + full.h, fill: BG }, svg);
    layers.base = el("g", {}, svg);
    layers.edges = el("g", { "stroke-width": "0.7", fill: "none" }, layers.base);
    layers.cut = el("g", { id: "gx-cut", stroke: CUT, "stroke-width": "1.2", "stroke-dasharray": "4 3", fill: "none" }, svg);
    layers.nodes = el("g", {}, layers.base);
    layers.hl = el("g", { id: "gx-hl" }, svg);
    layers.labels = el("g", { "font-size": "10", "font-family": "system-ui, sans-serif", fill: LABEL }, svg);
    layers.cursor = el("path", { fill: "none", stroke: "#ffd33d", "stroke-width": "2.5", d: "" }, svg);
    drawEdges();
    cols.forEach(function (c) {
      var d = c.ids.map(function (i) { return circle(i, radius(i)); });
      el("path", { d: d.join(""), fill: KC[c.k] }, layers.nodes);
    });
    mark("gx-shapes");
    drawLabels();
  }
  function seg(i) { var a = EF[i], b = ET[i]; return "M" + pos[2 * a] + " " + pos[2 * a + 1] + "L" + pos[2 * b] + " " + pos[2 * b + 1]; }
  function drawEdges() {
    while (layers.edges.firstChild) layers.edges.removeChild(layers.edges.firstChild);
    while (layers.cut.firstChild) layers.cut.removeChild(layers.cut.firstChild);
    var by = [[], [], [], [], []], cut = [];
    for (var i = 0; i < EF.length; i++) { if (priv[i] > 0) by[priv[i]].push(seg(i)); else cut.push(seg(i)); }
    for (var p = 1; p <= 4; p++) if (by[p].length) el("path", { d: by[p].join(""), stroke: PC[p], "stroke-opacity": "0.28" }, layers.edges);
    if (cut.length) el("path", { d: cut.join("") }, layers.cut);
  }
  // Labels are placed so that none covers a node or another label: right
  // of its node, else left of it, else left out (the node is still found
  // by search, hover and the arrow keys). The selection, the cursor and
  // the reached tenants go first, then tenants, the internet and the
  // widest-reaching nodes.
  var measure = null;
  function textWidth(s) {
    if (!measure) { measure = document.createElement("canvas").getContext("2d"); measure.font = "10px system-ui, sans-serif"; }
    return measure.measureText(s).width;
  }
  function drawLabels() {
    while (layers.labels.firstChild) layers.labels.removeChild(layers.labels.firstChild);
    var want = [], seen = {};
    function add(i) { if (i >= 0 && !seen[i]) { seen[i] = 1; want.push(i); } }
    add(selected); add(cursor);
    if (reach) reach.tenants.forEach(function (t) { add(t[0]); });
    N.forEach(function (n, i) { if (n.k === "tenant" || n.k === "outsider") add(i); });
    N.map(function (n, i) { return i; }).filter(function (i) { return N[i].r && N[i].r <= 25; })
      .sort(function (a, b) { return N[a].r - N[b].r; }).forEach(add);
    var LW = 40, LH = 14, boxes = new Map();
    function cells(b, fn) {
      for (var a = Math.floor(b[0] / LW); a <= Math.floor(b[2] / LW); a++)
        for (var c = Math.floor(b[1] / LH); c <= Math.floor(b[3] / LH); c++) if (fn(a + ":" + c)) return true;
      return false;
    }
    function free(b, own) {
      if (cells(b, function (key) { return (boxes.get(key) || []).some(function (o) { return b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3]; }); })) return false;
      for (var a = Math.round(b[0] / DX) - 1; a <= Math.round(b[2] / DX) + 1; a++)
        for (var c = Math.round(b[1] / DY) - 1; c <= Math.round(b[3] / DY) + 1; c++) {
          var hit = (grid.get(a + ":" + c) || []).some(function (j) {
            if (j === own) return false;
            var x = pos[2 * j], y = pos[2 * j + 1], r = radius(j) + 1;
            var dx = x - Math.max(b[0], Math.min(x, b[2])), dy = y - Math.max(b[1], Math.min(y, b[3]));
            return dx * dx + dy * dy < r * r;
          });
          if (hit) return false;
        }
      return true;
    }
    var n = 0;
    for (var w = 0; w < want.length && n < 800; w++) {
      var i = want[w], text = N[i].id.length > 22 ? N[i].id.slice(0, 21) + "…" : N[i].id;
      var tw = textWidth(text) + 2, x = pos[2 * i], y = pos[2 * i + 1], r = radius(i) + 2;
      var right = [x + r, y - 7, x + r + tw, y + 6], left = [x - r - tw, y - 7, x - r, y + 6], box = null, anchor = "start";
      if (free(right, i)) box = right; else if (free(left, i)) { box = left; anchor = "end"; }
      if (!box) continue;
      cells(box, function (key) { if (!boxes.has(key)) boxes.set(key, []); boxes.get(key).push(box); return false; });
      var t = el("text", anchor === "end" ? { x: x - r - 1, y: y + 3.5, "text-anchor": "end" } : { x: x + r + 1, y: y + 3.5 }, layers.labels);
      t.textContent = text;
      n++;
    }
  }

  // View box: fit, zoom around a point, pan.
  function setVB() { svg.setAttribute("viewBox", vb.x + " " + vb.y + " " + vb.w + " " + vb.h); }
  function fit() { vb = { x: full.x, y: full.y, w: full.w, h: full.h }; setVB(); }
  function zoom(f, cx, cy) {
    if (cx == null) { cx = vb.x + vb.w / 2; cy = vb.y + vb.h / 2; }
    var w = Math.min(full.w * 4, Math.max(60, vb.w * f)), k = w / vb.w;
    vb = { x: cx - (cx - vb.x) * k, y: cy - (cy - vb.y) * k, w: w, h: vb.h * k };
    setVB();
  }
  function toSVG(ev) {
    var m = svg.getScreenCTM();
    if (!m) return { x: 0, y: 0 };
    var p = svg.createSVGPoint(); p.x = ev.clientX; p.y = ev.clientY;
    p = p.matrixTransform(m.inverse());
    return { x: p.x, y: p.y };
  }
  function show(i) {
    var x = pos[2 * i], y = pos[2 * i + 1], mx = vb.w * 0.08, my = vb.h * 0.08;
    if (x < vb.x + mx || x > vb.x + vb.w - mx || y < vb.y + my || y > vb.y + vb.h - my) { vb.x = x - vb.w / 2; vb.y = y - vb.h / 2; setVB(); }
  }
  canvas.addEventListener("wheel", function (ev) {
    if (!vb) return;
    ev.preventDefault();
    var p = toSVG(ev);
    zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, p.x, p.y);
  }, { passive: false });
  var drag = null;
  canvas.addEventListener("pointerdown", function (ev) {
    if (!vb) return;
    drag = { x: ev.clientX, y: ev.clientY, vx: vb.x, vy: vb.y, moved: false };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    var r = canvas.getBoundingClientRect(), s = Math.max(vb.w / r.width, vb.h / r.height);
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    vb.x = drag.vx - dx * s; vb.y = drag.vy - dy * s; setVB();
  });
  canvas.addEventListener("pointerup", function (ev) {
    var d = drag; drag = null;
    if (!d || d.moved) return;
    var p = toSVG(ev), i = nodeAt(p.x, p.y);
    if (i >= 0) { move(i, false); compromise(i); }
  });
  document.getElementById("gx-zin").addEventListener("click", function () { if (vb) zoom(1 / 1.5); });
  document.getElementById("gx-zout").addEventListener("click", function () { if (vb) zoom(1.5); });
  document.getElementById("gx-fit").addEventListener("click", function () { if (vb) fit(); });

  // Keyboard: one Tab stop; arrows move the cursor.
  canvas.addEventListener("keydown", function (ev) {
    if (!N) return;
    var k = ev.key, i = cursor < 0 ? -1 : cursor, handled = true;
    if (i < 0 && /^Arrow|^Home$|^End$/.test(k)) { move(cols[0].ids[0], true); ev.preventDefault(); return; }
    var c = i >= 0 ? cols[colOf[i]] : null, j = c ? c.ids.indexOf(i) : -1;
    switch (k) {
      case "ArrowDown": if (j + 1 < c.ids.length) move(c.ids[j + 1], true); break;
      case "ArrowUp": if (j > 0) move(c.ids[j - 1], true); break;
      case "ArrowRight": side(c, j, 1); break;
      case "ArrowLeft": side(c, j, -1); break;
      case "Home": if (c) move(c.ids[0], true); break;
      case "End": if (c) move(c.ids[c.ids.length - 1], true); break;
      case "Enter": case " ": if (i >= 0) compromise(i); break;
      case "Escape": clear(); break;
      case "+": case "=": zoom(1 / 1.5); break;
      case "-": zoom(1.5); break;
      case "0": fit(); break;
      default: handled = false;
    }
    if (handled) ev.preventDefault();
  });
  // Left/right: the next sub-column of the same band, else the nearest
  // node (by height) of the neighbouring band.
  function side(c, j, dir) {
    if (!c) return;
    var nj = j + dir * c.rows;
    if (nj >= 0 && nj < c.ids.length) { move(c.ids[nj], true); return; }
    var ci = cols.indexOf(c) + dir;
    if (ci < 0 || ci >= cols.length) return;
    var nc = cols[ci], y = pos[2 * c.ids[j] + 1], row = Math.round((y - 30) / DY);
    var sub = dir > 0 ? 0 : Math.floor((nc.ids.length - 1) / nc.rows);
    var k = Math.min(nc.ids.length - 1, sub * nc.rows + row);
    move(nc.ids[k], true);
  }
  function describe(i) {
    var n = N[i];
    return n.k + " " + n.id + (n.n && n.n !== n.id ? " (" + n.n + ")" : "") + ": reaches " + n.ta + " of " + D.tenants + " tenants at admin or above, " + n.tn + " at any privilege" +
      (n.r ? "; #" + n.r + " in the blast ranking" : "") + (n.m ? "; MFA " + n.m : "") + (n.x ? "; internet-exposed" : "") + (n.v && n.v.length ? "; known exploited: " + n.v.join(", ") : "") + ".";
  }
  function move(i, pan) {
    cursor = i;
    layers.cursor.setAttribute("d", circle(i, radius(i) + 4));
    if (pan) show(i);
    cursorEl.textContent = describe(i) + (i === selected ? "" : " Enter or the button: if this is compromised.");
    hitBtn.disabled = false;
    drawLabels();
  }
  hitBtn.addEventListener("click", function () { if (cursor >= 0) compromise(cursor); });
  document.getElementById("gx-clear").addEventListener("click", clear);

  // Search: exact id, else the widest-reaching node whose id or name
  // contains the text. The suggestions are the first matches as one
  // types: a list of every node (thousands of options) cost the first
  // paint more than drawing the graph.
  function fillSearch() {
    var q = document.getElementById("gx-q");
    q.addEventListener("input", suggest);
    q.addEventListener("focus", suggest);
  }
  var suggested = null;
  function suggest() {
    if (!N) return;
    var v = document.getElementById("gx-q").value.trim().toLowerCase();
    if (v === suggested) return;
    suggested = v;
    var dl = document.getElementById("gx-ids"), frag = document.createDocumentFragment(), hits = [];
    for (var i = 0; i < N.length; i++) {
      var n = N[i];
      if (!v || n.id.toLowerCase().indexOf(v) >= 0 || (n.n || "").toLowerCase().indexOf(v) >= 0) hits.push(i);
    }
    hits.sort(function (a, b) { return (N[b].w - N[a].w) || (N[b].tn - N[a].tn) || cmp(N[a].id, N[b].id); });
    hits.slice(0, 30).forEach(function (i) { var n = N[i], o = document.createElement("option"); o.value = n.id; if (n.n && n.n !== n.id) o.label = n.n; frag.appendChild(o); });
    dl.textContent = "";
    dl.appendChild(frag);
  }
  function find(q) {
    q = q.trim().toLowerCase();
    if (!q) return -1;
    var best = -1;
    for (var i = 0; i < N.length; i++) {
      var n = N[i];
      if (n.id.toLowerCase() === q) return i;
      if ((n.id.toLowerCase().indexOf(q) >= 0 || (n.n || "").toLowerCase().indexOf(q) >= 0) && (best < 0 || n.w > N[best].w || (n.w === N[best].w && n.tn > N[best].tn))) best = i;
    }
    return best;
  }
  document.getElementById("gx-find").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!N) return;
    var q = document.getElementById("gx-q").value, i = find(q);
    if (i < 0) { say("No node matches “" + q + "”."); return; }
    if (vb.w > full.w / 3) zoom(Math.max(0.2, 500 / vb.w));
    move(i, true);
    vb.x = pos[2 * i] - vb.w / 2; vb.y = pos[2 * i + 1] - vb.h / 2; setVB();
    say("Found " + N[i].k + " " + N[i].id + ".");
  });

  // Reach: for each privilege threshold a breadth-first search over the
  // edges usable at that privilege (the engine's widest path; the proof is
  // a shortest path achieving it).
  function blast(src) {
    var best = new Int8Array(N.length), par = [];
    for (var p = 4; p >= 1; p--) {
      var pr = new Int32Array(N.length).fill(-1), seen = new Uint8Array(N.length), q = [src];
      seen[src] = 1;
      for (var h2 = 0; h2 < q.length; h2++) {
        for (var a = OS[q[h2]], end = OS[q[h2] + 1]; a < end; a++) {
          var ei = OE[a];
          if (priv[ei] < p) continue;
          var w = ET[ei];
          if (seen[w]) continue;
          seen[w] = 1; pr[w] = ei; q.push(w);
          if (!best[w]) best[w] = p;
        }
      }
      par[p] = pr;
    }
    var tenants = [];
    for (var i = 0; i < N.length; i++) if (best[i] && N[i].k === "tenant" && i !== src) tenants.push([i, best[i], pathTo(par[best[i]], src, i)]);
    if (N[src].k === "tenant") tenants.push([src, 4, []]);
    tenants.sort(function (x, y) { return (y[1] - x[1]) || (x[2].length - y[2].length) || cmp(N[x[0]].id, N[y[0]].id); });
    var assets = 0; for (i = 0; i < N.length; i++) if (best[i] && N[i].k === "asset") assets++;
    return { best: best, tenants: tenants, assets: assets };
  }
  function pathTo(pr, src, w) {
    var p = [];
    while (w !== src && p.length <= N.length) { var ei = pr[w]; if (ei < 0) break; p.push(ei); w = EF[ei]; }
    return p.reverse();
  }

  function compromise(src) {
    selected = src;
    reach = blast(src);
    layers.base.setAttribute("opacity", "0.35");
    while (layers.hl.firstChild) layers.hl.removeChild(layers.hl.firstChild);
    var pe = [[], [], [], [], []], ring = [[], [], [], [], []], seen = {};
    reach.tenants.forEach(function (t) {
      t[2].forEach(function (ei) { if (!seen[ei]) { seen[ei] = 1; pe[Math.min(priv[ei], t[1])].push(seg(ei)); } });
      ring[t[1]].push(circle(t[0], 9));
    });
    for (var p = 1; p <= 4; p++) {
      if (pe[p].length) el("path", { d: pe[p].join(""), stroke: PC[p], "stroke-width": "2.2", fill: "none" }, layers.hl);
      if (ring[p].length) el("path", { d: ring[p].join(""), stroke: PC[p], "stroke-width": "3", fill: "none" }, layers.hl);
    }
    el("path", { d: circle(src, 8), fill: "#ffffff", stroke: KC[N[src].k], "stroke-width": "3" }, layers.hl);
    drawLabels();
    renderResult();
    move(src, false);
  }
  function renderResult() {
    resultEl.textContent = "";
    if (selected < 0) return;
    var n = N[selected], cnt = [0, 0, 0, 0, 0];
    reach.tenants.forEach(function (t) { cnt[t[1]]++; });
    var adm = cnt[3] + cnt[4];
    var head = h("h3", "If " + n.k + " " + n.id + " is compromised");
    var sum = h("p", reach.tenants.length + " of " + D.tenants + " tenants fall, " + adm + " at admin or above" + (adm > D.limit ? " — above the limit of " + D.limit : "") + " (" + cnt[4] + " at full control), and " + reach.assets + " machines.");
    sum.id = "gx-summary";
    sum.setAttribute("data-tenants", String(reach.tenants.length));
    sum.setAttribute("data-admin", String(adm));
    resultEl.appendChild(head); resultEl.appendChild(sum);
    if (!reach.tenants.length) return;
    var ol = h("ol", null, "gx-tenants");
    reach.tenants.slice(0, 300).forEach(function (t) {
      var li = h("li");
      li.setAttribute("data-tenant", N[t[0]].id);
      li.setAttribute("data-priv", String(t[1]));
      li.appendChild(h("strong", N[t[0]].id));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(h("span", PN[t[1]], "pill p" + t[1]));
      var path = h("div", null, "gx-path");
      path.textContent = t[2].length ? N[selected].id + t[2].map(function (ei) { return " —[" + D.edge_kinds[EK[ei]] + (D.grants[ei] ? " " + D.grants[ei] : "") + ", " + PN[priv[ei]] + "]→ " + N[ET[ei]].id; }).join("") : "(the tenant itself)";
      li.appendChild(path);
      ol.appendChild(li);
    });
    if (reach.tenants.length > 300) ol.appendChild(h("li", "and " + (reach.tenants.length - 300) + " more", "muted"));
    resultEl.appendChild(ol);
  }
  function clear() {
    selected = -1; reach = null;
    layers.base.setAttribute("opacity", "1");
    while (layers.hl.firstChild) layers.hl.removeChild(layers.hl.firstChild);
    resultEl.textContent = "";
    drawLabels();
  }

  // What if I fix this: the engine applies the ticked plan steps and says
  // which edges stop being usable and how every node's counts change.
  function fillPlan() {
    if (!D.plan.length) { planEl.appendChild(h("li", "No plan: no single compromise reaches more than the limit.", "muted")); return; }
    D.plan.forEach(function (st) {
      var li = h("li"), lab = h("label"), box = document.createElement("input");
      box.type = "checkbox"; box.value = String(st.n); box.id = "gx-step-" + st.n;
      box.addEventListener("change", whatIf);
      lab.htmlFor = box.id;
      lab.appendChild(box);
      lab.appendChild(h("span", st.why + (st.effect ? " (" + st.effect + ")" : "")));
      li.appendChild(lab);
      planEl.appendChild(li);
    });
  }
  var orig = null;
  function whatIf() {
    var steps = Array.prototype.filter.call(planEl.querySelectorAll("input:checked"), function () { return true; }).map(function (b) { return b.value; });
    whatifEl.textContent = "Applying…";
    root.setAttribute("data-whatif-state", "busy");
    fetch(whatifURL + "?steps=" + steps.join(","), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (w) {
        if (!orig) orig = N.map(function (n) { return [n.tf, n.ta, n.tn, n.w]; });
        priv.set(P0);
        N.forEach(function (n, i) { n.tf = orig[i][0]; n.ta = orig[i][1]; n.tn = orig[i][2]; n.w = orig[i][3]; });
        w.edges.forEach(function (x) { priv[x[0]] = x[1]; });
        w.nodes.forEach(function (x) { var n = N[x[0]]; n.tf = x[1]; n.ta = x[2]; n.tn = x[3]; n.w = x[4]; });
        applied = w.steps;
        drawEdges();
        if (selected >= 0) compromise(selected);
        else if (cursor >= 0) move(cursor, false);
        whatifEl.textContent = applied.length ? "With step" + (applied.length > 1 ? "s " : " ") + applied.join(", ") + ": excess " + baseExcess + " → " + w.excess + " (tenants at admin or above beyond the limit of " + w.limit + ", summed over every node); " + w.edges.length + " edges no longer usable (dashed)." : "No fix applied.";
        whatifEl.setAttribute("data-excess", String(w.excess));
        root.setAttribute("data-whatif-state", "done");
      })
      .catch(function (e) { whatifEl.textContent = "The fix could not be applied (" + e.message + ")."; root.setAttribute("data-whatif-state", "error"); });
  }

  // Export: the drawing as it is (colours are attributes, so the file
  // stands alone), as SVG or as a PNG at twice the canvas size.
  function svgText() {
    var c = svg.cloneNode(true);
    c.setAttribute("xmlns", NS);
    c.removeAttribute("aria-hidden");
    var r = canvas.getBoundingClientRect();
    c.setAttribute("width", String(Math.round(r.width)));
    c.setAttribute("height", String(Math.round(r.height)));
    var t = document.createElementNS(NS, "title");
    t.textContent = "Trust graph" + (D.title ? " — " + D.title : "") + (selected >= 0 ? ": if " + N[selected].id + " is compromised" : "");
    c.insertBefore(t, c.firstChild);
    return new XMLSerializer().serializeToString(c);
  }
  function save(blob, name) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
  }
  document.getElementById("gx-export-svg").addEventListener("click", function () {
    if (!N) return;
    save(new Blob([svgText()], { type: "image/svg+xml" }), "trust-graph.svg");
  });
  document.getElementById("gx-export-png").addEventListener("click", function () {
    if (!N) return;
    var r = canvas.getBoundingClientRect(), img = new Image(), k = 2;
    img.onload = function () {
      var cv = document.createElement("canvas");
      cv.width = Math.round(r.width * k); cv.height = Math.round(r.height * k);
      var ctx = cv.getContext("2d");
      ctx.drawImage(img, 0, 0, cv.width, cv.height);
      cv.toBlob(function (b) { if (b) save(b, "trust-graph.png"); }, "image/png");
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svgText());
  });
})();
