// A buyer pays a --sandbox checkout in a real browser (Debian's chromium): the storefront's
// notification endpoint (a small Node server) verifies the Standard Webhooks signature, and a
// checkout whose success and failure URLs are the simulator's own result page ends there. At
// 390 px (a phone) no page scrolls sideways. Screenshots of each page at 1280 and 390 px go to
// tests/browser/screenshots/.
// Environment (set by run.sh): PAGOS_URL, SANDBOX_URL, PAGOS_SIGNING_SECRET, optional CHROMIUM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const PAGOS = process.env.PAGOS_URL ?? 'http://127.0.0.1:8080';
const SANDBOX = process.env.SANDBOX_URL ?? 'http://127.0.0.1:8090';
const SECRET = process.env.PAGOS_SIGNING_SECRET;
const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const received = [];
let receiver, receiverUrl, context, profile;

/** Standard Webhooks: v1,<base64 HMAC-SHA256 of "id.timestamp.body"> with the decoded whsec_ key. */
function verifySignature(headers, body) {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = (headers['webhook-signature'] ?? '').split(' ');
  if (!id || !timestamp || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(SECRET.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.some((s) => {
    const [version, value] = s.split(',');
    const given = Buffer.from(value ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

async function waitFor(predicate, what, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = received.find(predicate);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no ${what}; received ${JSON.stringify(received.map((r) => r.body.type))}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A $1,000.00 checkout through pagos; `returnTo` is where the buyer lands after paying. */
async function createCheckout(referenceId, returnTo) {
  const response = await fetch(`${PAGOS}/pagos`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      provider: 'conekta', action: 'create', reference_id: referenceId,
      secret: 'key_xxjg4bsD9nohnMjwaTGytA', first_name: 'andres', last_name: 'jaro',
      amount: 1000, email: 'andres.jaromezuk@gmail.com', return_url: receiverUrl,
      notification_url: `${receiverUrl}/notify`, description: 'Pedido 6588: 2 tazas de cerámica',
      ...returnTo,
    }),
  });
  const order = await response.json();
  assert.equal(response.status, 200, JSON.stringify(order));
  assert.equal(order.livemode, false);
  return order;
}

const toStorefront = () => ({ success_url: `${receiverUrl}/gracias`, failure_url: `${receiverUrl}/fallo` });
const toResultPage = () => ({ success_url: `${SANDBOX}/resultado`, failure_url: `${SANDBOX}/resultado` });

async function openCheckout(url, viewport = DESKTOP) {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  await page.goto(url);
  await page.getByText('Total a pagar: $1,000.00 MXN').waitFor();
  return page;
}

async function payWithCard(page, number) {
  await page.fill('#card-name', 'Ana Prueba');
  await page.fill('#card-number', number);
  await page.fill('#card-expiry', '12/40');
  await page.fill('#card-cvc', '123');
  await page.click('#pay-card');
}

/** The page scrolls sideways if its content is wider than the window. */
async function assertNoSidewaysScroll(page, what) {
  const { scrollWidth, width } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth,
  }));
  assert.ok(scrollWidth <= width, `${what}: ${scrollWidth} px wide in a ${width} px window`);
}

async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const { width } = page.viewportSize();
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
}

