// The s3mesh status page: reads this node's admin API every few seconds
// and draws it. No dependencies; graphs are inline SVG.
'use strict';

const API = '../admin/v1/';
const REFRESH_MS = 5000;
const SVG_NS = 'http://www.w3.org/2000/svg';

// ---- formatting ----

function bytes(n) {
  if (n == null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? String(Math.round(v)) : v.toFixed(v < 10 ? 2 : 1)) + ' ' + units[i];
}

function rateText(n) {
  return n == null ? '–' : bytes(n) + '/s';
}

function ms(n) {
  if (n == null) return '–';
  return (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n)) + ' ms';
}

function count(n) {
  return n == null ? '–' : Number(n).toLocaleString('en-US');
}

function duration(seconds) {
  let s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return d + 'd ' + h + 'h ' + m + 'm';
  if (h > 0) return h + 'h ' + m + 'm';
  if (m > 0) return m + 'm ' + s + 's';
  return s + 's';
}

function clock(t, seconds) {
  const d = new Date(t);
  const p = (x) => String(x).padStart(2, '0');
  return p(d.getHours()) + ':' + p(d.getMinutes()) + (seconds ? ':' + p(d.getSeconds()) : '');
}

function windowText(msec) {
  const min = Math.round(msec / 60000);
  return min >= 60 ? 'last hour' : min <= 1 ? 'last minute' : 'last ' + min + ' minutes';
}

function dateTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

function shortID(id) {
  return id.length > 16 ? '…' + id.slice(-8) : id;
}

// ---- DOM helpers (text only: never innerHTML) ----

function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  }
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

function setText(id, v) {
  $(id).textContent = v == null ? '–' : String(v);
}

// ---- graphs ----

// niceMax rounds v up to 1, 2, 2.5 or 5 times a power of ten (or of 1024
// for byte scales), so axis labels are round.
function niceMax(v, binary) {
  if (!(v > 0)) return 1;
  const base = binary && v >= 1024 ? Math.pow(1024, Math.floor(Math.log(v) / Math.log(1024))) : 1;
  const x = v / base;
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * p >= x) return m * p * base;
  }
  return 10 * p * base;
}

// chart draws series over a time window ending at the newest point, at
// the width (in CSS pixels) of the box it goes in.
// opts: {times, series: [{name, cls, values}], format, binary, window, width}
function chart(opts) {
  const times = opts.times;
  const end = times.length ? times[times.length - 1] : Date.now();
  const start = end - opts.window;
  let max = 0;
  for (const s of opts.series) for (const v of s.values) if (v != null && v > max) max = v;
  const top = niceMax(max, opts.binary);
  const tick = (v) => opts.format(v).replace(/\.0+(?= )/, '');
  let widest = 0;
  for (let i = 0; i <= 4; i++) widest = Math.max(widest, tick((top * i) / 4).length);
  const W = Math.max(240, Math.round(opts.width || 520)), H = 150, L = 10 + widest * 6, R = 12, T = 22, B = 20;
  const pw = W - L - R, ph = H - T - B;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
  const x = (t) => L + ((t - start) / opts.window) * pw;
  const y = (v) => T + ph - (v / top) * ph;

  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    root.append(svg('line', { class: 'gridline', x1: L, x2: L + pw, y1: y(v), y2: y(v) }));
    root.append(svg('text', { class: 'axis', x: L - 6, y: y(v) + 3, 'text-anchor': 'end' }, tick(v)));
  }
  const xticks = pw < 360 ? 2 : 4;
  for (let i = 0; i <= xticks; i++) {
    const t = start + (opts.window * i) / xticks;
    const anchor = i === 0 ? 'start' : i === xticks ? 'end' : 'middle';
    root.append(svg('text', { class: 'axis', x: x(t), y: H - 5, 'text-anchor': anchor }, clock(t, opts.window < 600000)));
  }
  root.append(svg('rect', { class: 'frame', x: L, y: T, width: pw, height: ph }));

  let any = false;
  let lx = L;
  for (const s of opts.series) {
    let d = '';
    let open = false;
    s.values.forEach((v, i) => {
      if (v == null || times[i] < start) {
        open = false;
        return;
      }
      any = true;
      const px = x(times[i]).toFixed(1), py = y(v).toFixed(1);
      const prev = i > 0 ? s.values[i - 1] : null;
      const next = i + 1 < s.values.length ? s.values[i + 1] : null;
      if (prev == null && next == null) {
        root.append(svg('circle', { class: 'dot-' + s.cls, cx: px, cy: py, r: 2.5 }));
      }
      d += (open ? 'L' : 'M') + px + ' ' + py;
      open = true;
    });
    if (d) root.append(svg('path', { class: 'series s-' + s.cls, d }));
    const last = s.values.length ? s.values[s.values.length - 1] : null;
    const label = s.name + ' ' + (last == null ? '–' : opts.format(last));
    root.append(svg('rect', { class: 'dot-' + s.cls, x: lx, y: 6, width: 10, height: 10, rx: 2 }));
    root.append(svg('text', { class: 'legend', x: lx + 14, y: 15 }, label));
    lx += 28 + label.length * 6.2;
  }
  if (!any) {
    root.append(svg('text', { class: 'waiting', x: L + pw / 2, y: T + ph / 2, 'text-anchor': 'middle' },
      'collecting: a point every ' + opts.interval + ' s'));
  }
  return root;
}

