// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// loads the diagnostic page from a running gateway's wss listener and
// uses it: a refused login, then connect with MQTT 5, check the CONNACK
// table, subscribe, publish, and see the message arrive; again with MQTT
// 3.1.1 and the token field; a wrong path explained; a link that opens
// the page connected with MQTT 3.1; a DISCONNECT from the server (session
// taken over by a second tab) shown with its reason code. Driven by
// TestBrowserPage (../e2e_test.go), which passes:
//
//   EDGEMQ_PAGE_URL         https://127.0.0.1:PORT/ (the wss listener)
//   EDGEMQ_SPKI             base64 SHA-256 of the gateway certificate's
//                           public key: Chromium trusts exactly that key
//                           (--ignore-certificate-errors-spki-list)
//   EDGEMQ_USERNAME, EDGEMQ_PASSWORD   a user the gateway accepts
//   EDGEMQ_RECEIVE_MAXIMUM  the Receive Maximum the CONNACK must state
//   CHROMIUM                the browser (default /usr/bin/chromium)
//   EDGEMQ_SCREENSHOT       optional: a PNG written when a step fails
//
// It prints each step and exits 0 on success, 1 on failure.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../build/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const env = (name, dflt) => {
  const v = process.env[name] || dflt;
  if (!v) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return v;
};
const pageURL = env('EDGEMQ_PAGE_URL');
const spki = env('EDGEMQ_SPKI');
const username = env('EDGEMQ_USERNAME');
const password = env('EDGEMQ_PASSWORD');
const receiveMaximum = env('EDGEMQ_RECEIVE_MAXIMUM');
const executablePath = env('CHROMIUM', '/usr/bin/chromium');
const screenshot = process.env.EDGEMQ_SCREENSHOT;
const STEP_TIMEOUT_MS = 15000;