before(async () => {
  assert.ok(SECRET, 'PAGOS_SIGNING_SECRET must be set');
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/notify') {
        const verified = verifySignature(req.headers, body);
        received.push({ verified, body: JSON.parse(body) });
        res.writeHead(verified ? 204 : 401).end();
      } else {
        const ok = req.url.startsWith('/gracias');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          .end(`<h1 id="result">${ok ? 'pago exitoso' : 'pago fallido'}</h1>`);
      }
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}`;
  profile = mkdtempSync(join(tmpdir(), 'pagos-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--hide-scrollbars'],
  });
});

after(async () => {
  await context?.close();
  receiver?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('the success card pays and the signed order.paid reaches the storefront', async () => {
  const order = await createCheckout(`browser-ok-${Date.now()}`, toStorefront());
  const page = await openCheckout(order.checkout.url);
  await payWithCard(page, '4242 4242 4242 4242');
  await page.waitForURL(/\/gracias\?/);
  assert.match(page.url(), /payment_status=paid/);
  assert.equal(await page.textContent('#result'), 'pago exitoso');
  const paid = await waitFor((r) => r.body.type === 'order.paid' && r.body.order_id === order.id, 'order.paid');
  assert.equal(paid.verified, true);
  assert.equal(paid.body.payment_status, 'paid');
  assert.equal(paid.body.amount, '1000.00');
  assert.equal(paid.body.data.livemode, false);
  await page.close();
});

test('the decline card ends on the failure page with a signed order.declined', async () => {
  const order = await createCheckout(`browser-ko-${Date.now()}`, toStorefront());
  const page = await openCheckout(order.checkout.url);
  await payWithCard(page, '4000 0000 0000 0002');
  await page.waitForURL(/\/fallo\?/);
  assert.match(page.url(), /payment_status=declined/);
  assert.equal(await page.textContent('#result'), 'pago fallido');
  const declined = await waitFor((r) => r.body.type === 'order.declined' && r.body.order_id === order.id, 'order.declined');
  assert.equal(declined.verified, true);
  assert.equal(declined.body.payment_status, 'declined');
  await page.close();
});

for (const viewport of [DESKTOP, PHONE]) {
  test(`at ${viewport.width} px: checkout in the shop's name, each tab, then "Pago recibido"`, async () => {
    const order = await createCheckout(`browser-result-${viewport.width}-${Date.now()}`, toResultPage());
    const page = await openCheckout(order.checkout.url, viewport);
    assert.equal(await page.textContent('#shop-name'), 'Tienda de prueba');
    assert.equal(await page.textContent('#pay-card'), 'Pagar $1,000.00 MXN');
    for (const [tab, shown] of [['bank_transfer', '#pay-transfer'], ['cash', '#pay-cash'], ['card', '#pay-card']]) {
      await page.click(`label[for=tab-${tab}]`);
      await page.locator(shown).waitFor({ state: 'visible' });
      await assertNoSidewaysScroll(page, `checkout, ${tab} tab`);
      await screenshot(page, `checkout-${tab}`);
    }
    await screenshot(page, 'checkout');
    await payWithCard(page, '4242 4242 4242 4242');
    await page.waitForURL(/\/resultado\?/);
    assert.equal(await page.textContent('#verdict'), 'Pago recibido');
    assert.equal(await page.textContent('#order-id'), order.id);
    assert.equal(await page.textContent('#amount'), '$1,000.00 MXN');
    await assertNoSidewaysScroll(page, 'result page');
    await screenshot(page, 'result');
    await page.close();
  });
}

test('the decline card lands on "Pago rechazado" with a way to try again', async () => {
  const order = await createCheckout(`browser-rejected-${Date.now()}`, toResultPage());
  const page = await openCheckout(order.checkout.url, PHONE);
  await payWithCard(page, '4000 0000 0000 0002');
  await page.waitForURL(/\/resultado\?/);
  assert.equal(await page.textContent('#verdict'), 'Pago rechazado');
  await assertNoSidewaysScroll(page, 'declined result page');
  await screenshot(page, 'result-declined');
  await page.click('#retry');
  await page.getByText('El último intento de pago fue declinado').waitFor();
  await page.close();
});

for (const viewport of [DESKTOP, PHONE]) {
  test(`at ${viewport.width} px: the cashier keeps what was typed, and the inbox fits`, async () => {
    const page = await context.newPage();
    await page.setViewportSize(viewport);
    await page.goto(`${SANDBOX}/cajero`);
    await page.fill('#reference', '93001234567890');
    await page.fill('#amount', '150.00');
    await page.click('#pay');
    await page.locator('#result').waitFor();
    assert.equal(await page.inputValue('#reference'), '93001234567890');
    assert.equal(await page.inputValue('#amount'), '150.00');
    await assertNoSidewaysScroll(page, 'cashier');
    await screenshot(page, 'cashier');
    await page.goto(`${SANDBOX}/inbox`);
    await assertNoSidewaysScroll(page, 'inbox');
    await screenshot(page, 'inbox');
    await page.close();
  });
}