// drawGraphs replaces container's children with one titled chart per
// spec ({title, sub, ...chart opts}), each drawn at its box's width.
function drawGraphs(container, specs) {
  const boxes = specs.map((spec) => {
    const head = el('h3', {}, spec.title);
    if (spec.sub) head.append(el('span', { class: 'mono sub' }, spec.sub));
    const box = el('div', { class: 'chart' });
    return { node: el('div', { class: 'graph' }, head, box), box, spec };
  });
  container.replaceChildren(...boxes.map((b) => b.node));
  for (const b of boxes) b.box.append(chart({ ...b.spec, width: b.box.clientWidth }));
}

// ---- rendering ----

function renderStatus(st) {
  document.title = 's3mesh ' + shortID(st.id);
  setText('title-id', st.id);
  setText('node-id', st.id);
  setText('node-version', st.version);
  setText('node-endpoint', st.endpoint);
  setText('node-data', st.data_dir);
  setText('node-uptime', duration(st.uptime_seconds) + ' (since ' + dateTime(st.started) + ')');
  $('node-addrs').replaceChildren(...(st.addrs || []).map((a) => el('li', {}, a)));

  setText('blocks', count(st.blocks.count) + ' blocks, ' + bytes(st.blocks.bytes));
  if (st.usage) {
    setText('usage', bytes(st.usage.cached_bytes) + ' cached from other offices, ' + bytes(st.usage.owned_bytes) +
      ' written here, ' + bytes(st.usage.unreferenced_bytes) + ' for the next gc (counted ' + dateTime(st.usage.scanned_at) + ')');
  } else {
    setText('usage', 'not counted yet (the first count runs a minute after start)');
  }
  if (st.cache) {
    const c = st.cache;
    const budget = c.budget_bytes > 0 ? 'of a ' + bytes(c.budget_bytes) + ' budget' : 'no budget';
    let text = bytes(c.used_bytes) + ' evictable, ' + budget + '; ' + count(c.hits) + ' hits, ' + count(c.misses) +
      ' misses; ' + count(c.evicted_blocks) + ' blocks (' + bytes(c.evicted_bytes) + ') evicted';
    if (c.writes_refused) {
      text += ' — WRITES REFUSED: the disk is below the ' + bytes(c.min_free_bytes) + ' kept free';
    }
    setText('cache', text);
  } else {
    setText('cache', '–');
  }
  if (st.disk) {
    const used = st.disk.total_bytes - st.disk.free_bytes;
    const pctFree = st.disk.total_bytes > 0 ? (100 * st.disk.free_bytes) / st.disk.total_bytes : 0;
    setText('disk', bytes(st.disk.free_bytes) + ' free of ' + bytes(st.disk.total_bytes) + ' (' + pctFree.toFixed(0) + '% free)');
    $('disk-bar').hidden = false;
    const fill = $('disk-fill');
    fill.style.width = (st.disk.total_bytes > 0 ? (100 * used) / st.disk.total_bytes : 0).toFixed(1) + '%';
    fill.classList.toggle('low', pctFree < 10);
  } else {
    setText('disk', 'unknown on this platform');
  }

  const ns = st.namespace || {};
  setText('ns-network', ns.network);
  setText('ns-topic-peers', ns.topic_peers);
  setText('ns-heads', ns.heads);
  setText('ns-height', ns.max_height);
  setText('ns-queued', ns.queued_jobs);
  setText('ns-dirty', ns.dirty ? 'due' : 'clean');
  setText('ns-lag', ns.lag_samples > 0
    ? ms(ns.lag_p50_ms) + ' / ' + ms(ns.lag_p99_ms) + ' / ' + ms(ns.lag_max_ms) + ' over ' + count(ns.lag_samples) + ' updates'
    : 'no update from another office yet');
  setText('ns-last', ns.last_remote_update ? dateTime(ns.last_remote_update) : '–');
  setText('ns-snapshot', ns.epoch > 0
    ? 'epoch ' + ns.epoch + ' from ' + ns.snapshot + ' (' + count(ns.snapshot_items) + ' items)'
    : 'none yet (epoch 0)');
  setText('ns-backlog', count(ns.delta_backlog) + ' delta levels');
  const j = ns.join;
  setText('ns-join', j
    ? j.state + ': ' + count(j.leaves_done) + '/' + count(j.leaves) + ' leaves, ' + count(j.items_done) + '/' + count(j.items) + ' items' + (j.error ? ' (' + j.error + ')' : '')
    : '–');
}

