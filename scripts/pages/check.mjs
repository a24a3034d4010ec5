// What a person sees, checked in headless Chromium: the e-ticket on a
// 390x844 phone screen (confirmed, then cancelled, and a forged link), and
// the Swagger UI and ReDoc pages. Usage: node check.mjs BASE_URL OUT_DIR
// Prints "N passed, N failed" and exits non-zero on any failure.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';

// playwright-core lives in the scripts' own tool folder (PAGES_TOOLS).
const { chromium } = createRequire(`${process.env.PAGES_TOOLS}/`)('playwright-core');

const [base, out = 'target/pages'] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) { passed++; console.log(`ok   ${what}`); } else { failed++; console.log(`FAIL ${what}`); }
}

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const token = `${b64({ alg: 'none' })}.${b64({
  iss: 'https://securetoken.google.com/demo-ai-imutis', aud: 'demo-ai-imutis',
  sub: 'page-checker', iat: now, auth_time: now, exp: now + 3600, email: 'amina@example.test',
})}.`;
async function api(method, path, body) {
  const res = await fetch(base + path, {
    method, body: body && JSON.stringify(body),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-device-id': 'pages' },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

await api('PUT', '/api/users/profile', { displayName: 'Amina Ndongo' });
const departures = await api('GET', '/api/travels');
// Any departure with two free seats: which ones are left depends on the hour.
const trip = departures.find((d) => d.available_seats >= 2);
if (!trip) throw new Error('no departure with two free seats');
const plain = (s) => s.normalize('NFD').replace(/\p{M}/gu, '');
const booking = await api('POST', '/api/travels/book', { route_id: trip.id, passengers: 2, payment_method: 'momo' });
const { url } = await api('GET', `/api/bookings/${booking.booking_id}/ticket`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await phone.newPage();
  const scripts = [];
  page.on('request', (r) => { if (!r.url().startsWith(base)) scripts.push(r.url()); });

  const ticket = await page.goto(url);
  check(ticket.status() === 200, 'the ticket link opens (200)');
  const layout = await page.evaluate(() => {
    const texts = [...document.querySelectorAll('body *')].filter((e) => e.childElementCount === 0 && e.textContent.trim());
    const svg = document.querySelector('svg');
    const box = svg?.getBoundingClientRect();
    return {
      scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth,
      minFont: Math.min(...texts.map((e) => parseFloat(getComputedStyle(e).fontSize))),
      text: document.body.innerText, qr: box ? { w: box.width, h: box.height, right: box.right } : null,
    };
  });
  check(layout.scrollWidth <= layout.width, `no sideways scrolling on a phone (${layout.scrollWidth} <= ${layout.width})`);
  check(layout.minFont >= 12, `every text is readable (smallest ${layout.minFont}px)`);
  for (const want of ['Amina N.', trip.origin, trip.destination, 'WAT', 'XAF', 'Confirmed']) {
    check(plain(layout.text).includes(plain(want)), `the ticket shows ${want}`);
  }
  // Whoever holds the link sees a first name and an initial, never more.
  check(!layout.text.includes('Ndongo') && !layout.text.includes('@'), 'the ticket shows no surname or e-mail');
  check(/\b2\b/.test(layout.text), 'the ticket shows the seats');
  check(layout.qr && layout.qr.w >= 150 && layout.qr.right <= 390, `a scannable QR code fits the screen (${JSON.stringify(layout.qr)})`);
  check(scripts.length === 0, `nothing is loaded from elsewhere (${scripts.join(', ')})`);
  await page.screenshot({ path: `${out}/ticket.png`, fullPage: true });

  await api('POST', `/api/bookings/${booking.booking_id}/cancel`);
  await page.reload();
  const cancelled = await page.evaluate(() => document.body.innerText);
  check(/Cancelled/.test(cancelled) && /not valid/i.test(cancelled), 'a cancelled ticket says so plainly');
  await page.screenshot({ path: `${out}/ticket-cancelled.png`, fullPage: true });

  const forged = await page.goto(url.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
  check(forged.status() === 404, 'an altered link is 404');
  check(/not found/i.test(await page.evaluate(() => document.body.innerText)), 'and says the ticket was not found');

  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const docs = await desk.newPage();
  await docs.goto(`${base}/docs`);
  await docs.waitForSelector('.opblock', { timeout: 20000 }).catch(() => {});
  const operations = await docs.locator('.opblock').count();
  check(operations >= 50, `Swagger UI lists the operations (${operations})`);
  await docs.screenshot({ path: `${out}/docs.png` });
  await docs.goto(`${base}/redoc`);
  await docs.waitForSelector('h1', { timeout: 20000 }).catch(() => {});
  const title = await docs.evaluate(() => document.body.innerText);
  check(title.includes('AI-IMUTIS API'), 'ReDoc renders the API title');
  await docs.screenshot({ path: `${out}/redoc.png` });
} finally {
  await browser.close();
}
console.log(`pages: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
