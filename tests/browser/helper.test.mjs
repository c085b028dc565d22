// The helper's phone app (web/helper.html): a new helper registers and applies, an operator
// approves; two helpers in Bern (far from the demo city, so they are the only candidates) see an
// "any helper nearby" request arrive live, one accepts with one tap, the other sees "already
// taken"; the winner runs the guided visit to the sign-off, messages and reviews the customer;
// the service worker keeps the job readable offline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  backends, startServer, launchBrowser, newPhonePage, signIn, shot, clearShots, client,
  expectNoHorizontalScroll, nextZurich,
} from './harness.mjs';

const BERN = { lat: 46.9480, lon: 7.4474 };
const QUIZ_RIGHT = [1, 1, 0, 1, 2];
const PASSWORD = 'helper-test-password';

// Expected API refusals (404 no_application, 409 already_taken, ...) show up as "Failed to load
// resource" console messages; anything else (uncaught errors, CSP violations) is a problem.
function realProblems(page) {
  return page.problems.filter((p) => !p.includes('Failed to load resource'));
}

async function register(server, email, name) {
  const res = await fetch(`${server.url}/v1/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD, name, role: 'helper', locale: 'de' }),
  });
  assert.equal(res.status, 201, await res.text());
  return client(server, email, { password: PASSWORD });
}

async function approve(operator, helperId) {
  await operator.call(`/v1/ops/helpers/${helperId}/decision`, { method: 'POST', body: { decision: 'approve', reason: 'Identity and IBAN checked.' } });
}

const weekday = (local) => ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][new Date(`${local.slice(0, 10)}T12:00:00Z`).getUTCDay()];

for (const backend of backends()) {
  let server;
  let browser;
  const started = Date.now();
  const startLocal = nextZurich(((new Date().getDay() + 2) % 7) || 7, 10, 0, 1); // a day or two ahead, 10:00
  const state = {};

  before(async () => {
    await clearShots(backend, 'helper');
    server = await startServer({ backend, helpers: 20 });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test(`a new helper registers, applies with the quiz, sees the approval, sets profile and hours (${backend})`, async () => {
    const page = await newPhonePage(browser, { server, test: 'helper' });
    await page.goto('/helper.html');
    await page.getByRole('tab', { name: 'Helferkonto erstellen' }).click();
    const form = page.locator('#register-form');
    await form.getByLabel('Name').fill('Anna Aebi');
    await form.getByLabel('E-Mail').fill('anna@helper.test');
    await form.getByLabel('Passwort').fill(PASSWORD);
    await shot(page, 'register');
    await form.getByRole('button', { name: 'Helferkonto erstellen' }).click();

    // Straight to the profile with the application form.
    await page.getByRole('heading', { name: 'Bewerbung' }).waitFor();
    await page.getByLabel('Amtlicher Name').fill('Anna Maria Aebi');
    await page.getByLabel('Geburtsdatum').fill('1990-05-17');
    await page.getByLabel('IBAN für Auszahlungen').fill('CH93 0076 2011 6238 5295 7');
    const quiz = page.locator('fieldset.quiz');
    assert.equal(await quiz.count(), QUIZ_RIGHT.length);
    for (const [i, answer] of QUIZ_RIGHT.entries()) await quiz.nth(i).locator('input[type=radio]').nth(answer).check();
    await expectNoHorizontalScroll(page, 'application form');
    await shot(page, 'application-form');
    await page.getByRole('button', { name: 'Bewerbung senden' }).click();
    await page.getByText('In Prüfung', { exact: true }).waitFor();

    // The operator approves; the helper sees the decision and its reason.
    const operator = await client(server, 'operator@demo.quartier.ch');
    const anna = await client(server, 'anna@helper.test', { password: PASSWORD });
    await approve(operator, anna.me.id);
    await page.reload();
    await page.getByText('Genehmigt', { exact: true }).waitFor();
    await page.getByText('Identity and IBAN checked.').waitFor();

    // Profile: a skill, home in Bern (typed), radius; the map shows the service area.
    await page.getByLabel('WLAN').check();
    await page.getByLabel('Wohnort: Breitengrad').fill(String(BERN.lat));
    await page.getByLabel('Wohnort: Breitengrad').dispatchEvent('change');
    await page.getByLabel('Wohnort: Längengrad').fill(String(BERN.lon));
    await page.getByLabel('Wohnort: Längengrad').dispatchEvent('change');
    await page.getByRole('button', { name: 'Profil speichern' }).click();
    await page.getByText(/umfasst \d+ Kartenzellen/).waitFor();
    const profile = await anna.call('/v1/helper/profile');
    assert.deepEqual(profile.skills, ['wifi']);
    assert.ok(Math.abs(profile.home.lat - BERN.lat) < 1e-6, 'home saved');
    assert.ok(profile.service_area.length > 0);
    // The map draws the saved area's real cells: one polygon per outline the API sends.
    assert.equal(profile.service_area_outlines.length, profile.service_area.length, 'one outline per cell');
    const cells = page.locator('.service-map polygon.map-cell');
    assert.equal(await cells.count(), profile.service_area_outlines.length, 'one polygon per cell outline');
    assert.equal(await page.locator('.service-map .map-cells.stale').count(), 0, 'the drawn cells are the saved area');
    // Each polygon has the outline's corners, and the home point sits inside the drawn area.
    assert.equal((await cells.first().getAttribute('points')).split(' ').length, profile.service_area_outlines[0].length);
    const inside = await page.evaluate(() => {
      const svg = document.querySelector('.service-map');
      const home = svg.querySelector('.map-home');
      const pt = svg.createSVGPoint();
      pt.x = Number(home.getAttribute('cx'));
      pt.y = Number(home.getAttribute('cy'));
      return [...svg.querySelectorAll('polygon.map-cell')].some((p) => p.isPointInFill(pt));
    });
    assert.ok(inside, 'the home point lies in one of the drawn cells');
    assert.match(await page.locator('.service-map desc').textContent(), new RegExp(`${profile.service_area_outlines.length} eingefärbten Zellen`));
    // A wider radius not saved yet fades the saved cells; saving draws the new area.
    await page.locator('#radius').fill('6');
    await page.locator('.service-map .map-cells.stale').waitFor();
    await page.getByText('Noch nicht gespeichert').waitFor();
    await page.getByRole('button', { name: 'Profil speichern' }).click();
    await page.getByText(/umfasst \d+ Kartenzellen/).waitFor();
    const wider = await anna.call('/v1/helper/profile');
    assert.equal(wider.travel_radius_km, 6);
    assert.equal(await page.locator('.service-map .map-cells.stale').count(), 0);
    assert.equal(await cells.count(), wider.service_area_outlines.length, 'the map shows the new area after saving');
    await expectNoHorizontalScroll(page, 'profile');
    await shot(page, 'profile-approved');

    // Hours: 08:00-20:00 on the day of the coming visit, through the weekly editor.
    await page.getByRole('link', { name: 'Zeiten' }).click();
    const day = weekday(startLocal);
    const dayBox = page.locator(`[id$="-${day}"].day`);
    await dayBox.getByRole('button', { name: /Zeit hinzufügen am/ }).click();
    await dayBox.locator('select').nth(0).selectOption('08:00');
    await dayBox.locator('select').nth(1).selectOption('20:00');
    await page.getByRole('button', { name: 'Zeiten speichern' }).click();
    await page.locator('#toast', { hasText: 'Zeiten gespeichert.' }).waitFor();
    const av = await anna.call('/v1/helper/availability');
    assert.deepEqual(av.rules, [{ weekday: day, start: '08:00', end: '20:00' }]);
    // A day off through the exceptions form, then removed again.
    await page.getByRole('button', { name: 'Hinzufügen', exact: true }).click();
    await page.getByText(/^Frei am /).waitFor();
    await page.getByRole('button', { name: /Entfernen: Frei am/ }).click();
    await page.getByText('Keine Ausnahmen geplant.').waitFor();
    await expectNoHorizontalScroll(page, 'hours');
    await shot(page, 'hours');
    assert.deepEqual(realProblems(page), []);
    await page.context().close();
    state.anna = anna;
  });

  test(`an offer arrives live, one tap accepts it, the second helper sees "already taken" (${backend})`, async () => {
    assert.ok(state.anna, 'needs the first test');
    // The second helper, set up through the API.
    const operator = await client(server, 'operator@demo.quartier.ch');
    const bruno = await register(server, 'bruno@helper.test', 'Bruno Bühler');
    await bruno.call('/v1/helper/application', { method: 'POST', body: { legal_name: 'Bruno Bühler', birth_date: '1985-02-01', iban: 'CH9300762011623852957', quiz_answers: QUIZ_RIGHT } });
    await approve(operator, bruno.me.id);
    await bruno.call('/v1/helper/profile', { method: 'PUT', body: { skills: ['wifi'], home: BERN, travel_radius_km: 5, languages: ['de'] } });
    await bruno.call('/v1/helper/availability', { method: 'PUT', body: { rules: [{ weekday: weekday(startLocal), start: '08:00', end: '20:00' }] } });

    const annaPage = await newPhonePage(browser, { server, test: 'helper' });
    await signIn(annaPage, 'anna@helper.test', { password: PASSWORD, path: '/helper.html#offers' });
    const brunoPage = await newPhonePage(browser, { server, test: 'helper' });
    await signIn(brunoPage, 'bruno@helper.test', { password: PASSWORD, path: '/helper.html#offers' });
    for (const p of [annaPage, brunoPage]) {
      await p.getByText('Zurzeit keine offenen Anfragen.', { exact: false }).waitFor();
      await p.waitForSelector('body[data-sw="ready"]'); // the service worker controls the page
    }
    await shot(annaPage, 'offers-empty');

    // A customer asks "any helper nearby" in Bern.
    const customer = await client(server, 'customer1@demo.quartier.ch');
    const start = await annaPage.evaluate(async (local) => (await import('/common.js')).zurichToIso(local), startLocal);
    const asked = Date.now();
    const request = await customer.call('/v1/bookings', {
      method: 'POST',
      body: { service: 'guest-wifi', address: 'Bundesplatz 3, 3011 Bern', start, location: BERN },
    });
    const annaCard = annaPage.locator(`[data-offer="${request.id}"]`);
    const brunoCard = brunoPage.locator(`[data-offer="${request.id}"]`);
    await annaCard.waitFor({ timeout: 8000 });
    await brunoCard.waitFor({ timeout: 8000 });
    const liveMs = Date.now() - asked;
    assert.ok(liveMs < 8000, `offers arrive live (${liveMs} ms)`);
    await annaCard.getByText('Irgendwer in der Nähe').waitFor();
    await expectNoHorizontalScroll(annaPage, 'offer');
    await shot(annaPage, 'offer-arrived');

    // One tap: the job is Anna's, and the app opens it with the address.
    await annaCard.getByRole('button', { name: 'Annehmen' }).click();
    await annaPage.waitForURL(/#job\//);
    await annaPage.getByText('Bundesplatz 3, 3011 Bern').waitFor();
    await shot(annaPage, 'accepted-job');

    // Bruno is too late.
    const accept = brunoCard.getByRole('button', { name: 'Annehmen' });
    if (await accept.isVisible()) await accept.click();
    await brunoCard.getByText('Bereits vergeben').waitFor();
    await shot(brunoPage, 'already-taken');
    assert.deepEqual(realProblems(brunoPage), []);
    await brunoPage.context().close();
    state.annaPage = annaPage;
    state.customer = customer;
    state.bookingId = request.id;
    console.log(`# offer arrived live after ${liveMs} ms`);
  });

  test(`the helper runs the guided visit to the sign-off, writes and reviews (${backend})`, async () => {
    const { annaPage: page, customer, bookingId } = state;
    assert.ok(page, 'needs the previous test');
    await page.getByRole('button', { name: 'Besuch bestätigen' }).click();
    await page.getByRole('heading', { name: 'Nächster Schritt: losgehen' }).waitFor();
    await page.getByRole('button', { name: 'Ich bin unterwegs' }).click();
    await page.getByRole('heading', { name: 'Nächster Schritt: ankommen' }).waitFor();

    // A wrong start code is refused with a clear message; the right one lets the helper in.
    const codes = await customer.call(`/v1/bookings/${bookingId}`);
    await page.getByLabel('Startcode der Kundschaft').fill('0000000');
    await page.getByRole('button', { name: 'Ich bin angekommen' }).click();
    await page.getByText('Der Startcode stimmt nicht.', { exact: false }).waitFor();
    await page.getByLabel('Startcode der Kundschaft').fill(codes.start_code);
    await page.getByRole('button', { name: 'Ich bin angekommen' }).click();
    await page.getByRole('heading', { name: 'Nächster Schritt: Auftrag abschliessen' }).waitFor();
    await expectNoHorizontalScroll(page, 'on site');
    await shot(page, 'on-site');

    // A message to the customer.
    await page.getByLabel('Nachricht an die Kundschaft').fill('Ich bin da, das WLAN läuft gleich.');
    await page.getByRole('button', { name: 'Senden' }).click();
    await page.locator('.msg.from-helper', { hasText: 'Ich bin da' }).waitFor();
    const msgs = await customer.call(`/v1/bookings/${bookingId}/messages`);
    assert.equal(msgs.items.at(-1).body, 'Ich bin da, das WLAN läuft gleich.');

    // The customer signs off on the helper's phone.
    const onSite = await customer.call(`/v1/bookings/${bookingId}`);
    await page.getByLabel('Abschlusscode').fill(onSite.signoff_code);
    await page.getByRole('button', { name: 'Auftrag abschliessen' }).click();
    await page.getByText('Erledigt. Danke für Ihre Hilfe!').waitFor();
    assert.equal((await customer.call(`/v1/bookings/${bookingId}`)).state, 'done');

    // The helper reviews the customer.
    await page.getByLabel('5 von 5 Sternen').check();
    await page.getByRole('button', { name: 'Bewertung senden' }).click();
    await page.getByText('Ihre Bewertung: 5 von 5.').waitFor();
    await shot(page, 'done-reviewed');
    assert.deepEqual(realProblems(page), []);
  });

  test(`the accepted job stays readable offline (${backend})`, async () => {
    const { annaPage: page, bookingId } = state;
    assert.ok(page, 'needs the previous tests');
    await page.goto(`/helper.html#job/${bookingId}`);
    await page.getByText('Bundesplatz 3, 3011 Bern').waitFor();
    await page.context().setOffline(true);
    await page.reload();
    await page.locator('#offline-banner').waitFor({ state: 'visible' });
    await page.getByText('Bundesplatz 3, 3011 Bern').waitFor();
    await page.getByRole('heading', { name: 'Gäste-WLAN einrichten' }).waitFor();
    await shot(page, 'offline-job');
    await page.context().setOffline(false);
    // Back online the banner goes away.
    await page.locator('#offline-banner').waitFor({ state: 'hidden' });
    // The language switch works on every view.
    await page.locator('#lang-switch').selectOption('fr');
    await page.getByRole('link', { name: 'Offres' }).waitFor();
    await page.locator('#lang-switch').selectOption('de');
    assert.deepEqual(realProblems(page), []);
    await page.context().close();
    console.log(`# helper app tests took ${Math.round((Date.now() - started) / 1000)} s`);
  });
}
