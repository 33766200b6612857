// MQTT.js in Node against a running edgemq gateway, over ws and wss, with
// MQTT 5 and 3.1.1: for each combination a subscriber and a publisher
// exchange one QoS 1 message. Driven by TestNodeMQTTJS (../e2e_test.go),
// which starts the gateway and passes:
//
//   EDGEMQ_WS_URL    ws://127.0.0.1:PORT/mqtt
//   EDGEMQ_WSS_URL   wss://127.0.0.1:PORT/mqtt
//   EDGEMQ_CA        the gateway's self-signed certificate (PEM), trusted
//                    through the `ca` option: nothing is left unverified
//   EDGEMQ_RECEIVE_MAXIMUM  the Receive Maximum the v5 CONNACK must state
//   EDGEMQ_USERNAME, EDGEMQ_PASSWORD   a user the gateway accepts
//
// It prints one line per case and exits 0 when every case passed, 1
// otherwise. MQTT.js comes from ../build/node_modules (npm ci there).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(new URL('../build/package.json', import.meta.url));
const mqtt = require('mqtt');

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v;
};
const wsURL = env('EDGEMQ_WS_URL');
const wssURL = env('EDGEMQ_WSS_URL');
const ca = readFileSync(env('EDGEMQ_CA'));
const receiveMaximum = Number(env('EDGEMQ_RECEIVE_MAXIMUM'));
const auth = { username: env('EDGEMQ_USERNAME'), password: env('EDGEMQ_PASSWORD') };
const CASE_TIMEOUT_MS = 15000;

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${CASE_TIMEOUT_MS}ms: ${what}`)), CASE_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

// connect resolves with [client, connack] once CONNACK arrived, rejects on
// the first error or close before it.
function connect(url, opts) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10000, ...opts });
    const fail = (err) => {
      c.end(true);
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    c.once('connect', (connack) => {
      c.off('error', fail);
      c.off('close', onClose);
      resolve([c, connack]);
    });
    const onClose = () => fail(new Error('closed before CONNACK'));
    c.once('error', fail);
    c.once('close', onClose);
  });
}

async function roundTrip(transport, url, version) {
  const name = `${transport}-v${version === 5 ? '5' : '3.1.1'}`;
  const tlsOpts = { ...auth, ...(transport === 'wss' ? { ca, rejectUnauthorized: true } : {}) };
  const topic = `edgemq/node/${name}`;
  const payload = `hello ${name} ${Date.now()}`;
  const clients = [];
  try {
    const [sub, connack] = await connect(url, { ...tlsOpts, protocolVersion: version, clientId: `node-sub-${name}`, clean: true });
    clients.push(sub);
    if (version === 5) {
      const p = connack.properties || {};
      if (p.receiveMaximum !== receiveMaximum) {
        throw new Error(`CONNACK Receive Maximum ${p.receiveMaximum}, want ${receiveMaximum} (properties ${JSON.stringify(p)})`);
      }
    } else if (connack.returnCode !== 0) {
      throw new Error(`CONNACK return code ${connack.returnCode}`);
    }
    const received = new Promise((resolve) => {
      sub.on('message', (t, buf, packet) => {
        if (t === topic) resolve({ payload: buf.toString(), qos: packet.qos });
      });
    });
    const granted = await sub.subscribeAsync(topic, { qos: 1 });
    if (granted.length !== 1 || granted[0].qos !== 1) {
      throw new Error(`SUBACK ${JSON.stringify(granted)}, want QoS 1 granted`);
    }
    const [pub] = await connect(url, { ...tlsOpts, protocolVersion: version, clientId: `node-pub-${name}`, clean: true });
    clients.push(pub);
    const ack = await pub.publishAsync(topic, payload, { qos: 1 });
    if (version === 5 && ack && ack.reasonCode) {
      throw new Error(`PUBACK reason code 0x${ack.reasonCode.toString(16)}`);
    }
    const msg = await received;
    if (msg.payload !== payload || msg.qos !== 1) {
      throw new Error(`received ${JSON.stringify(msg)}, want payload ${JSON.stringify(payload)} at QoS 1`);
    }
    await Promise.all(clients.map((c) => c.endAsync()));
    return name;
  } catch (err) {
    for (const c of clients) c.end(true);
    err.message = `${name}: ${err.message}`;
    throw err;
  }
}

let failed = 0;
for (const [transport, url] of [['ws', wsURL], ['wss', wssURL]]) {
  for (const version of [5, 4]) {
    const t0 = Date.now();
    try {
      const name = await withTimeout(roundTrip(transport, url, version), `${transport} v${version}`);
      console.log(`ok   ${name} (${Date.now() - t0}ms)`);
    } catch (err) {
      failed++;
      console.log(`FAIL ${err.message}`);
    }
  }
}
process.exit(failed ? 1 : 0);
