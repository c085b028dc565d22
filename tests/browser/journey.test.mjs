// The whole journey in two phone windows: a customer asks "any helper nearby" in the customer
// app while a helper has the helper app open; the offer arrives live, the helper accepts with one
// tap, the customer's booking page follows every step (accepted, on the way, on site with the
// sign-off code, done), the customer tells the codes, both sides review, and each sees the other's
// review.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backends, startServer, launchBrowser, newPhonePage, signIn, shot, clearShots, client, demoHelperEmail,
  expectNoHorizontalScroll, expectNoProblems, nextZurich,
} from './harness.mjs';

for (const backend of backends()) {
  test(`any helper nearby: the customer books, a helper accepts on another phone, visit to sign-off, both review (${backend})`, { timeout: 240_000 }, async (t) => {
    await clearShots(backend, 'journey');
    const server = await startServer({ backend });
    t.after(() => server.stop());
    const browser = await launchBrowser();
    t.after(() => browser.close());

    // Who will be offered the request: the best helper free at exactly that start.
    const startLocal = nextZurich(2, 10, 0, 2); // a Tuesday at 10:00, at least two days ahead
    const customerApi = await client(server, 'customer1@demo.quartier.ch');
    const helperPage = await newPhonePage(browser, { server, test: 'journey' });
    await helperPage.goto('/');
    const start = await helperPage.evaluate(async (local) => (await import('/common.js')).zurichToIso(local), startLocal);
    const end = new Date(new Date(start).getTime() + 45 * 60_000).toISOString();
    const found = await customerApi.call('/v1/matches', {
      method: 'POST',
      body: { service: 'guest-wifi', postcode: '8049', window: { from: start, to: end }, limit: 1 },
    });
    assert.ok(found.items.length, 'a helper is free at that start');
    const helperEmail = await demoHelperEmail(server, found.items[0].helper.id);

    // The helper's phone shows the offers list.
    await signIn(helperPage, helperEmail, { path: '/helper.html#offers' });
    await helperPage.locator('#lang-switch').waitFor();
    await helperPage.waitForTimeout(500); // the offers list and its live stream are up
    await shot(helperPage, 'helper-offers');

    // The customer asks any helper nearby, through the customer app.
    const page = await newPhonePage(browser, { server, test: 'journey' });
    await signIn(page, 'customer1@demo.quartier.ch', { path: '/#/book/guest-wifi' });
    const [date, time] = startLocal.split('T');
    await page.getByLabel('Strasse und Hausnummer').fill('Limmattalstrasse 12');
    await page.getByLabel('PLZ und Ort').selectOption('8049');
    await page.getByLabel('Datum').fill(date);
    await page.getByLabel('Uhrzeit').fill(time);
    await page.getByRole('button', { name: 'Preis anzeigen' }).click();
    await page.locator('#quote-title').waitFor();
    await shot(page, 'customer-quote');
    const asked = Date.now();
    await page.getByRole('button', { name: 'Irgendeine Person in der Nähe zu dieser Zeit' }).click();
    await page.locator('#booking-state[data-state="offered"]').waitFor();
    const id = page.url().split('#/bookings/')[1];
    await expectNoHorizontalScroll(page, 'offered');
    await shot(page, 'customer-offered');

    // The offer arrives live on the helper's phone; one tap accepts it.
    const card = helperPage.locator(`[data-offer="${id}"]`);
    await card.waitFor({ timeout: 10_000 });
    console.log(`# the offer reached the helper after ${Date.now() - asked} ms`);
    await shot(helperPage, 'helper-offer-arrived');
    await card.getByRole('button', { name: 'Annehmen' }).click();
    await helperPage.waitForURL(/#job\//);
    await helperPage.getByText('Limmattalstrasse 12', { exact: false }).first().waitFor();

    // The customer's page follows: accepted, with the helper's name and the start code.
    await page.locator('#booking-state[data-state="accepted"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('dd', { hasText: found.items[0].helper.name }).count(), 1, 'the helper is named');
    const startCode = (await page.locator('#start-code').textContent()).trim();
    await shot(page, 'customer-accepted');

    await helperPage.getByRole('button', { name: 'Besuch bestätigen' }).click();
    await page.locator('#booking-state[data-state="confirmed"]').waitFor({ timeout: 10_000 });
    await helperPage.getByRole('button', { name: 'Ich bin unterwegs' }).click();
    await page.locator('#booking-state[data-state="en_route"]').waitFor({ timeout: 10_000 });
    await shot(page, 'customer-helper-on-the-way');

    // The customer tells the start code; the helper types it on their phone.
    await helperPage.getByLabel('Startcode der Kundschaft').fill(startCode);
    await helperPage.getByRole('button', { name: 'Ich bin angekommen' }).click();
    await page.locator('#signoff-code').waitFor({ timeout: 10_000 });
    const signoff = (await page.locator('#signoff-code').textContent()).trim();
    await expectNoHorizontalScroll(page, 'on site');
    await shot(page, 'customer-on-site');

    // Messages both ways: each appears on the other phone's open page by itself (a notice on the
    // live stream), well before any fallback poll (one or two minutes).
    await page.getByLabel('Nachricht an die Person').fill('Das Modem steht im Wohnzimmer.');
    let sent = Date.now();
    await page.getByRole('button', { name: 'Senden', exact: true }).click();
    await page.locator('#messages li', { hasText: 'Das Modem steht im Wohnzimmer.' }).waitFor();
    await helperPage.locator('.msg.from-customer', { hasText: 'Das Modem steht im Wohnzimmer.' }).waitFor({ timeout: 5000 });
    console.log(`# the customer's message reached the helper's open job after ${Date.now() - sent} ms`);
    await shot(helperPage, 'helper-message-arrived');
    await helperPage.getByLabel('Nachricht an die Kundschaft').fill('Gefunden, danke!');
    sent = Date.now();
    await helperPage.getByRole('button', { name: 'Senden', exact: true }).click();
    await helperPage.locator('.msg.from-helper', { hasText: 'Gefunden, danke!' }).waitFor();
    await page.locator('#messages li', { hasText: 'Gefunden, danke!' }).waitFor({ timeout: 5000 });
    console.log(`# the helper's message reached the customer's open booking after ${Date.now() - sent} ms`);
    await shot(page, 'customer-message-arrived');

    // Satisfied, the customer gives the sign-off code.
    await helperPage.getByLabel('Abschlusscode').fill(signoff);
    await helperPage.getByRole('button', { name: 'Auftrag abschliessen' }).click();
    await helperPage.getByText('Erledigt. Danke für Ihre Hilfe!').waitFor();
    await page.locator('#booking-state[data-state="done"]').waitFor({ timeout: 10_000 });
    await shot(helperPage, 'helper-done');

    // Both review: the helper first, then the customer, who then sees both.
    await helperPage.getByLabel('5 von 5 Sternen').check();
    await helperPage.getByRole('button', { name: 'Bewertung senden' }).click();
    await helperPage.getByText('Ihre Bewertung: 5 von 5.').waitFor();
    await page.locator('label[for="rating-4"]').click();
    await page.getByLabel('Ein paar Worte (freiwillig)').fill('Pünktlich und geduldig.');
    await page.getByRole('button', { name: 'Bewertung senden' }).click();
    await page.locator('#my-review').waitFor();
    await page.getByText('Die Person hat Sie mit 5 von 5 bewertet.').waitFor();
    const reviews = await customerApi.call(`/v1/bookings/${id}/reviews`);
    assert.deepEqual(reviews.items.map((r) => [r.author, r.rating]).sort(), [['customer', 4], ['helper', 5]]);
    await expectNoHorizontalScroll(page, 'reviewed');
    await shot(page, 'customer-reviewed');

    expectNoProblems(page);
    assert.deepEqual(helperPage.problems.filter((p) => !p.includes('Failed to load resource')), []);
  });
}
