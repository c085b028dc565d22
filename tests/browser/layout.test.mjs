// Every customer view on a desktop (1280x800) and a phone (390x844): nothing scrolls sideways,
// every form control has a label, every button a name, and the keyboard reaches the controls
// with a visible focus ring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backends, startServer, launchBrowser, newDesktopPage, newPhonePage, signIn, shot, clearShots,
  expectNoHorizontalScroll, expectNoProblems, nextZurich,
} from './harness.mjs';

async function expectLabelled(page, where) {
  const unlabelled = await page.evaluate(() => {
    const name = (el) => (el.getAttribute('aria-label') || [...(el.labels || [])].map((l) => l.textContent).join(' ')
      || (el.getAttribute('aria-labelledby') || '').split(' ').map((id) => document.getElementById(id)?.textContent || '').join(' ')
      || (el.tagName === 'BUTTON' || el.tagName === 'A' ? el.textContent : '')).trim();
    return [...document.querySelectorAll('input, select, textarea, button, a[href]')]
      .filter((el) => el.getClientRects().length && !name(el))
      .map((el) => el.outerHTML.slice(0, 120));
  });
  assert.deepEqual(unlabelled, [], `${where}: controls without a name`);
}

// Tab through the first controls: each gets focus and shows an outline.
async function expectKeyboard(page, where, presses = 8) {
  await page.locator('body').focus();
  for (let i = 0; i < presses; i += 1) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const s = getComputedStyle(el);
      return { tag: el.tagName, outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2, shadow: s.boxShadow !== 'none' };
    });
    assert.ok(f, `${where}: Tab ${i + 1} reaches a control`);
    assert.ok(f.outline || f.shadow, `${where}: the focused ${f.tag} shows a focus ring`);
  }
}

async function visitAll(page, size, backend) {
  const check = async (name) => {
    await expectNoHorizontalScroll(page, `${name} (${size})`);
    await expectLabelled(page, `${name} (${size})`);
    await shot(page, `${size}-${name}`);
  };
  await page.goto('/');
  await page.locator('#catalog li').first().waitFor();
  await check('catalogue');
  await expectKeyboard(page, `catalogue (${size})`);

  await page.goto('/#/signin');
  await page.locator('#login-form').waitFor();
  await check('sign-in');

  await signIn(page, 'customer5@demo.quartier.ch', { path: '/#/book/smartphone-setup' });
  await page.locator('#book-form').waitFor();
  const [date, time] = nextZurich(4, 14, 0, 2).split('T');
  await page.locator('#book-form [name=street]').fill('Bederstrasse 9');
  await page.locator('#book-form [name=postcode]').selectOption('8002');
  await page.locator('#book-form [name=date]').fill(date);
  await page.locator('#book-form [name=time]').fill(time);
  await page.locator('#get-quote').click();
  await page.locator('#quote-title').waitFor();
  await page.locator('#find-helpers').click();
  await page.locator('#matches > li, #matches-title + p').first().waitFor();
  const first = page.locator('#matches > li').first();
  if (await first.count()) {
    await first.locator('summary').click();
    await first.locator('button[data-helper]').click();
    await first.locator('#confirm-booking, .status').first().waitFor();
  }
  await check('book');
  await expectKeyboard(page, `book (${size})`, 12);

  await page.goto('/#/bookings');
  await page.locator('.c-bookings li').first().waitFor();
  await check('bookings');
  // The demo city gives this customer bookings in several states: open one of each.
  const links = await page.locator('.c-booking-item').evaluateAll((items) => items.map((li) => ({
    href: li.querySelector('a').getAttribute('href'),
    state: li.querySelector('.c-badge').textContent,
  })));
  const seen = new Set();
  for (const { href, state } of links) {
    if (seen.has(state) || seen.size >= 4) continue;
    seen.add(state);
    await page.goto(`/${href}`);
    await page.locator('#booking-state').waitFor();
    const closed = page.locator('details:not([open]) > summary');
    for (let n = await closed.count(); n > 0; n -= 1) await closed.first().click();
    const s = await page.locator('#booking-state').getAttribute('data-state');
    await check(`booking-${s}`);
  }

  await page.goto('/#/account');
  await page.locator('#export-data').waitFor();
  await page.locator('#delete-details summary').click();
  await check('account');
  assert.ok(backend);
}

for (const backend of backends()) {
  test(`nothing scrolls sideways and every control is labelled, desktop and phone (${backend})`, { timeout: 180_000 }, async (t) => {
    await clearShots(backend, 'layout');
    const server = await startServer({ backend });
    t.after(() => server.stop());
    const browser = await launchBrowser();
    t.after(() => browser.close());

    const desktop = await newDesktopPage(browser, { server, test: 'layout' });
    await visitAll(desktop, 'desktop', backend);
    expectNoProblems(desktop);

    const phone = await newPhonePage(browser, { server, test: 'layout', locale: 'fr-CH' });
    await visitAll(phone, 'phone', backend);
    expectNoProblems(phone);
  });
}
