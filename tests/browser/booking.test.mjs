// A customer on a phone browses the catalogue, gets a price, signs in, sees ranked helpers with
// their explanation, books a chosen helper's free time, follows the visit live to sign-off, pays
// by invoice (the QR-bill is shown) and reviews the helper.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backends, startServer, launchBrowser, newPhonePage, shot, clearShots, client, demoHelperEmail,
  expectNoHorizontalScroll, expectNoProblems, nextZurich, DEMO_PASSWORD,
} from './harness.mjs';

for (const backend of backends()) {
  test(`a customer on a phone books a chosen helper and pays by invoice (${backend})`, { timeout: 240_000 }, async (t) => {
    await clearShots(backend, 'booking');
    const server = await startServer({ backend });
    t.after(() => server.stop());
    const browser = await launchBrowser();
    t.after(() => browser.close());
    const page = await newPhonePage(browser, { server, test: 'booking' });
    const noScroll = (where) => expectNoHorizontalScroll(page, where);

    // The catalogue, in German (the browser says de-CH).
    await page.goto('/');
    await page.locator('#catalog li').first().waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'de');
    // The customer site installs as its own app (the helper app has its own manifest).
    const manifest = await page.evaluate(async () => {
      const res = await fetch(document.querySelector('link[rel=manifest]').href);
      return { type: res.headers.get('content-type'), ...(await res.json()) };
    });
    assert.equal(manifest.type, 'application/manifest+json');
    assert.equal(manifest.start_url, '/');
    assert.equal(manifest.name, 'Quartier');
    assert.ok((await page.locator('#catalog li').count()) >= 10, 'the catalogue lists the services');
    await noScroll('catalogue');
    await shot(page, 'catalogue');

    // A service, where and when, and its price (no sign-in needed for a quote).
    await page.locator('[data-slug="guest-wifi"] a.button').click();
    await page.getByRole('heading', { level: 1, name: 'Gäste-WLAN einrichten' }).waitFor();
    const when = nextZurich(2, 10, 0, 2); // a Tuesday at 10:00, at least two days ahead
    const [date, time] = when.split('T');
    await page.getByLabel('Strasse und Hausnummer').fill('Limmattalstrasse 12');
    await page.getByLabel('PLZ und Ort').selectOption('8049');
    await page.getByLabel('Datum').fill(date);
    await page.getByLabel('Uhrzeit').fill(time);
    await noScroll('booking form');
    await shot(page, 'where-and-when');
    await page.getByRole('button', { name: 'Preis anzeigen' }).click();
    await page.locator('#quote-title').waitFor();
    const total = await page.locator('.c-price .c-total').first().textContent();
    assert.match(total, /CHF\s?\d+\.\d\d/, 'the quote shows a total in CHF');
    await noScroll('quote');
    await shot(page, 'quote');

    // Helpers need a signed-in customer: sign in through the form and come back to the draft.
    await page.getByRole('button', { name: 'Helfer/innen in der Nähe zeigen' }).click();
    await page.locator('#login-form').waitFor();
    await page.locator('#login-form').getByLabel('E-Mail').fill('customer1@demo.quartier.ch');
    await page.locator('#login-form').getByLabel('Passwort').fill(DEMO_PASSWORD);
    await shot(page, 'sign-in');
    await page.locator('#login-form').getByRole('button', { name: 'Anmelden' }).click();
    await page.locator('#quote-title').waitFor();
    assert.equal(await page.getByLabel('Strasse und Hausnummer').inputValue(), 'Limmattalstrasse 12', 'the draft survives the sign-in');

    // Ranked helpers with the explanation in plain words.
    await page.getByRole('button', { name: 'Helfer/innen in der Nähe zeigen' }).click();
    const first = page.locator('#matches > li').first();
    await first.waitFor();
    assert.match(await first.locator('dl').textContent(), /km/, 'a distance bucket is shown');
    assert.match(await first.locator('dl').textContent(), /CHF/, 'the price is shown');
    await first.locator('details.c-why summary').click();
    const sentences = first.locator('.c-why li');
    const components = ['distance', 'language', 'rating', 'reliability', 'fairness', 'level', 'proven_skill'];
    assert.equal(await sentences.count(), components.length, 'each score component is a sentence');
    for (const name of components) {
      const text = await first.locator(`.c-why li[data-component="${name}"]`).textContent();
      assert.match(text, /%/, `the ${name} sentence says its weight`);
      assert.doesNotMatch(text, /why\.|distance\.|undefined|NaN|_/, `the ${name} sentence is translated`);
    }
    await noScroll('matches');
    await shot(page, 'matches');

    // The helper's free times, then book.
    await first.getByRole('button', { name: 'Freie Zeiten ansehen' }).click();
    await first.locator('fieldset input[type=radio]').first().waitFor();
    assert.ok(await first.locator('fieldset input[type=radio]:checked').count(), 'a free time is preselected');
    await noScroll('slots');
    await shot(page, 'free-times');
    await first.locator('#confirm-booking').click();
    await page.locator('#booking-state').waitFor();
    assert.equal(await page.locator('#booking-state').getAttribute('data-state'), 'requested');
    const bookingId = page.url().split('#/bookings/')[1];
    assert.ok(bookingId, 'the booking page has the booking id');
    const startCode = (await page.locator('#start-code').textContent()).trim();
    assert.match(startCode, /^\d+$/, 'the start code is shown');
    await noScroll('booking page');
    await shot(page, 'requested');

    // The helper accepts, confirms, arrives with the start code: the page follows live.
    const customer = await client(server, 'customer1@demo.quartier.ch');
    const booking = await customer.call(`/v1/bookings/${bookingId}`);
    const helper = await client(server, await demoHelperEmail(server, booking.helper_id));
    const step = (action, extra = {}) => helper.call(`/v1/bookings/${bookingId}/transitions`, { method: 'POST', body: { action, ...extra } });
    await step('accept');
    await page.locator('#booking-state[data-state="accepted"]').waitFor();
    await step('confirm');
    await page.locator('#booking-state[data-state="confirmed"]').waitFor();
    await shot(page, 'confirmed');
    await step('arrive', { code: startCode });
    await page.locator('#signoff-code').waitFor();
    const signoff = (await page.locator('#signoff-code').textContent()).trim();
    await noScroll('on site');
    await shot(page, 'on-site-signoff-code');

    // A message to the helper.
    await page.getByLabel('Nachricht an die Person').fill('Der Router steht im Flur.');
    await page.getByRole('button', { name: 'Senden', exact: true }).click();
    await page.locator('#messages li').filter({ hasText: 'Der Router steht im Flur.' }).waitFor();
    // The helper's answer appears on the open page by itself (a notice on the live stream).
    const asked = Date.now();
    await helper.call(`/v1/bookings/${bookingId}/messages`, { method: 'POST', body: { body: 'Danke, ich schaue ihn mir an.' } });
    await page.locator('#messages li').filter({ hasText: 'Danke, ich schaue ihn mir an.' }).waitFor({ timeout: 5000 });
    console.log(`# the helper's message reached the open booking page after ${Date.now() - asked} ms`);

    await step('complete', { code: signoff });
    await page.locator('#booking-state[data-state="done"]').waitFor();

    // Pay by invoice: the QR-bill appears.
    await page.getByRole('button', { name: 'Rechnung mit QR-Einzahlungsschein' }).click();
    const qr = page.locator('#qr-bill');
    await qr.waitFor();
    await page.waitForFunction(() => document.querySelector('#qr-bill')?.naturalWidth > 0);
    assert.match(await page.locator('#invoice').textContent(), /CH\d\d/, 'the invoice names the IBAN');
    assert.match(await page.locator('#receipt').textContent(), /Rechnung/, 'the receipt says invoice');
    await qr.scrollIntoViewIfNeeded();
    await noScroll('invoice');
    await shot(page, 'invoice-qr-bill');

    // Review.
    await page.locator('label[for="rating-5"]').click();
    await page.getByLabel('Ein paar Worte (freiwillig)').fill('Schnell und freundlich.');
    await page.getByRole('button', { name: 'Bewertung senden' }).click();
    await page.locator('#my-review').waitFor();
    await shot(page, 'reviewed');

    // My bookings lists it.
    await page.getByRole('link', { name: 'Meine Buchungen' }).first().click();
    await page.locator(`a[href="#/bookings/${bookingId}"]`).waitFor();
    await noScroll('my bookings');
    await shot(page, 'my-bookings');
    expectNoProblems(page);
  });
}