const t0 = Date.now();
const step = (msg) => console.log(`${String(Date.now() - t0).padStart(6)}ms ${msg}`);

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--ignore-certificate-errors-spki-list=${spki}`,
  ],
});
step(`launched ${executablePath} ${browser.version()}`);
let page;
const problems = [];
try {
  const context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      const text = msg.text();
      console.log(`  console error: ${text}`);
      // Content-Security-Policy violations mean the page or the bundle
      // needs something the policy forbids.
      if (/Content Security Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
    }
  });

  const res = await page.goto(pageURL);
  if (!res || res.status() !== 200) throw new Error(`GET ${pageURL}: status ${res && res.status()}`);
  const expectedURL = pageURL.replace(/^https:/, 'wss:').replace(/\/$/, '') + '/mqtt';
  const url = await page.inputValue('#url');
  if (url !== expectedURL) throw new Error(`#url defaults to ${url}, want ${expectedURL}`);
  step(`loaded ${pageURL}; #url is ${url}`);

  // A wrong password is refused and shown (MQTT 5 is the default).
  if ((await page.inputValue('#protocol')) !== '5') throw new Error('MQTT 5 is not the default');
  await page.fill('#username', username);
  await page.fill('#password', password + '-wrong');
  await page.click('#connect');
  await page.waitForSelector('#status[data-state="refused"]');
  // The reason code and its name, in the status line and the CONNACK
  // table (a refused CONNACK is shown, not "Waiting for CONNACK").
  const statusLine = await page.textContent('#status-line');
  if (!/0x86 Bad User Name or Password/.test(statusLine)) throw new Error(`status line does not show 0x86 Bad User Name or Password: ${statusLine}`);
  const refusedCode = await page.textContent('#connack tr[data-prop="reasonCode"] td');
  if (!/^0x86 Bad User Name or Password/.test(refusedCode)) throw new Error(`CONNACK table reason code ${JSON.stringify(refusedCode)}, want 0x86 Bad User Name or Password`);
  const refused = await page.textContent('#log');
  if (!/0x86/i.test(refused)) throw new Error(`refusal not logged as 0x86; log: ${refused}`);
  step(`wrong password refused: ${statusLine.replace(/\s+/g, ' ').trim()}`);

  await page.fill('#password', password);
  await page.click('#connect');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'connected');
  step('connected');

  const rm = (await page.textContent('#connack tr[data-prop="receiveMaximum"] td')).trim();
  if (rm !== receiveMaximum) throw new Error(`#connack Receive Maximum ${JSON.stringify(rm)}, want ${receiveMaximum}`);
  const acid = (await page.textContent('#connack tr[data-prop="assignedClientIdentifier"] td')).trim();
  if (acid === '' || /not sent/.test(acid)) throw new Error(`no Assigned Client Identifier for an empty client id: ${acid}`);
  step(`CONNACK: Receive Maximum ${rm}, Assigned Client Identifier ${acid}`);

  const topic = 'edgemq/browser/test';
  const payload = `hello from chromium ${Date.now()}`;
  await page.fill('#topic', topic);
  await page.selectOption('#qos', '1');
  await page.click('#subscribe');
  await page.waitForSelector(`#subscriptions li[data-topic="${topic}"]`);
  step(`subscribed to ${topic}`);

  await page.fill('#payload', payload);
  await page.click('#publish');
  const row = page.locator('#messages tbody tr', { hasText: payload });
  await row.waitFor();
  const cells = await row.locator('td').allTextContents();
  if (cells[1] !== topic || cells[2] !== '1') throw new Error(`message row ${JSON.stringify(cells)}, want topic ${topic} at QoS 1`);
  step(`message arrived: ${JSON.stringify(cells.slice(1))}`);

  await page.click('#disconnect');
  await page.waitForSelector('#status[data-state="disconnected"]');
  step('disconnected');

  // MQTT 3.1.1, with the secret in the token field instead of the
  // password field.
  await page.selectOption('#protocol', '4');
  await page.fill('#password', '');
  await page.fill('#token', password);
  await page.click('#connect');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'connected');
  const proto = (await page.textContent('#connack tr[data-prop="protocol"] td')).trim();
  if (proto !== 'MQTT 3.1.1') throw new Error(`#connack protocol ${proto}, want MQTT 3.1.1`);
  step('connected with MQTT 3.1.1 and a token');
  await page.click('#subscribe');
  await page.waitForSelector(`#subscriptions li[data-topic="${topic}"]`);
  const payload3 = `hello over 3.1.1 ${Date.now()}`;
  await page.fill('#payload', payload3);
  await page.click('#publish');
  await page.locator('#messages tbody tr', { hasText: payload3 }).waitFor();
  step('3.1.1 message arrived');
  await page.click('#disconnect');
  await page.waitForSelector('#status[data-state="disconnected"]');

  // A wrong path: the close is explained, not just "connection closed".
  await page.selectOption('#protocol', '5');
  await page.fill('#url', expectedURL.replace(/\/mqtt$/, '/no-such-path'));
  await page.click('#connect');
  await page.waitForSelector('#status[data-state="closed"]');
  await page.waitForFunction(() => /wrong path/.test(document.querySelector('#status-detail').textContent));
  step(`wrong path explained: ${await page.textContent('#status-detail')}`);

  // A link opens the page connected, here with MQTT 3.1; the secret
  // travels after #.
  const secret = `#password=${encodeURIComponent(password)}`;
  const link = (q) => `${pageURL}?${new URLSearchParams({ username, connect: '1', ...q })}${secret}`;
  await page.goto(link({ protocol: '3.1', clientid: 'linked-31' }));
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'connected');
  const proto31 = (await page.textContent('#connack tr[data-prop="protocol"] td')).trim();
  if (proto31 !== 'MQTT 3.1') throw new Error(`#connack protocol ${proto31}, want MQTT 3.1`);
  if ((await page.inputValue('#clientid')) !== 'linked-31') throw new Error('the link did not set the client id');
  step('a link opened the page connected with MQTT 3.1');

  // A link naming another host fills the fields but does not connect.
  const foreign = 'wss://192.0.2.1:8084/mqtt';
  await page.goto(link({ protocol: '5', clientid: 'foreign', url: foreign }));
  await page.waitForFunction(() => /not connecting by itself to another host/.test(document.querySelector('#log').textContent));
  if ((await page.inputValue('#url')) !== foreign) throw new Error('the link did not set the URL');
  if ((await page.textContent('#status')) !== 'disconnected') throw new Error(`a link to another host connected: ${await page.textContent('#status')}`);
  step('a link to another host fills the fields and waits');

  // A server DISCONNECT is shown with its reason code: a second tab with
  // the same client id takes the session over [MQTT-3.1.4-3].
  const takeover = link({ protocol: '5', clientid: 'taken-over' });
  await page.goto(takeover);
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'connected');
  const second = await context.newPage();
  second.setDefaultTimeout(STEP_TIMEOUT_MS);
  await second.goto(takeover);
  await second.waitForFunction(() => document.querySelector('#status').textContent === 'connected');
  await page.waitForSelector('#status[data-state="closed"]');
  await page.waitForFunction(() => /DISCONNECT 0x8E Session taken over/.test(document.querySelector('#status-detail').textContent));
  step(`takeover shown: ${await page.textContent('#status-detail')}`);
  await second.close();
  if (problems.length) throw new Error(problems.join('; '));
} catch (err) {
  console.log(`FAIL ${err.message}`);
  if (page && page.url().startsWith(pageURL)) {
    try {
      console.log(`#status: ${await page.textContent('#status', { timeout: 1000 })}`);
      console.log(`#log:\n${await page.innerText('#log', { timeout: 1000 })}`);
      if (screenshot) {
        await page.screenshot({ path: screenshot, fullPage: true });
        console.log(`screenshot: ${screenshot}`);
      }
    } catch (e) {
      console.log(`(could not read the page: ${e.message})`);
    }
  }
  await browser.close();
  process.exit(1);
}
await browser.close();
step('ok');
