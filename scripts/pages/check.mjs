// What a person sees, checked in headless Chromium: the e-ticket on a
// 390x844 phone screen in English and in French (the passenger's language,
// and each page's link to the other), then cancelled, and a forged link; and
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

  // What the open page shows a person: layout, words and the language link.
  const inspect = () => page.evaluate(() => {
    const texts = [...document.querySelectorAll('body *')].filter((e) => e.childElementCount === 0 && e.textContent.trim());
    const svg = document.querySelector('svg');
    const box = svg?.getBoundingClientRect();
    const link = document.querySelector('a[hreflang]');
    const linkBox = link?.getBoundingClientRect();
    return {
      lang: document.documentElement.lang,
      scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth,
      minFont: Math.min(...texts.map((e) => parseFloat(getComputedStyle(e).fontSize))),
      text: document.body.innerText, qr: box ? { w: box.width, h: box.height, right: box.right } : null,
      link: link && { text: link.innerText, hreflang: link.hreflang, visible: linkBox.width > 0 && linkBox.height > 0 && linkBox.right <= window.innerWidth },
    };
  });
  const words = {
    en: { date: /\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b/,
      price: /\b\d{1,3}(,\d{3})* XAF\b/, standing: 'Confirmed', link: 'Français', other: 'fr' },
    fr: { date: /\b(lun|mar|mer|jeu|ven|sam|dim)\. \d{1,2} \S+ \d{4}\b/,
      price: /\b\d{1,3}(\u202F\d{3})*\u202FXAF\b/, standing: 'Confirmé', link: 'English', other: 'en' },
  };
  // The ticket as `lang` reads it, opened at `href`.
  async function ticketIn(lang, href, how) {
    const want = words[lang];
    const ticket = await page.goto(href);
    check(ticket.status() === 200, `[${lang}] the ticket opens ${how} (200)`);
    const layout = await inspect();
    check(layout.lang === lang, `[${lang}] the page says it is in ${lang} (<html lang="${layout.lang}">)`);
    check(layout.scrollWidth <= 390 && layout.scrollWidth <= layout.width, `[${lang}] no sideways scrolling on a phone (${layout.scrollWidth} <= ${layout.width})`);
    check(layout.minFont >= 13, `[${lang}] every text is readable (smallest ${layout.minFont}px >= 13px)`);
    for (const shown of ['Amina N.', trip.origin, trip.destination, 'WAT']) {
      check(plain(layout.text).includes(plain(shown)), `[${lang}] the ticket shows ${shown}`);
    }
    check(layout.text.includes(want.standing), `[${lang}] the ticket says ${want.standing}`);
    check(want.date.test(layout.text), `[${lang}] the date is written the ${lang} way (${layout.text.match(want.date)?.[0]})`);
    const price = layout.text.match(want.price)?.[0];
    check(price !== undefined, `[${lang}] the price is written the ${lang} way (${JSON.stringify(price)})`);
    const wrong = words[want.other];
    check(!wrong.price.test(layout.text) && !layout.text.includes(wrong.standing), `[${lang}] nothing is in the other language`);
    // Whoever holds the link sees a first name and an initial, never more.
    check(!layout.text.includes('Ndongo') && !layout.text.includes('@'), `[${lang}] the ticket shows no surname or e-mail`);
    check(/\b2\b/.test(layout.text), `[${lang}] the ticket shows the seats`);
    check(layout.qr && layout.qr.w >= 150 && layout.qr.right <= 390, `[${lang}] a scannable QR code fits the screen (${JSON.stringify(layout.qr)})`);
    check(layout.link?.text === want.link && layout.link.visible, `[${lang}] a visible link to the ${want.other} ticket (${JSON.stringify(layout.link)})`);
    check(scripts.length === 0, `[${lang}] nothing is loaded from elsewhere (${scripts.join(', ')})`);
    await page.screenshot({ path: `${out}/ticket-${lang}.png`, fullPage: true });
    // The link opens the same ticket in the other language.
    const [switched] = await Promise.all([page.waitForNavigation(), page.click('a[hreflang]')]);
    const there = await inspect();
    const target = new URL(page.url());
    check(switched.status() === 200 && target.pathname === new URL(url).pathname && target.searchParams.get('lang') === want.other
      && there.lang === want.other && wrong.date.test(there.text) && wrong.price.test(there.text),
      `[${lang}] its link opens the same ticket in ${want.other} (${target.pathname.slice(0, 20)}…${target.search})`);
  }

  await ticketIn('en', url, 'in English for a passenger who reads English');
  await api('PUT', '/api/users/profile', { language: 'fr' });
  await ticketIn('fr', url, 'in French once the passenger reads French');

  await api('POST', `/api/bookings/${booking.booking_id}/cancel`);
  await page.goto(url);
  const annule = await page.evaluate(() => document.body.innerText);
  check(/Annulé/.test(annule) && /non valable/i.test(annule), 'a cancelled ticket says so plainly in French');
  await page.goto(`${url}?lang=en`);
  const cancelled = await page.evaluate(() => document.body.innerText);
  check(/Cancelled/.test(cancelled) && /not valid/i.test(cancelled), 'and in English');
  await page.screenshot({ path: `${out}/ticket-cancelled.png`, fullPage: true });

  const forged = await page.goto(url.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
  check(forged.status() === 404, 'an altered link is 404');
  check(/not found/i.test(await page.evaluate(() => document.body.innerText)), 'and says the ticket was not found');
  const introuvable = await page.goto(`${url.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}?lang=fr`);
  check(introuvable.status() === 404 && /Billet introuvable/.test(await page.evaluate(() => document.body.innerText)),
    'and in French when the link asks for French');

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
