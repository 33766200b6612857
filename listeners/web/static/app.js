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
    log: $('log'),
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

  function setStatus(state, detail) {
    el.status.dataset.state = state;
    el.status.textContent = state;
    if (detail) log(state + ': ' + detail, state === 'error');
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
    connackRow(tbody, 'protocol', 'Protocol', version === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1');
    connackRow(tbody, 'sessionPresent', 'Session Present', String(!!packet.sessionPresent));
    const code = version === 5 ? packet.reasonCode : packet.returnCode;
    connackRow(tbody, 'reasonCode', version === 5 ? 'Reason Code' : 'Return Code', '0x' + Number(code || 0).toString(16).padStart(2, '0'));
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
      connackRow(tbody, 'properties', 'Properties', 'none (MQTT 3.1.1 has no CONNACK properties)', true);
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
    return '0x' + Number(code).toString(16).padStart(2, '0');
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
    const opts = {
      protocolVersion: version,
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
    log('connecting to ' + url + ' with MQTT ' + (version === 5 ? '5.0' : '3.1.1'));
    let c;
    try {
      c = mqtt.connect(url, opts);
    } catch (e) {
      setStatus('error', e.message);
      return;
    }
    client = c;
    c.on('connect', (packet) => {
      if (c !== client) return;
      setConnected(true);
      showConnack(packet, version);
      setStatus('connected');
      log('connected (CONNACK ' + reasonName(version === 5 ? packet.reasonCode || 0 : packet.returnCode || 0) + ')');
    });
    c.on('message', (topic, payload, packet) => {
      if (c === client) addMessage(topic, payload, packet);
    });
    c.on('disconnect', (packet) => {
      if (c !== client) return;
      const p = packet.properties || {};
      log('server sent DISCONNECT ' + reasonName(packet.reasonCode || 0) + (p.reasonString ? ' (' + p.reasonString + ')' : ''), true);
    });
    c.on('error', (err) => {
      if (c !== client) return;
      const code = err && err.code !== undefined ? ' [' + (typeof err.code === 'number' ? reasonName(err.code) : err.code) + ']' : '';
      setStatus('error', (err && err.message ? err.message : String(err)) + code);
    });
    c.on('close', () => {
      if (c !== client) return;
      setConnected(false);
      if (c.endedByUser) {
        setStatus('disconnected');
        log('disconnected');
      } else {
        if (el.status.dataset.state !== 'error') setStatus('closed');
        log('connection closed');
      }
    });
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

  el.url.value = defaultURL();
  el.connectForm.addEventListener('submit', (e) => { e.preventDefault(); connect(); });
  el.disconnect.addEventListener('click', disconnect);
  el.subscribe.addEventListener('click', subscribe);
  el.unsubscribe.addEventListener('click', unsubscribe);
  el.messageForm.addEventListener('submit', (e) => { e.preventDefault(); publish(); });
  el.clear.addEventListener('click', () => el.messages.tBodies[0].replaceChildren());
  if (typeof mqtt === 'undefined') {
    setStatus('error', 'mqtt.min.js did not load');
    el.connect.disabled = true;
  }
})();
