// edgemq diagnostic client. Plain DOM code around MQTT.js (the global
// `mqtt` from mqtt.min.js); no framework, nothing but this page's own
// files. Element ids are relied on by the gateway's browser tests.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const el = {
    connectForm: $('connect-form'), url: $('url'), protocol: $('protocol'),
    clientid: $('clientid'), username: $('username'), password: $('password'),
    token: $('token'), keepalive: $('keepalive'), clean: $('clean'),
    connect: $('connect'), disconnect: $('disconnect'), status: $('status'),
    connack: $('connack'), messageForm: $('message-form'), topic: $('topic'),
    qos: $('qos'), subscribe: $('subscribe'), unsubscribe: $('unsubscribe'),
    payload: $('payload'), retain: $('retain'), publish: $('publish'),
    subscriptions: $('subscriptions'), messages: $('messages'), clear: $('clear'),
    log: $('log'), statusDetail: $('status-detail'), shareLink: $('share-link'),
  };
  const MAX_ROWS = 500;
  let client = null;

  // The default URL is this page's own listener: the page is served by
  // the ws/wss listener next to its MQTT path.
  function defaultURL() {
    if (location.protocol !== 'http:' && location.protocol !== 'https:') {
      return 'ws://127.0.0.1:8083/mqtt';
    }
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/mqtt';
  }

  // setStatus shows state in the status line, with detail (a reason in
  // plain language) next to it, and logs it.
  function setStatus(state, detail) {
    el.status.dataset.state = state;
    el.status.textContent = state;
    el.statusDetail.textContent = detail ? '— ' + detail : '';
    if (detail) log(state + ': ' + detail, state !== 'connected' && state !== 'disconnected' && state !== 'connecting');
  }

  // Reason codes of MQTT 5.0 (table 2-6) that a server sends in CONNACK
  // and DISCONNECT.
  const REASONS_V5 = {
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
  // CONNACK return codes of MQTT 3.1 and 3.1.1 (3.1.1 table 3.1).
  const RETURN_CODES_V3 = {
    0: 'Connection Accepted', 1: 'unacceptable protocol version', 2: 'identifier rejected',
    3: 'Server unavailable', 4: 'bad user name or password', 5: 'not authorized',
  };

  function versionName(v) {
    return v === 5 ? 'MQTT 5.0' : v === 3 ? 'MQTT 3.1' : 'MQTT 3.1.1';
  }

  // codeText is a reason code in hex with its name, e.g. "0x86 Bad User
  // Name or Password".
  function codeText(code, version) {
    const names = version === 5 ? REASONS_V5 : RETURN_CODES_V3;
    const name = names[code];
    return reasonName(code) + (name ? ' ' + name : '');
  }

  function log(text, isError) {
    const li = document.createElement('li');
    if (isError) li.className = 'error';
    li.textContent = new Date().toLocaleTimeString() + ' ' + text;
    el.log.append(li);
    while (el.log.children.length > MAX_ROWS) el.log.firstElementChild.remove();
  }

  function setConnected(on) {
    el.connect.disabled = on;
    el.disconnect.disabled = !on;
    el.subscribe.disabled = !on;
    el.unsubscribe.disabled = !on;
    el.publish.disabled = !on;
  }

  // CONNACK properties in the order of MQTT 5 section 3.2.2.3, with the
  // value the client must assume when the server leaves one out.
  const CONNACK_PROPS = [
    ['sessionExpiryInterval', 'Session Expiry Interval', 'the requested value'],
    ['receiveMaximum', 'Receive Maximum', '65535'],
    ['maximumQoS', 'Maximum QoS', '2'],
    ['retainAvailable', 'Retain Available', 'true'],
    ['maximumPacketSize', 'Maximum Packet Size', 'no limit'],
    ['assignedClientIdentifier', 'Assigned Client Identifier', 'none'],
    ['topicAliasMaximum', 'Topic Alias Maximum', '0'],
    ['reasonString', 'Reason String', 'none'],
    ['userProperties', 'User Properties', 'none'],
    ['wildcardSubscriptionAvailable', 'Wildcard Subscription Available', 'true'],
    ['subscriptionIdentifiersAvailable', 'Subscription Identifiers Available', 'true'],
    ['sharedSubscriptionAvailable', 'Shared Subscription Available', 'true'],
    ['serverKeepAlive', 'Server Keep Alive', 'the requested keep alive'],
    ['responseInformation', 'Response Information', 'none'],
    ['serverReference', 'Server Reference', 'none'],
    ['authenticationMethod', 'Authentication Method', 'none'],
    ['authenticationData', 'Authentication Data', 'none'],
  ];

  function formatValue(v) {
    if (v === undefined || v === null) return '';
    if (typeof v === 'object' && typeof v.length === 'number' && typeof v !== 'string' && !Array.isArray(v)) {
      return decodePayload(v); // Buffer (authentication data)
    }
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function connackRow(tbody, key, label, value, absent) {
    const tr = document.createElement('tr');
    tr.dataset.prop = key;
    if (absent) tr.dataset.absent = 'true';
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = label;
    const td = document.createElement('td');
    td.textContent = value;
    tr.append(th, td);
    tbody.append(tr);
  }

  function showConnack(packet, version) {
    const tbody = document.createElement('tbody');
    connackRow(tbody, 'protocol', 'Protocol', versionName(version));
    connackRow(tbody, 'sessionPresent', 'Session Present', String(!!packet.sessionPresent));
    const code = Number((version === 5 ? packet.reasonCode : packet.returnCode) || 0);
    connackRow(tbody, 'reasonCode', version === 5 ? 'Reason Code' : 'Return Code', codeText(code, version));
    const assigned = packet.properties && packet.properties.assignedClientIdentifier;
    const inUse = assigned || (client && client.options.clientId) || '';
    connackRow(tbody, 'clientId', 'Client Identifier in use', inUse !== '' ? inUse + (assigned ? ' (assigned by the server)' : '') : '(empty)');
    if (version === 5) {
      const props = packet.properties || {};
      const known = new Set();
      for (const [key, label, dflt] of CONNACK_PROPS) {
        known.add(key);
        if (Object.prototype.hasOwnProperty.call(props, key)) {
          connackRow(tbody, key, label, formatValue(props[key]));
        } else {
          connackRow(tbody, key, label, 'not sent (default: ' + dflt + ')', true);
        }
      }
      for (const key of Object.keys(props)) {
        if (!known.has(key)) connackRow(tbody, key, key, formatValue(props[key]));
      }
    } else {
      connackRow(tbody, 'properties', 'Properties', 'none (' + versionName(version) + ' has no CONNACK properties)', true);
    }
    el.connack.tBodies[0].replaceWith(tbody);
  }

  // showRefusal fills the CONNACK table with a refusing CONNACK: the
  // reason code and name, and the properties that explain it.
  function showRefusal(packet, version) {
    const tbody = document.createElement('tbody');
    const code = Number(version === 5 ? packet.reasonCode : packet.returnCode);
    connackRow(tbody, 'protocol', 'Protocol', versionName(version));
    connackRow(tbody, 'reasonCode', version === 5 ? 'Reason Code' : 'Return Code', codeText(code, version) + ' (connection refused)');
    tbody.lastElementChild.dataset.refused = 'true';
    const props = packet.properties || {};
    for (const [key, label] of CONNACK_PROPS) {
      if (Object.prototype.hasOwnProperty.call(props, key)) connackRow(tbody, key, label, formatValue(props[key]));
    }
    el.connack.tBodies[0].replaceWith(tbody);
  }

  function decodePayload(buf) {
    const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (e) {
      return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ') + ' (hex)';
    }
  }

  function addMessage(topic, payload, packet) {
    const tr = document.createElement('tr');
    const cells = [
      new Date().toLocaleTimeString(),
      topic,
      String(packet.qos),
      packet.retain ? 'yes' : 'no',
      decodePayload(payload),
    ];
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 1) td.className = 'topic';
      if (i === 4) td.className = 'payload';
      tr.append(td);
    });
    if (packet.properties && Object.keys(packet.properties).length) {
      const small = document.createElement('small');
      small.textContent = ' properties: ' + JSON.stringify(packet.properties);
      tr.lastElementChild.append(document.createElement('br'), small);
    }
    const tbody = el.messages.tBodies[0];
    tbody.append(tr);
    while (tbody.rows.length > MAX_ROWS) tbody.rows[0].remove();
  }

  function reasonName(code) {
    return '0x' + Number(code).toString(16).toUpperCase().padStart(2, '0');
  }

  function resetConnack(text) {
    const tbody = document.createElement('tbody');
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = 2;
    td.textContent = text;
    tr.append(td);
    tbody.append(tr);
    el.connack.tBodies[0].replaceWith(tbody);
  }

  function connect() {
    const old = client;
    client = null; // events of the old connection are ignored from now on
    if (old) old.end(true);
    setConnected(false);
    const version = Number(el.protocol.value);
    // What this connection saw, for the reason of its close.
    const seen = { wsOpen: false, wsClose: null, connack: false, refused: false, disconnect: null };
    if (version === 3 && el.clientid.value === '') {
      // MQTT 3.1 has no server-assigned identifiers: a client identifier
      // of 1 to 23 characters is required.
      el.clientid.value = 'page-' + Math.random().toString(16).slice(2, 12);
      log('MQTT 3.1 needs a client identifier: using ' + el.clientid.value);
    }
    const opts = {
      protocolVersion: version,
      // MQTT 3.1 is protocol name MQIsdp, level 3 (and the WebSocket
      // subprotocol mqttv3.1, which MQTT.js picks from these).
      protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
      // The page's own WebSocket, to see whether the upgrade succeeded
      // and how the socket closed.
      createWebsocket: (u, protocols) => {
        const ws = new WebSocket(u, protocols);
        ws.addEventListener('open', () => { seen.wsOpen = true; });
        ws.addEventListener('close', (ev) => { seen.wsClose = { code: ev.code, reason: ev.reason }; });
        return ws;
      },
      clientId: el.clientid.value,
      clean: el.clean.checked,
      keepalive: Number(el.keepalive.value) || 0,
      reconnectPeriod: 0, // a diagnostic client shows failures instead of retrying
      connectTimeout: 10000,
    };
    if (el.username.value !== '') opts.username = el.username.value;
    const secret = el.token.value !== '' ? el.token.value : el.password.value;
    if (secret !== '') opts.password = secret;
    const url = el.url.value.trim();
    try {
      const u = new URL(url);
      if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error('the URL must start with ws:// or wss://');
    } catch (e) {
      setStatus('error', 'bad URL: ' + e.message);
      return;
    }
    el.subscriptions.replaceChildren();
    resetConnack('Waiting for CONNACK.');
    setStatus('connecting');
    log('connecting to ' + url + ' with ' + versionName(version));
    updateShareLink();
    let c;
    try {
      c = mqtt.connect(url, opts);
    } catch (e) {
      setStatus('error', e.message);
      return;
    }
    client = c;
    c.on('packetreceive', (packet) => {
      if (c !== client || packet.cmd !== 'connack') return;
      seen.connack = true;
      const code = Number((version === 5 ? packet.reasonCode : packet.returnCode) || 0);
      if (code !== 0) {
        seen.refused = true;
        showRefusal(packet, version);
        const why = packet.properties && packet.properties.reasonString ? ' (' + packet.properties.reasonString + ')' : '';
        setStatus('refused', 'the server refused the connection: CONNACK ' + codeText(code, version) + why);
      }
    });
    c.on('connect', (packet) => {
      if (c !== client) return;
      setConnected(true);
      showConnack(packet, version);
      setStatus('connected');
      log('connected (CONNACK ' + codeText(Number(version === 5 ? packet.reasonCode || 0 : packet.returnCode || 0), version) + ')');
    });
    c.on('message', (topic, payload, packet) => {
      if (c === client) addMessage(topic, payload, packet);
    });
    c.on('disconnect', (packet) => {
      if (c !== client) return;
      const p = packet.properties || {};
      seen.disconnect = codeText(Number(packet.reasonCode || 0), 5) + (p.reasonString ? ' (' + p.reasonString + ')' : '');
      log('server sent DISCONNECT ' + seen.disconnect, true);
    });
    c.on('error', (err) => {
      if (c !== client) return;
      const msg = err && err.message ? err.message : String(err);
      if (seen.refused) {
        log('error: ' + msg, true); // the refusal is in the status line already
        return;
      }
      const code = err && err.code !== undefined ? ' [' + (typeof err.code === 'number' ? reasonName(err.code) : err.code) + ']' : '';
      setStatus('error', msg + code);
    });
    c.on('close', () => {
      if (c !== client) return;
      setConnected(false);
      if (c.endedByUser) {
        setStatus('disconnected');
        log('disconnected');
        return;
      }
      log('connection closed' + (seen.wsClose ? ' (WebSocket close code ' + seen.wsClose.code + (seen.wsClose.reason ? ' ' + seen.wsClose.reason : '') + ')' : ''));
      if (seen.refused) return;
      client = null; // one close per connection: MQTT.js does not reconnect (reconnectPeriod 0)
      c.end(true);
      closeReason(url, seen).then((why) => {
        if (client === null) setStatus('closed', why);
      });
    });
  }

  // closeReason explains in plain language why a connection that was not
  // refused by a CONNACK closed.
  async function closeReason(url, seen) {
    if (seen.disconnect) return 'the server sent DISCONNECT ' + seen.disconnect;
    if (seen.wsOpen) {
      return seen.connack
        ? 'the server closed the connection without a DISCONNECT (MQTT 3.x clients are closed that way; a v5 client is told why)'
        : 'the server closed the connection after the WebSocket opened, before any CONNACK: it did not accept the CONNECT (malformed, or not sent in time)';
    }
    // The WebSocket upgrade failed. The browser does not say why; ask the
    // same URL over HTTP, when it is this page's own origin (the page's
    // Content Security Policy allows no other).
    const u = new URL(url);
    const probe = (u.protocol === 'wss:' ? 'https://' : 'http://') + u.host + u.pathname;
    const tlsHint = u.protocol === 'wss:' ? ' For wss://, the browser must trust the certificate: open https://' + u.host + '/ once and accept it, or install the CA.' : '';
    if (new URL(probe).origin !== location.origin) {
      return 'the WebSocket connection to ' + u.host + ' failed: wrong path, origin refused (websocket.check_origin), TLS error or nothing listening; open ' + probe.replace(/\/[^/]*$/, '/') + ' to see which.' + tlsHint;
    }
    let res;
    try {
      res = await fetch(probe, { cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      return 'TLS or network error: the browser could not reach ' + u.host + '.' + tlsHint;
    }
    if (res.status === 404) {
      return 'wrong path: nothing is served at ' + u.pathname + ' on ' + u.host + ' (the listener\'s websocket.path; /mqtt by default)';
    }
    if (res.status === 400 || res.status === 426) {
      return 'the WebSocket upgrade at ' + u.pathname + ' was refused although the path is right: most likely this page\'s origin (' + location.origin + ') is not allowed (websocket.check_origin, websocket.allowed_origins), or the listener is at its connection limit';
    }
    return 'the WebSocket upgrade failed; ' + u.pathname + ' answers HTTP ' + res.status;
  }

  function disconnect() {
    if (!client) return;
    client.endedByUser = true;
    client.end(false); // sends DISCONNECT; 'close' updates the status
  }

  function subscribe() {
    const filter = el.topic.value;
    const qos = Number(el.qos.value);
    if (!client || filter === '') return;
    client.subscribe(filter, { qos }, (err, granted) => {
      if (err) {
        log('subscribe ' + filter + ' failed: ' + err.message, true);
        return;
      }
      for (const g of granted || []) {
        const refused = g.qos >= 0x80;
        log('SUBACK ' + g.topic + ': ' + (refused ? 'refused ' + reasonName(g.qos) : 'granted QoS ' + g.qos), refused);
        if (!refused) {
          const li = document.createElement('li');
          li.dataset.topic = g.topic;
          li.textContent = g.topic + ' (QoS ' + g.qos + ')';
          for (const old of el.subscriptions.querySelectorAll('li')) {
            if (old.dataset.topic === g.topic) old.remove();
          }
          el.subscriptions.append(li);
        }
      }
    });
  }

  function unsubscribe() {
    const filter = el.topic.value;
    if (!client || filter === '') return;
    client.unsubscribe(filter, (err) => {
      if (err) {
        log('unsubscribe ' + filter + ' failed: ' + err.message, true);
        return;
      }
      log('unsubscribed ' + filter);
      for (const li of el.subscriptions.querySelectorAll('li')) {
        if (li.dataset.topic === filter) li.remove();
      }
    });
  }

  function publish() {
    const topic = el.topic.value;
    if (!client || topic === '') return;
    const qos = Number(el.qos.value);
    client.publish(topic, el.payload.value, { qos, retain: el.retain.checked }, (err, packet) => {
      if (err) {
        log('publish to ' + topic + ' failed: ' + err.message + (err.code !== undefined ? ' [' + reasonName(err.code) + ']' : ''), true);
        return;
      }
      log('published to ' + topic + ' at QoS ' + qos + (qos > 0 && packet && packet.reasonCode ? ' (reason ' + reasonName(packet.reasonCode) + ')' : ''));
    });
  }

  // Fields a link may set: ?name=value in the query, or after # where a
  // secret stays in the browser (never sent to a server, not in its logs).
  const LINK_FIELDS = ['url', 'protocol', 'clientid', 'username', 'keepalive', 'clean', 'topic', 'qos', 'payload'];
  const SECRET_FIELDS = ['password', 'token'];

  // applyLink fills the form from the page's URL and reports whether the
  // link asks to connect (connect=1).
  function applyLink() {
    const query = new URLSearchParams(location.search);
    const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
    const get = (name, secret) => (hash.has(name) ? hash.get(name) : secret ? null : query.get(name));
    for (const name of LINK_FIELDS) {
      const v = get(name, false);
      if (v === null) continue;
      if (name === 'clean') el.clean.checked = v !== '0' && v !== 'false';
      else if (name === 'protocol') {
        const p = { '5': '5', '5.0': '5', '4': '4', '3.1.1': '4', '3': '3', '3.1': '3' }[v];
        if (p) el.protocol.value = p;
        else log('link: protocol ' + v + ' is not 5, 3.1.1 or 3.1', true);
      } else el[name].value = v;
    }
    for (const name of SECRET_FIELDS) {
      const v = get(name, true);
      if (v !== null) el[name].value = v;
      if (query.has(name)) log('link: ' + name + ' in the query string is ignored; put it after # so that it is not sent to the server', true);
    }
    const c = get('connect', false);
    if (c !== '1' && c !== 'true') return false;
    // A link connects by itself only to this page's own listener: one
    // naming another host could send a password the browser filled in
    // to a server the user did not choose.
    let host = '';
    try {
      host = new URL(el.url.value).host;
    } catch (e) { /* connect() reports a bad URL */ }
    if (host !== location.host) {
      log('link: not connecting by itself to another host (' + host + '): check the URL and press Connect', true);
      return false;
    }
    return true;
  }

  // updateShareLink points the "link to these settings" at this page
  // with the current fields, secrets left out.
  function updateShareLink() {
    const q = new URLSearchParams();
    if (el.url.value !== defaultURL()) q.set('url', el.url.value);
    q.set('protocol', el.protocol.value);
    if (el.clientid.value) q.set('clientid', el.clientid.value);
    if (el.username.value) q.set('username', el.username.value);
    if (el.keepalive.value !== '30') q.set('keepalive', el.keepalive.value);
    if (!el.clean.checked) q.set('clean', '0');
    q.set('topic', el.topic.value);
    q.set('connect', '1');
    el.shareLink.href = location.pathname + '?' + q.toString();
  }

  el.url.value = defaultURL();
  const connectNow = applyLink();
  updateShareLink();
  el.connectForm.addEventListener('change', updateShareLink);
  el.messageForm.addEventListener('change', updateShareLink);
  el.connectForm.addEventListener('submit', (e) => { e.preventDefault(); connect(); });
  el.disconnect.addEventListener('click', disconnect);
  el.subscribe.addEventListener('click', subscribe);
  el.unsubscribe.addEventListener('click', unsubscribe);
  el.messageForm.addEventListener('submit', (e) => { e.preventDefault(); publish(); });
  el.clear.addEventListener('click', () => el.messages.tBodies[0].replaceChildren());
  if (typeof mqtt === 'undefined') {
    setStatus('error', 'mqtt.min.js did not load');
    el.connect.disabled = true;
  } else if (connectNow) {
    connect();
  }
})();