function renderPeers(pr, hist) {
  const totals = {};
  for (const p of (hist && hist.peers) || []) totals[p.id] = p.totals;
  const peers = pr.peers || [];
  const connected = peers.filter((p) => p.connected).length;
  setText('peers-count', connected + ' connected of ' + peers.length);
  const rows = peers.map((p) => {
    const t = totals[p.id];
    return el('tr', { 'data-peer': p.id },
      el('td', { class: 'id' }, p.id),
      el('td', { class: p.connected ? 'yes' : 'no' }, p.connected ? '● yes' : '○ no'),
      el('td', {}, p.static ? 'yes' : 'no'),
      el('td', { class: 'num' }, ms(p.rtt_ms)),
      el('td', { class: 'num' }, t ? bytes(t.in_bytes) : '–'),
      el('td', { class: 'num' }, t ? bytes(t.out_bytes) : '–'),
      el('td', { class: 'id' }, (p.addrs && p.addrs[0]) || '–'));
  });
  if (!rows.length) {
    rows.push(el('tr', {}, el('td', { colspan: 7, class: 'empty' }, 'No peers: add other offices with --peer (see s3mesh id).')));
  }
  $('peers-body').replaceChildren(...rows);
}

function renderHistory(h) {
  // The window grows with the history, from a minute to all of it (an hour).
  const step = h.interval_seconds * 1000;
  const span = h.times.length > 1 ? h.times[h.times.length - 1] - h.times[0] : 0;
  const win = Math.min(h.capacity * step, Math.max(span, 6 * step));
  const base = { times: h.times, window: win, interval: h.interval_seconds };
  setText('traffic-total', bytes(h.totals.in_bytes) + ' received, ' + bytes(h.totals.out_bytes) + ' sent since start');
  drawGraphs($('storage-chart'), [{
    ...base, title: 'Stored bytes, ' + windowText(win), binary: true, format: bytes,
    series: [{ name: 'stored', cls: 'stored', values: h.stored_bytes }],
  }]);
  const specs = [];
  for (const p of h.peers) {
    specs.push({
      ...base, title: 'Round-trip time, ' + windowText(win), sub: p.id, binary: false, format: ms,
      series: [{ name: 'RTT', cls: 'rtt', values: p.rtt_ms }],
    });
    specs.push({
      ...base, title: 'Traffic, ' + windowText(win), sub: p.id, binary: true, format: rateText,
      series: [
        { name: 'in', cls: 'in', values: p.in_bytes_per_second },
        { name: 'out', cls: 'out', values: p.out_bytes_per_second },
      ],
    });
  }
  drawGraphs($('peer-graphs'), specs);
}

