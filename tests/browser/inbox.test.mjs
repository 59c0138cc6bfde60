// The sandbox's developer pages in a real browser (Debian's chromium): an event sent from the
// simulator's order page shows up in the inbox without a reload; an inbox switched to 500 shows
// pagos's retries, and "Reenviar" delivers the notification again once it answers. Both pages
// are checked at 390 px for sideways scrolling, and screenshotted at 1280 and 390 px.
// Environment (set by run.sh): PAGOS_URL, SANDBOX_URL, optional CHROMIUM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const PAGOS = process.env.PAGOS_URL ?? 'http://127.0.0.1:8080';
const SANDBOX = process.env.SANDBOX_URL;
const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
let context, profile;

before(async () => {
  assert.ok(SANDBOX, 'SANDBOX_URL must be set');
  mkdirSync(SCREENSHOTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'pagos-chromium-inbox-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** A checkout through pagos whose notifications go to the simulator's inbox. */
async function createCheckout(referenceId) {
  const response = await fetch(`${PAGOS}/pagos`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      provider: 'conekta', action: 'create', reference_id: referenceId,
      secret: 'key_xxjg4bsD9nohnMjwaTGytA', first_name: 'andres', last_name: 'jaro',
      amount: 1000, email: 'andres.jaromezuk@gmail.com', return_url: `${SANDBOX}/`,
      notification_url: `${SANDBOX}/inbox/notify`,
    }),
  });
  const order = await response.json();
  assert.equal(response.status, 200, JSON.stringify(order));
  return order;
}

/** Fails when the page scrolls sideways at its current width. */
async function assertNoSidewaysScroll(page, what) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, width: window.innerWidth,
  }));
  assert.ok(scroll <= width, `${what} is ${scroll} px wide in a ${width} px window`);
}

/** Screenshots at 1280 and 390 px, checking the 390 px one for sideways scrolling. */
async function shootBothWidths(page, name) {
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await assertNoSidewaysScroll(page, name);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-390.png`), fullPage: true });
}

function card(page, type) {
  return page.locator('article.notification').filter({ has: page.locator('.type', { hasText: type }) });
}

test('an event sent from the order page appears in the inbox without a reload', async () => {
  const reference = `inbox-exp-${Date.now()}`;
  const order = await createCheckout(reference);
  const inbox = await context.newPage();
  await inbox.setViewportSize(PHONE);
  await inbox.goto(`${SANDBOX}/inbox?reference_id=${reference}`);
  await inbox.locator('#notifications').waitFor();

  const orderPage = await context.newPage();
  await orderPage.setViewportSize(PHONE);
  await orderPage.goto(`${SANDBOX}/pedido/${order.id}`);
  await orderPage.getByText('$1,000.00 MXN').first().waitFor();
  await shootBothWidths(orderPage, 'order-page');
  await orderPage.click('button[data-event="order.expired"]');
  await orderPage.locator('#result', { hasText: 'order.expired enviado a pagos' }).waitFor();
  await orderPage.locator('#payment_status', { hasText: 'expired' }).waitFor({ timeout: 10000 });

  // The inbox page was opened before the event: it refreshed itself.
  const expired = card(inbox, 'order.expired');
  await expired.locator('.state', { hasText: 'entregada' }).waitFor({ timeout: 20000 });
  assert.equal(await expired.locator('.signature').textContent(), '✔ firma válida');
  assert.equal(await expired.locator('.reference').textContent(), reference);
  assert.match(await expired.locator('.amount').textContent(), /\$1,000\.00 MXN/);
  const received = expired.locator('time').first();
  assert.doesNotMatch(await received.textContent(), /^\d+$/, 'a readable time, not Unix seconds');
  assert.match(await received.getAttribute('title'), /^Unix \d+$/);
  await shootBothWidths(inbox, 'inbox');
  await inbox.close();
  await orderPage.close();
});

test('an inbox answering 500 shows the retries, and Reenviar delivers once it answers', async () => {
  const reference = `inbox-500-${Date.now()}`;
  const order = await createCheckout(reference);
  const inbox = await context.newPage();
  await inbox.setViewportSize(PHONE);
  await inbox.goto(`${SANDBOX}/inbox?reference_id=${reference}`);
  await inbox.click('button[name="mode"][value="500"]');
  await inbox.locator('button[name="mode"][value="500"][aria-pressed="true"]').waitFor();
  try {
    const orderPage = await context.newPage();
    await orderPage.goto(`${SANDBOX}/pedido/${order.id}`);
    await orderPage.click('button[data-event="order.paid"]');
    await orderPage.locator('#result', { hasText: 'order.paid enviado a pagos' }).waitFor();
    await orderPage.close();

    const paid = card(inbox, 'order.paid');
    // The first attempt and pagos's retry, both refused.
    await paid.locator('li.attempt[data-answer="500"]').nth(1).waitFor({ timeout: 20000 });
    assert.equal(await paid.locator('.state').textContent(), 'sin entregar');
  } finally {
    await inbox.click('button[name="mode"][value="ok"]');
  }
  await inbox.locator('button[name="mode"][value="ok"][aria-pressed="true"]').waitFor();
  const paid = card(inbox, 'order.paid');
  await paid.waitFor();
  // While pagos still has an attempt scheduled it says so; press again until it takes it.
  let accepted = false;
  let attemptsBefore = 0;
  for (let tries = 0; tries < 40 && !accepted; tries += 1) {
    attemptsBefore = await paid.locator('li.attempt').count();
    await paid.locator('button.replay').click();
    await inbox.locator('#result', { hasText: /otra vez|próximo intento/ }).waitFor();
    accepted = (await inbox.locator('#result').textContent()).includes('otra vez');
    if (!accepted) await inbox.waitForTimeout(500);
  }
  assert.ok(accepted, 'pagos took the replay');
  await paid.locator('li.attempt').nth(attemptsBefore).waitFor({ timeout: 20000 });
  assert.equal(await paid.locator('li.attempt').last().getAttribute('data-answer'), '204');
  assert.equal(await paid.locator('.state').textContent(), 'entregada');
  await assertNoSidewaysScroll(inbox, 'inbox with retries');
  await inbox.close();
});
