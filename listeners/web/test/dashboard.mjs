// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// uses the operator dashboard of a running gateway's admin listener: a
// wrong token is refused; the right one logs in; the client the Go test
// connected appears with its listener and protocol, and the CONNECT it
// had refused with its reason code; the message rate
// chart rises while that client publishes; the search finds it; its
// detail view opens; the kick button disconnects it and it leaves the
// list. A screenshot is always taken, and the page must log no console
// error (except the 401 of the wrong token) and no page error. Driven by
// TestBrowserDashboard (../dashboard_e2e_test.go), which passes:
//
//   EDGEMQ_DASHBOARD_URL   http://127.0.0.1:PORT/dashboard/ (the admin listener)
//   EDGEMQ_ADMIN_TOKEN     the admin token
//   EDGEMQ_CLIENT_ID       the client to look for, EDGEMQ_LISTENER its
//                          listener, EDGEMQ_PROTOCOL its protocol (3.1.1),
//                          EDGEMQ_TOPIC the topic it subscribed to
//   CHROMIUM               the browser (default /usr/bin/chromium)
//   EDGEMQ_SCREENSHOT      the PNG to write
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
const dashURL = env('EDGEMQ_DASHBOARD_URL');
const token = env('EDGEMQ_ADMIN_TOKEN');
const clientID = env('EDGEMQ_CLIENT_ID');
const listener = env('EDGEMQ_LISTENER');
const protocol = env('EDGEMQ_PROTOCOL');
const topic = env('EDGEMQ_TOPIC');
const executablePath = env('CHROMIUM', '/usr/bin/chromium');
const screenshot = env('EDGEMQ_SCREENSHOT');
const STEP_TIMEOUT_MS = 15000;

const t0 = Date.now();
const step = (msg) => console.log(`${String(Date.now() - t0).padStart(6)}ms ${msg}`);

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
step(`launched ${executablePath} ${browser.version()}`);
let page;
const problems = [];
// allow401 is set while the wrong token is tried: Chromium logs the
// refused request as a console error, which is expected there only.
let allow401 = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    console.log(`  console error: ${text}`);
    if (allow401 && /401/.test(text)) return;
    problems.push(`console error: ${text}`);
  });
  // Every request stays on the admin listener's origin.
  const origin = new URL(dashURL).origin;
  page.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith(origin + '/') && !u.startsWith('data:')) problems.push(`external request: ${u}`);
  });
  page.on('dialog', (d) => d.accept());

  const res = await page.goto(dashURL);
  if (!res || res.status() !== 200) throw new Error(`GET ${dashURL}: status ${res && res.status()}`);
  step(`loaded ${dashURL}`);

  // A wrong token is refused and the dashboard stays hidden.
  allow401 = true;
  await page.fill('#token', token + '-wrong');
  await page.click('#login-button');
  await page.waitForFunction(() => /Wrong token/.test(document.querySelector('#login-error').textContent));
  if (await page.isVisible('#dashboard')) throw new Error('the dashboard is shown after a wrong token');
  allow401 = false;
  step('wrong token refused');

  await page.fill('#token', token);
  await page.click('#login-button');
  await page.waitForSelector('#dashboard', { state: 'visible' });
  if ((await page.inputValue('#token')) !== '') throw new Error('the token input still holds the token after login');
  const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
  if (stored[0] !== 0 || stored[1] !== 0 || stored[2] !== '') throw new Error(`the page stored something: ${JSON.stringify(stored)}`);
  step('logged in; nothing stored');

  // The test's client appears with its listener and protocol.
  const row = page.locator(`#clients tbody tr[data-client-id="${clientID}"]`);
  await row.waitFor();
  const cells = await row.locator('td').allTextContents();
  if (cells[2] !== listener || cells[4] !== protocol) throw new Error(`client row ${JSON.stringify(cells)}, want listener ${listener} and protocol ${protocol}`);
  await page.waitForSelector(`#connections tbody tr[data-listener="${listener}"]`);
  step(`client listed: ${JSON.stringify(cells.slice(0, 5))}`);

  // The CONNECT the Go test had refused (0x85) is listed with its name.
  const refusal = await page.locator('#refusals tbody tr[data-code="0x85"] td').allTextContents();
  if (refusal[1] !== 'Client Identifier not valid' || refusal[2] !== '1') throw new Error(`refusal row ${JSON.stringify(refusal)}, want 0x85 Client Identifier not valid, 1`);
  step(`refusal listed: ${JSON.stringify(refusal)}`);

  // The message rate chart moves while the client publishes: it has
  // several points and its newest "in" rate is above zero.
  await page.waitForFunction(() => {
    const el = document.querySelector('#chart-messages');
    return el.querySelector('canvas') && Number(el.dataset.points) >= 2 && parseFloat(el.dataset.last.split(',')[0]) > 0;
  });
  const last = await page.getAttribute('#chart-messages', 'data-last');
  const points = await page.getAttribute('#chart-messages', 'data-points');
  step(`message chart moves: ${points} points, newest in,out /s = ${last}`);

  // Search: another text hides the row, part of the id finds it again.
  await page.fill('#client-search', 'no-such-client-anywhere');
  await row.waitFor({ state: 'detached' });
  await page.fill('#client-search', clientID.slice(3, 12));
  await row.waitFor();
  step('search filters the list');

  // The detail view: protocol, negotiated limits, the subscription.
  await row.locator('button').click();
  await page.waitForSelector(`#client-detail[data-client-id="${clientID}"]`, { state: 'visible' });
  const proto = (await page.textContent('#detail-info tr[data-key="protocol"] td')).trim();
  if (proto !== protocol) throw new Error(`detail protocol ${proto}, want ${protocol}`);
  const rm = await page.locator('#detail-limits tr[data-limit="receive_maximum"] td').allTextContents();
  if (rm.length !== 3 || !/^\d/.test(rm[1])) throw new Error(`detail Receive Maximum row ${JSON.stringify(rm)}`);
  await page.waitForSelector(`#detail-subs tr[data-filter="${topic}"]`);
  step(`detail view: protocol ${proto}, Receive Maximum ${rm[1]} / ${rm[2]}, subscribed to ${topic}`);

  await page.screenshot({ path: screenshot, fullPage: true });
  step(`screenshot: ${screenshot}`);

  // Kick: the client leaves the list.
  await page.click('#kick');
  await row.waitFor({ state: 'detached' });
  await page.waitForFunction((id) => document.querySelector('#status').textContent.includes('kicked ' + id), clientID);
  if (await page.isVisible('#client-detail')) throw new Error('the detail view stays open after the kick');
  step('kicked; the client left the list');

  if (problems.length) throw new Error(problems.join('; '));
} catch (err) {
  console.log(`FAIL ${err.message}`);
  if (page) {
    try {
      console.log(`#status: ${await page.textContent('#status', { timeout: 1000 })}`);
      console.log(`#login-error: ${await page.textContent('#login-error', { timeout: 1000 })}`);
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`screenshot: ${screenshot}`);
    } catch (e) {
      console.log(`(could not read the page: ${e.message})`);
    }
  }
  await browser.close();
  process.exit(1);
}
await browser.close();
step('ok');