function renderBuckets(b) {
  const rows = b.buckets.map((x) => el('tr', { 'data-bucket': x.name },
    el('td', { class: 'id' }, x.name),
    el('td', { class: 'num' }, count(x.objects)),
    el('td', { class: 'num' }, bytes(x.bytes)),
    el('td', {}, dateTime(x.created))));
  if (!rows.length) {
    rows.push(el('tr', {}, el('td', { colspan: 4, class: 'empty' }, 'No buckets yet.')));
  }
  $('buckets-body').replaceChildren(...rows);
  $('buckets-foot').replaceChildren(el('tr', {},
    el('td', {}, 'Total'),
    el('td', { class: 'num' }, count(b.total_objects)),
    el('td', { class: 'num' }, bytes(b.total_bytes)),
    el('td', {}, '')));
  setText('buckets-count', b.buckets.length);
  setText('buckets-note', 'Sizes are the sum of object sizes (content shared between objects counts each time); computed ' + dateTime(b.computed) + '.');
}

// ---- refresh loop ----

class HTTPError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function getJSON(name) {
  const r = await fetch(API + name, { credentials: 'same-origin', cache: 'no-store' });
  if (!r.ok) {
    let msg = r.status + ' ' + r.statusText;
    try {
      const e = await r.json();
      if (e && e.message) msg = e.code + ': ' + e.message;
    } catch (_) { /* not JSON */ }
    throw new HTTPError(r.status, name + ': ' + msg);
  }
  return r.json();
}

async function refresh() {
  const names = ['status', 'peers', 'history', 'buckets'];
  const res = await Promise.allSettled(names.map(getJSON));
  const got = {};
  const errors = [];
  res.forEach((r, i) => {
    if (r.status === 'fulfilled') got[names[i]] = r.value;
    else errors.push(r.reason);
  });
  const draw = [
    ['status', () => renderStatus(got.status)],
    ['peers', () => renderPeers(got.peers, got.history)],
    ['history', () => renderHistory(got.history)],
    ['buckets', () => renderBuckets(got.buckets)],
  ];
  for (const [name, fn] of draw) {
    if (!got[name]) continue;
    try {
      fn();
    } catch (e) {
      errors.push(new Error(name + ': ' + e.message));
    }
  }
  const banner = $('banner');
  const state = $('state');
  if (errors.some((e) => e.status === 403)) {
    banner.textContent = 'This browser is not signed in to the node any more (the session expired or the node\'s credentials changed). Run "s3mesh ui" and open the new link.';
    banner.hidden = false;
  } else if (errors.length) {
    banner.textContent = errors.map((e) => e.message).join('; ');
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
  state.textContent = (errors.length ? 'partly updated ' : 'updated ') + new Date().toLocaleTimeString('en-GB');
  state.classList.toggle('bad', errors.length > 0);
}

async function loop() {
  try {
    await refresh();
  } catch (e) {
    $('state').textContent = 'offline: ' + e.message;
    $('state').classList.add('bad');
  }
  setTimeout(loop, REFRESH_MS);
}

loop();
