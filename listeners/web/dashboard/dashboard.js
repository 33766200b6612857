// edgemq operator dashboard. Plain DOM code around uPlot (the global
// `uPlot` from uplot.min.js); nothing but this page's own files and the
// admin API of the listener that served it. The token typed into the
// login form lives in the `token` variable only: never in storage, a
// cookie or a URL. Element ids and data attributes are relied on by the
// browser test (../test/dashboard.mjs).
'use strict';

(function () {
  const REFRESH_MS = 2000;
  const WINDOW_POINTS = 150; // 5 minutes at 2 s
  const API = '../api/v1/';
  const $ = (id) => document.getElementById(id);

  // Reason codes of MQTT 5.0 (CONNACK, DISCONNECT; table 2-6); the
  // gateway counts 3.1.1 refusals under their MQTT 5 equivalent.
  const REASONS = {
    0x00: 'Success', 0x04: 'Disconnect with Will Message', 0x80: 'Unspecified error',
    0x81: 'Malformed Packet', 0x82: 'Protocol Error', 0x83: 'Implementation specific error',
    0x84: 'Unsupported Protocol Version', 0x85: 'Client Identifier not valid',
    0x86: 'Bad User Name or Password', 0x87: 'Not authorized', 0x88: 'Server unavailable',
    0x89: 'Server busy', 0x8A: 'Banned', 0x8B: 'Server shutting down',
    0x8C: 'Bad authentication method', 0x8D: 'Keep Alive timeout', 0x8E: 'Session taken over',
    0x8F: 'Topic Filter invalid', 0x90: 'Topic Name invalid', 0x93: 'Receive Maximum exceeded',
    0x94: 'Topic Alias invalid', 0x95: 'Packet too large', 0x96: 'Message rate too high',
    0x97: 'Quota exceeded', 0x98: 'Administrative action', 0x99: 'Payload format invalid',
    0x9A: 'Retain not supported', 0x9B: 'QoS not supported', 0x9C: 'Use another server',
    0x9D: 'Server moved', 0x9E: 'Shared Subscriptions not supported',
    0x9F: 'Connection rate exceeded', 0xA0: 'Maximum connect time',
    0xA1: 'Subscription Identifiers not supported', 0xA2: 'Wildcard Subscriptions not supported',
  };

  let token = null; // in memory only
  let timer = null;
  let prev = null; // the previous overview's totals, for rates
  let charts = null;
  let clients = [];
  let detailID = null;
  let startedAt = 0;

  // ---- helpers ----

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
    return td;
  }

  function fillTable(table, rows, empty) {
    const tbody = document.createElement('tbody');
    for (const r of rows) tbody.append(r);
    if (rows.length === 0 && empty) {
      const tr = document.createElement('tr');
      const td = cell(tr, empty, 'empty');
      td.colSpan = table.tHead ? table.tHead.rows[0].cells.length : 2;
      tbody.append(tr);
    }
    table.tBodies[0].replaceWith(tbody);
  }

  function row(cells) {
    const tr = document.createElement('tr');
    for (const c of cells) cell(tr, c);
    return tr;
  }

  function num(v) {
    return Number(v).toLocaleString('en');
  }

  function rate(v) {
    return v >= 100 ? Math.round(v).toLocaleString('en') : (Math.round(v * 10) / 10).toString();
  }

  function bytes(v) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(Math.round(v)) : v.toFixed(1)) + ' ' + units[i];
  }

  function reasonName(code) {
    const n = parseInt(code, 16);
    return REASONS[n] || 'unknown';
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + (d || h || m ? m + 'm ' : '') + s + 's';
  }

  // A path segment of the admin API: encodeURIComponent leaves "." and
  // "..", which the API refuses as dot segments, so those are encoded too.
  function segment(s) {
    return encodeURIComponent(s).replace(/\./g, '%2E');
  }

  class Unauthorized extends Error {}

  async function api(method, path) {
    const res = await fetch(API + path, {
      method,
      headers: { Authorization: 'Bearer ' + token },
      cache: 'no-store',
      credentials: 'omit',
    });
    if (res.status === 401) throw new Unauthorized('the admin API refused the token');
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      throw new Error(method + ' ' + path + ': status ' + res.status + ', not JSON');
    }
    if (!res.ok) {
      const err = new Error(method + ' ' + path + ': ' + (body && body.error ? body.error : 'status ' + res.status));
      err.status = res.status;
      throw err;
    }
    return body;
  }

  // ---- metrics ----

  // sum adds the samples of name whose labels match every entry of want
  // (a function of the labels, or nothing for all).
  function sum(metrics, name, want) {
    let t = 0;
    for (const m of metrics) {
      if (m.name === name && (!want || want(m.labels || {}))) t += m.value;
    }
    return t;
  }

  function samples(metrics, name) {
    return metrics.filter((m) => m.name === name);
  }

  // totals are the counters the charts and tables take rates of.
  function totals(ov) {
    const m = ov.metrics;
    const t = {
      time: Date.parse(ov.time) / 1000,
      accepted: sum(m, 'edgemq_connack_total', (l) => l.reason_code === '0x00'),
      refused: sum(m, 'edgemq_connack_total', (l) => l.reason_code !== '0x00'),
      msgsIn: sum(m, 'edgemq_messages_received_total'),
      msgsOut: sum(m, 'edgemq_packets_sent_total', (l) => l.type === 'PUBLISH'),
      bytesIn: sum(m, 'edgemq_received_payload_bytes_total'),
      bytesOut: sum(m, 'edgemq_sent_bytes_total', (l) => l.type === 'PUBLISH'),
      dropped: sum(m, 'edgemq_messages_dropped_total'),
      connack: {},
      drops: {},
      admission: Object.assign({}, ov.admission_refused || {}),
    };
    // Sockets refused before CONNECT count as refusals too; server_busy
    // refusals are answered CONNACK 0x89, already counted above.
    for (const [k, v] of Object.entries(t.admission)) if (k !== 'server_busy') t.refused += v;
    for (const s of samples(m, 'edgemq_connack_total')) t.connack[s.labels.reason_code] = s.value;
    for (const s of samples(m, 'edgemq_messages_dropped_total')) t.drops[s.labels.reason] = s.value;
    return t;
  }

  function perSecond(now, before, get) {
    if (!before) return 0;
    const dt = now.time - before.time;
    if (dt <= 0) return 0;
    return Math.max(0, (get(now) - (get(before) || 0)) / dt);
  }

  // ---- charts ----

  function makeChart(el, labels, colors, fmt) {
    const series = [{}];
    labels.forEach((label, i) => series.push({ label, stroke: colors[i], width: 2, value: (u, v) => (v == null ? '-' : fmt(v)) }));
    const opts = {
      width: Math.max(240, el.clientWidth || 320),
      height: 160,
      series,
      // The x axis is always the last WINDOW_POINTS refreshes, so that a
      // new chart does not stretch its first points over years.
      scales: { x: { time: true, range: (u, min, max) => [max - (WINDOW_POINTS * REFRESH_MS) / 1000, max] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { values: (u, vals) => vals.map(fmt), size: 60 }],
      legend: { live: false },
    };
    const data = [[]];
    for (let i = 0; i < labels.length; i++) data.push([]);
    const chart = { u: new uPlot(opts, data, el), data, el };
    return chart;
  }

  function pushPoint(chart, t, values) {
    chart.data[0].push(t);
    values.forEach((v, i) => chart.data[i + 1].push(v));
    if (chart.data[0].length > WINDOW_POINTS) for (const s of chart.data) s.shift();
    chart.u.setData(chart.data);
    // For tests and scripts: the newest point and the window's peak of
    // each series.
    chart.el.dataset.points = String(chart.data[0].length);
    chart.el.dataset.last = values.map((v) => rate(v)).join(',');
    chart.el.dataset.max = chart.data.slice(1).map((s) => rate(Math.max(0, ...s))).join(',');
  }

  function initCharts() {
    if (charts) return;
    charts = {
      connects: makeChart($('chart-connects'), ['accepted', 'refused'], ['#126b12', '#a3000b'], rate),
      messages: makeChart($('chart-messages'), ['in', 'out'], ['#1a66d9', '#b35c00'], rate),
      bytes: makeChart($('chart-bytes'), ['in', 'out'], ['#1a66d9', '#b35c00'], bytes),
      drops: makeChart($('chart-drops'), ['dropped'], ['#a3000b'], rate),
    };
  }

  // ---- rendering ----

  function renderOverview(ov) {
    const m = ov.metrics;
    const now = totals(ov);
    $('version').textContent = ov.version;
    const start = sum(m, 'process_start_time_seconds');
    if (start > 0) startedAt = start;
    $('uptime').textContent = startedAt ? duration(now.time - startedAt) : '?';
    $('updated').textContent = new Date(now.time * 1000).toLocaleTimeString();

    const set = (key, v) => { document.querySelector('#summary [data-metric="' + key + '"]').textContent = num(v); };
    set('clients', sum(m, 'edgemq_connections'));
    set('sessions', sum(m, 'edgemq_sessions'));
    set('subscriptions', sum(m, 'edgemq_subscriptions'));
    set('retained', sum(m, 'edgemq_retained_messages'));
    set('inflight', sum(m, 'edgemq_inflight_messages'));
    set('queued', sum(m, 'edgemq_queued_messages'));

    if (prev) {
      const r = (get) => perSecond(now, prev, get);
      pushPoint(charts.connects, now.time, [r((t) => t.accepted), r((t) => t.refused)]);
      pushPoint(charts.messages, now.time, [r((t) => t.msgsIn), r((t) => t.msgsOut)]);
      pushPoint(charts.bytes, now.time, [r((t) => t.bytesIn), r((t) => t.bytesOut)]);
      pushPoint(charts.drops, now.time, [r((t) => t.dropped)]);
    }

    const conns = samples(m, 'edgemq_connections')
      .sort((a, b) => (a.labels.listener + a.labels.transport + a.labels.protocol_version).localeCompare(b.labels.listener + b.labels.transport + b.labels.protocol_version))
      .map((s) => {
        const tr = row([s.labels.listener, s.labels.transport, s.labels.protocol_version, num(s.value)]);
        tr.dataset.listener = s.labels.listener;
        return tr;
      });
    fillTable($('connections'), conns, 'No clients connected.');

    const codes = Object.keys(now.connack).sort();
    const refusalRows = codes.map((c) => {
      const tr = row([c, reasonName(c), num(now.connack[c]), rate(perSecond(now, prev, (t) => t.connack[c]))]);
      tr.dataset.code = c;
      if (c !== '0x00') tr.className = 'refused';
      return tr;
    });
    for (const k of Object.keys(now.admission).sort()) {
      if (!now.admission[k]) continue;
      const tr = row(['before CONNECT', 'admission: ' + k, num(now.admission[k]), rate(perSecond(now, prev, (t) => t.admission[k]))]);
      tr.dataset.admission = k;
      tr.className = 'refused';
      refusalRows.push(tr);
    }
    fillTable($('refusals'), refusalRows, 'No CONNACK sent yet.');

    const reasons = Object.keys(now.drops).filter((k) => now.drops[k] > 0).sort();
    fillTable($('drops'), reasons.map((k) => row([k, num(now.drops[k]), rate(perSecond(now, prev, (t) => t.drops[k]))])), 'No message dropped.');

    fillTable($('certs'), samples(m, 'edgemq_certificate_expiry_timestamp_seconds').map((s) => {
      const days = Math.floor((s.value - now.time) / 86400);
      const tr = row([s.labels.source, s.labels.name, new Date(s.value * 1000).toISOString().slice(0, 10), String(days)]);
      if (days < 14) tr.className = 'warn';
      return tr;
    }), 'No TLS source.');

    fillTable($('listeners'), (ov.listeners || []).map((l) => {
      const tr = row([l.name, l.type, l.url]);
      const td = cell(tr, '');
      if (l.page_url) {
        const a = document.createElement('a');
        a.href = l.page_url;
        a.textContent = 'test page';
        a.rel = 'noreferrer';
        td.append(a);
      }
      return tr;
    }));

    fillTable($('top-clients'), (ov.top_clients || []).map((c) => row([c.client_id, c.listener, c.protocol, num(c.messages_out), bytes(c.bytes_out)])), 'No client connected.');

    const nodes = ov.cluster_nodes || [];
    $('cluster').hidden = nodes.length === 0;
    if (nodes.length) {
      fillTable($('cluster-nodes'), nodes.map((n) => row([n.name || n.id || '?', JSON.stringify(n)])));
    }
    prev = now;
  }

  function matches(c, q) {
    if (!q) return true;
    q = q.toLowerCase();
    return [c.client_id, c.username, c.listener, c.transport, c.protocol, c.remote_addr].some((v) => String(v || '').toLowerCase().includes(q));
  }

  function renderClients() {
    const q = $('client-search').value.trim();
    const shown = clients.filter((c) => matches(c, q));
    fillTable($('clients'), shown.map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.clientId = c.client_id;
      const td = cell(tr, '');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'link';
      b.textContent = c.client_id;
      b.addEventListener('click', () => openDetail(c.client_id));
      td.append(b);
      for (const v of [c.username, c.listener, c.transport, c.protocol, c.remote_addr, new Date(c.connected_at).toLocaleString()]) cell(tr, v);
      return tr;
    }), q ? 'No client matches.' : 'No client connected.');
    $('clients-caption').textContent = 'Connected clients: ' + shown.length + (q ? ' of ' + clients.length : '') +
      (clientsTruncated ? ' (the first ' + CLIENT_PAGE + ' by client id; a search also asks the server for client ids starting with it)' : '') + '.';
  }

  // loadClients lists the first CLIENT_PAGE connected clients by client
  // id; with more, a search that looks like a client id prefix asks the
  // server for the clients with that prefix.
  const CLIENT_PAGE = 1000;
  let clientsTruncated = false;

  async function loadClients() {
    const q = $('client-search').value.trim();
    let path = 'clients?limit=' + CLIENT_PAGE;
    if (clientsTruncated && q !== '') path += '&client_id=' + encodeURIComponent(q);
    const res = await api('GET', path);
    clients = res.items;
    if (!(clientsTruncated && q !== '')) clientsTruncated = !!res.next;
    renderClients();
  }

  const LIMITS = [
    ['Maximum Packet Size', 'server_max_packet_size', 'client_max_packet_size', (v) => (v ? num(v) : 'no limit')],
    ['Receive Maximum', 'server_receive_maximum', 'client_receive_maximum', num],
    ['Topic Alias Maximum', 'server_topic_alias_maximum', 'client_topic_alias_maximum', num],
  ];

  function kv(table, pairs) {
    fillTable(table, pairs.map(([k, v, key]) => {
      const tr = document.createElement('tr');
      if (key) tr.dataset.key = key;
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = k;
      tr.append(th);
      cell(tr, v);
      return tr;
    }));
  }

  function renderDetail(d) {
    $('detail-id').textContent = d.client_id;
    kv($('detail-info'), [
      ['Username', d.username || '(none)', 'username'],
      ['Listener', d.listener, 'listener'],
      ['Transport', d.transport, 'transport'],
      ['Protocol', d.protocol, 'protocol'],
      ['Remote address', d.remote_addr, 'remote_addr'],
      ['Connected at', new Date(d.connected_at).toLocaleString(), 'connected_at'],
      ['Keep alive', d.keep_alive + ' s', 'keep_alive'],
      ['Session expiry', d.session_expiry === 4294967295 ? 'never' : d.session_expiry + ' s', 'session_expiry'],
      ['Clean start', String(d.negotiated.clean_start), 'clean_start'],
      ['Session present', String(d.negotiated.session_present), 'session_present'],
    ]);
    const n = d.negotiated;
    const limits = LIMITS.map(([label, s, c, f]) => {
      const tr = row([label, f(n[s]), f(n[c])]);
      tr.dataset.limit = s.replace('server_', '');
      return tr;
    });
    limits.push(row(['Maximum QoS', String(n.maximum_qos), '']));
    limits.push(row(['Retain / wildcard / subscription ids / shared available', [n.retain_available, n.wildcard_subscription_available, n.subscription_identifiers_available, n.shared_subscription_available].join(' / '), '']));
    limits.push(row(['Outbound inflight window, topic aliases in use', '', num(n.outbound_inflight) + ', ' + num(n.outbound_topic_aliases)]));
    fillTable($('detail-limits'), limits);
    fillTable($('detail-subs'), (d.subscriptions || []).map((s) => {
      const tr = row([s.filter, String(s.qos), String(s.no_local), String(s.retain_as_published), String(s.retain_handling), s.identifier ? String(s.identifier) : '-']);
      tr.dataset.filter = s.filter;
      return tr;
    }), 'No subscription.');
    const t = d.tls;
    kv($('detail-queue'), [
      ['Inflight (unacknowledged QoS 1/2)', num(d.inflight), 'inflight'],
      ['Queued in the session', num(d.queued) + ' (' + bytes(d.queued_bytes) + ')', 'queued'],
      ['Outbound write queue', num(d.outbound_queue.items) + ' (' + bytes(d.outbound_queue.bytes) + ')', 'outbound_queue'],
      ['TLS', t ? [t.version, t.cipher_suite, t.server_name ? 'SNI ' + t.server_name : '', t.alpn ? 'ALPN ' + t.alpn : '', t.peer_subject ? 'client certificate ' + t.peer_subject : ''].filter(Boolean).join(', ') : 'none (plain connection)', 'tls'],
    ]);
  }

  async function openDetail(id, quiet) {
    detailID = id;
    try {
      const d = await api('GET', 'clients/' + segment(id));
      if (detailID !== id) return;
      renderDetail(d);
      $('client-detail').hidden = false;
      $('client-detail').dataset.clientId = id;
      delete $('client-detail').dataset.gone;
      $('kick').disabled = false;
      if (!quiet) $('client-detail').scrollIntoView({ block: 'nearest' });
    } catch (e) {
      if (e.status === 404 && detailID === id) {
        detailGone();
        return;
      }
      failed(e);
    }
  }

  // detailGone marks the open detail view as a client that left.
  function detailGone() {
    $('client-detail').dataset.gone = 'true';
    $('detail-id').textContent = detailID + ' (no longer connected)';
    $('kick').disabled = true;
  }

  // refreshDetail keeps the open detail view current: fetched again while
  // the client is listed, marked gone once it is not.
  async function refreshDetail() {
    if (detailID === null || $('client-detail').dataset.gone) return;
    if (clients.some((c) => c.client_id === detailID)) await openDetail(detailID, true);
    else detailGone();
  }

  function closeDetail() {
    detailID = null;
    $('client-detail').hidden = true;
    delete $('client-detail').dataset.clientId;
  }

  async function kick() {
    const id = detailID;
    if (id === null || !window.confirm('Disconnect client ' + id + '? A v5 client gets DISCONNECT 0x98 (Administrative action).')) return;
    $('kick').disabled = true;
    try {
      const res = await api('DELETE', 'clients/' + segment(id));
      status('kicked ' + res.client_id + (res.protocol === '5.0' ? ' with DISCONNECT ' + res.reason_code : ''));
      closeDetail();
      await loadClients();
    } catch (e) {
      $('kick').disabled = false;
      failed(e);
    }
  }

  // ---- session ----

  function status(text, isError) {
    $('status').textContent = text;
    $('status').className = isError ? 'error' : '';
  }

  function failed(e) {
    if (e instanceof Unauthorized) {
      logout('The token was refused (401): log in again.');
      return;
    }
    status(e.message, true);
  }

  async function refresh() {
    try {
      const ov = await api('GET', 'overview');
      renderOverview(ov);
      await loadClients();
      await refreshDetail();
      if ($('status').classList.contains('error')) status(''); // recovered
      return true;
    } catch (e) {
      failed(e);
      return false;
    } finally {
      if (token !== null) timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  async function login(e) {
    e.preventDefault();
    const t = $('token').value.trim();
    if (t === '') {
      $('login-error').textContent = 'Enter the admin token.';
      return;
    }
    $('login-button').disabled = true;
    token = t;
    try {
      const ov = await api('GET', 'overview');
      $('token').value = ''; // the input keeps no copy
      $('login').hidden = true;
      $('dashboard').hidden = false;
      $('server-line').hidden = false;
      $('login-error').textContent = '';
      initCharts();
      renderOverview(ov);
      await loadClients();
      timer = setTimeout(refresh, REFRESH_MS);
    } catch (err) {
      token = null;
      $('login-error').textContent = err instanceof Unauthorized ? 'Wrong token: the admin API refused it.' : 'Could not reach the admin API: ' + err.message;
    } finally {
      $('login-button').disabled = false;
    }
  }

  function logout(message) {
    token = null;
    clearTimeout(timer);
    prev = null;
    closeDetail();
    $('dashboard').hidden = true;
    $('server-line').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = typeof message === 'string' ? message : '';
    $('token').focus();
  }

  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', () => logout());
  $('client-search').addEventListener('input', () => {
    renderClients();
    if (clientsTruncated) loadClients().catch(failed);
  });
  $('kick').addEventListener('click', kick);
  $('detail-close').addEventListener('click', closeDetail);
  if (typeof uPlot === 'undefined') {
    $('login-error').textContent = 'uplot.min.js did not load.';
    $('login-button').disabled = true;
  }
})();
