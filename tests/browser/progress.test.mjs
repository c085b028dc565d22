// Super-helpers in the browser. A helper on a phone opens the progress page: the level and its
// date, the thresholds of GET /v1/levels as bars, every figure with its value, definition and the
// bookings it counts exactly as GET /v1/helper/metrics says, opens a counted job, contests a figure
// (an operator decides it in the console and the helper reads the answer), opts in to the ranking
// and appears on the neighbourhood leaderboard. An operator marks a preview service and invites a
// region's super-helpers. A customer on a phone sees a super-helper's level and badges among the
// matches and on the helper's profile, and the preview service marked in the catalogue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  backends, startServer, launchBrowser, newPhonePage, newDesktopPage, signIn, apiAs, shot, clearShots, client,
  expectNoHorizontalScroll, nextZurich,
} from './harness.mjs';

const SUPER = 'helper001@demo.quartier.ch'; // a super-helper with badges in the demo city
const OPERATOR = 'operator@demo.quartier.ch';

// Expected refusals show as "Failed to load resource"; anything else (uncaught errors, CSP
// violations, 5xx) is a problem.
const realProblems = (page) => page.problems.filter((p) => !p.includes('Failed to load resource'));

// How the page writes a figure's value in German (Swiss).
function shown(f) {
  const n = (v, d = 0) => new Intl.NumberFormat('de-CH', { maximumFractionDigits: d }).format(v);
  if (f.value == null) return 'noch keine';
  if (f.name === 'average_rating') return `${n(f.value, 2)} von 5`;
  if (f.name === 'response_minutes') return `${n(f.value)} Min.`;
  if (f.name === 'acceptance_rate') return new Intl.NumberFormat('de-CH', { style: 'percent', maximumFractionDigits: 0 }).format(f.value);
  return n(f.value);
}

for (const backend of backends()) {
  let server;
  let browser;
  const started = Date.now();

  before(async () => {
    await clearShots(backend, 'progress');
    server = await startServer({ backend });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test(`a super-helper sees level, thresholds and figures, contests one, opts in to the leaderboard (${backend})`, { timeout: 180_000 }, async () => {
    const page = await newPhonePage(browser, { server, test: 'progress' });
    await signIn(page, SUPER, { path: '/helper.html#progress' });
    const level = page.locator('#level');
    await level.waitFor();
    const [m, doc, me] = await Promise.all([apiAs(page, '/v1/helper/metrics'), apiAs(page, '/v1/levels'), apiAs(page, '/v1/me')]);
    assert.equal(m.level, 'super', 'the demo city makes helper001 a super-helper');
    assert.ok(m.badges.length >= 1, 'with at least one badge');

    // The tab is in the tab bar and current.
    assert.equal(await page.locator('#tabbar a[data-tab="progress"]').getAttribute('aria-current'), 'page');
    // Level and since when.
    assert.equal(await level.getAttribute('data-level'), m.level);
    assert.equal((await level.locator('.level-badge').textContent()).trim(), 'Super-Helfer:in');
    assert.match(await page.locator('#level-since').textContent(), /^Seit \d+\. \w+ \d{4}$/);

    // At the top: the thresholds that keep the level, one bar (SVG) per published threshold.
    const top = doc.levels.find((l) => l.level === 'super');
    const expected = 5 + (top.max_response_minutes != null) + (top.min_acceptance != null);
    const rows = page.locator('#next-level .thresholds li');
    assert.equal(await rows.count(), expected, 'one row per threshold of GET /v1/levels');
    assert.equal(await page.locator('#next-level .thresholds li svg.bar').count(), expected, 'each with its bar');
    assert.equal(await page.locator('#next-level .thresholds li.met').count(), expected, 'a super-helper meets them all');
    const jobs = m.figures.find((f) => f.name === 'jobs_completed');
    assert.match(await page.locator('#next-level [data-threshold="jobs"]').textContent(), new RegExp(`${jobs.value} von ${top.min_completed} Einsätzen erledigt`));
    await expectNoHorizontalScroll(page, 'progress');
    await shot(page, 'progress-level', { fullPage: false });

    // Every figure exactly as the API has it, with its definition and the bookings it counts.
    const figures = page.locator('#figures li.figure');
    assert.equal(await figures.count(), m.figures.length);
    for (const f of m.figures) {
      const item = page.locator(`#figures li[data-figure="${f.name}"]`);
      assert.equal((await item.locator('.figure-value').textContent()).trim(), shown(f), `${f.name} shows its value`);
      assert.ok((await item.locator('p.hint').first().textContent()).length > 20, `${f.name} has its definition`);
      if (f.bookings.length) {
        assert.match(await item.locator('summary').textContent(), new RegExp(`\\(${f.bookings.length}\\)`), `${f.name} counts ${f.bookings.length} bookings`);
        assert.deepEqual(await item.locator('a[data-booking]').evaluateAll((as) => as.map((a) => a.dataset.booking)), f.bookings);
      }
    }
    // Badges as in the API.
    assert.deepEqual(await page.locator('#badges [data-service]').evaluateAll((els) => els.map((e) => e.dataset.service)), m.badges.map((b) => b.service));
    await page.locator('#figures').scrollIntoViewIfNeeded();
    await shot(page, 'progress-figures', { fullPage: false });

    // Tap a counted booking: the job opens.
    const done = page.locator('#figures li[data-figure="jobs_completed"]');
    await done.locator('summary').click();
    const firstId = jobs.bookings[0];
    await done.locator(`a[data-booking="${firstId}"]`).click();
    await page.waitForURL(`**/helper.html#job/${firstId}`);
    await page.locator('.job-body').waitFor();
    await shot(page, 'counted-job', { fullPage: false });
    await page.goBack();
    await page.locator('#contest-form').waitFor();

    // Contest a figure for one booking.
    const form = page.locator('#contest-form');
    await form.getByLabel('Zahl').selectOption('jobs_completed');
    await form.getByLabel('Buchung (freiwillig)').selectOption(firstId);
    await form.getByLabel('Warum stimmt es nicht?').fill('Dieser Besuch war ein Test und sollte nicht zählen.');
    await form.getByRole('button', { name: 'Anfechtung senden' }).click();
    const contest = page.locator('#contest-list [data-contest]').first();
    await contest.waitFor();
    assert.match(await contest.textContent(), /In Prüfung/);
    const mine = (await apiAs(page, '/v1/helper/metrics')).contests;
    assert.equal(mine.length, 1);
    assert.equal(mine[0].booking_id, firstId);
    await contest.scrollIntoViewIfNeeded();
    await shot(page, 'contest-sent', { fullPage: false });

    // An operator decides it in the console (desktop) with an answer.
    const ops = await newDesktopPage(browser, { server, test: 'progress' });
    await signIn(ops, OPERATOR, { path: '/ops.html#/contests' });
    await ops.locator(`button[data-contest="${mine[0].id}"]`).click();
    await ops.getByLabel('Die Zahl bleibt (ablehnen)').check();
    await ops.getByLabel('Antwort an den Helfer').fill('Der Besuch wurde abgenommen und zählt.');
    await shot(ops, 'ops-contest');
    await ops.locator('#contest-decision').getByRole('button', { name: 'Entscheiden' }).click();
    await ops.getByText(/Anfechtung von .*: abgelehnt\./).waitFor();
    assert.deepEqual(realProblems(ops), []);

    // The helper reads the answer.
    await page.reload();
    await page.locator('#contest-list [data-contest]').first().waitFor();
    assert.match(await page.locator('#contest-list [data-contest]').first().textContent(), /Abgelehnt.*Der Besuch wurde abgenommen und zählt\./s);

    // Opt in to the ranking: the helper appears on the leaderboard of the home neighbourhood.
    assert.equal(m.ranking_opt_in, false, 'off by default');
    const optIn = page.getByRole('switch', { name: 'Mich in der Rangliste zeigen' });
    await optIn.scrollIntoViewIfNeeded();
    await optIn.check();
    // Leaderboards show the first name and the last name's initial only.
    const parts = me.name.trim().split(/\s+/);
    const publicName = parts.length > 1 ? `${parts[0]} ${parts[parts.length - 1][0]}.` : parts[0];
    const row = page.locator('#leaderboard tr.me');
    await row.waitFor();
    assert.ok((await row.textContent()).includes(publicName), `the row shows ${publicName}`);
    assert.ok(!(await row.textContent()).includes(me.name) || parts.length === 1, 'never the full name');
    const postcode = await page.getByLabel('Quartier (PLZ)').inputValue();
    const board = await (await fetch(`${server.url}/v1/rankings?postcode=${postcode}`)).json();
    assert.ok(board.items.some((i) => i.name === publicName), `the public leaderboard of ${postcode} lists the helper`);
    assert.equal((await apiAs(page, '/v1/helper/metrics')).ranking_opt_in, true);
    await expectNoHorizontalScroll(page, 'leaderboard');
    await page.locator('#ranking').scrollIntoViewIfNeeded();
    await shot(page, 'leaderboard', { fullPage: false });
    await shot(page, 'progress-page');
    assert.deepEqual(realProblems(page), []);
  });

  test(`a level change shows on the open helper app and links to the progress page (${backend})`, { timeout: 180_000 }, async () => {
    // A new helper one signed-off job short of "trusted": 4 done, good ratings, no let-downs.
    const doc = await (await fetch(`${server.url}/v1/levels`)).json();
    const trusted = doc.levels.find((l) => l.level === 'trusted');
    let helper = null;
    let email = null;
    for (let i = 2; i <= 120 && !helper; i += 1) {
      email = `helper${String(i).padStart(3, '0')}@demo.quartier.ch`;
      const c = await client(server, email);
      const m = await c.call('/v1/helper/metrics');
      const f = Object.fromEntries(m.figures.map((x) => [x.name, x.value]));
      const incidents = f.helper_cancellations + f.no_shows + f.failed_visits;
      if (m.level === 'new' && f.jobs_completed === trusted.min_completed - 1 && f.ratings >= trusted.min_ratings
        && f.average_rating >= trusted.min_rating && incidents <= trusted.max_incidents && f.disputes_lost <= trusted.max_disputes_lost) helper = c;
    }
    assert.ok(helper, 'the demo city has a new helper one job short of trusted');
    const page = await newPhonePage(browser, { server, test: 'progress' });
    await signIn(page, email, { path: '/helper.html#offers' });
    await page.locator('#offer-list').waitFor();

    // A customer books the helper near home; the visit runs to the sign-off.
    const profile = await helper.call('/v1/helper/profile');
    const svc = (await (await fetch(`${server.url}/v1/catalog`)).json()).items.find((s) => profile.skills.includes(s.skill) && !s.preview);
    const postcode = await page.evaluate(async ([lat, lon]) => (await import('/helper-progress.js')).nearestPostcode(lat, lon), [profile.home.lat, profile.home.lon]);
    const customer = await client(server, 'customer2@demo.quartier.ch');
    const from = new Date(Date.now() + 2 * 86_400_000);
    const to = new Date(from.getTime() + 7 * 86_400_000);
    const q = new URLSearchParams({ service: svc.slug, from: from.toISOString(), to: to.toISOString() });
    const { slots } = await customer.call(`/v1/helpers/${helper.me.id}/slots?${q}`);
    assert.ok(slots.length, 'the helper has free time');
    const b = await customer.call('/v1/bookings', {
      method: 'POST', body: { service: svc.slug, address: `Teststrasse 1, ${postcode} Zürich`, postcode, start: slots[0], helper_id: helper.me.id, extra_units: 0 },
    });
    const step = (action, extra = {}) => helper.call(`/v1/bookings/${b.id}/transitions`, { method: 'POST', body: { action, ...extra } });
    await step('accept');
    await step('confirm');
    await step('arrive', { code: (await customer.call(`/v1/bookings/${b.id}`)).start_code });
    await step('complete', { code: (await customer.call(`/v1/bookings/${b.id}`)).signoff_code });

    // The open app shows the change at once, with a link to the progress page.
    const banner = page.locator('#notice-slot .level-notice');
    await banner.waitFor({ timeout: 10_000 });
    await shot(page, 'level-changed-notice', { fullPage: false });
    await banner.getByRole('link', { name: 'Zum Fortschritt' }).click();
    await page.locator('#level[data-level="trusted"]').waitFor();
    assert.equal(await banner.count(), 0, 'the notice goes once the progress page is open');
    const m = await apiAs(page, '/v1/helper/metrics');
    assert.equal(m.level, 'trusted');
    assert.ok(m.figures.find((f) => f.name === 'jobs_completed').bookings.includes(b.id), 'the new job counts');
    const change = page.locator('#changes li').filter({ hasText: '→ Bewährt' });
    assert.match(await change.textContent(), /Neu → Bewährt.*Alle Schwellen für «Bewährt» erfüllt\./s, 'the change with its reason, in German');
    assert.match(await page.locator('#next-level h2').textContent(), /Super-Helfer/, 'and what the next level needs');
    await page.locator('#changes').scrollIntoViewIfNeeded();
    await shot(page, 'level-changed-progress', { fullPage: false });
    assert.deepEqual(realProblems(page), []);
  });

  test(`an operator marks a preview service and invites the super-helpers of a region (${backend})`, { timeout: 120_000 }, async () => {
    const ops = await newPhonePage(browser, { server, test: 'progress' });
    await signIn(ops, OPERATOR, { path: '/ops.html#/superhelpers' });
    const box = ops.locator('#preview-services input[data-slug="smart-home"]');
    await box.waitFor();
    assert.equal(await box.isChecked(), false);
    await box.check();
    await ops.getByText('Smart-home device ist jetzt ein Vorschau-Dienst.').waitFor();
    const catalog = await (await fetch(`${server.url}/v1/catalog`)).json();
    assert.equal(catalog.items.find((s) => s.slug === 'smart-home').preview, true);

    const form = ops.locator('#invitation-form');
    await form.getByLabel('Zentrum (PLZ)').fill('8008');
    await form.getByLabel('Umkreis (km)').fill('5');
    await form.getByLabel('Betreff').fill('Treffen der Super-Helfer');
    await form.getByLabel('Nachricht').fill('Kommt am Donnerstag um 18 Uhr ins Quartierzentrum.');
    await form.getByRole('button', { name: 'Einladung senden' }).click();
    const sent = form.getByText(/Einladung an \d+ Super-Helfer gesendet\./);
    await sent.waitFor();
    assert.ok(Number((await sent.textContent()).match(/\d+/)[0]) >= 1, 'helper001 lives near 8008');
    await expectNoHorizontalScroll(ops, 'ops super-helpers');
    await shot(ops, 'ops-superhelpers');
    const helper = await client(server, SUPER);
    const feed = await helper.call('/v1/notifications?limit=5');
    assert.ok(feed.items.some((n) => n.kind === 'invitation' && n.title === 'Treffen der Super-Helfer'), 'the super-helper got the invitation');
    assert.deepEqual(realProblems(ops), []);
  });

  test(`a customer on a phone sees a super-helper's level and badges (${backend})`, { timeout: 180_000 }, async () => {
    const helper = await client(server, SUPER);
    const profile = await (await fetch(`${server.url}/v1/helpers/${helper.me.id}`)).json();
    assert.equal(profile.level, 'super');
    const page = await newPhonePage(browser, { server, test: 'progress' });
    await signIn(page, 'customer1@demo.quartier.ch', { path: '/#/' });

    // The preview service is marked in the catalogue.
    const preview = page.locator('#catalog [data-slug="smart-home"] .c-preview');
    await preview.waitFor();
    assert.match(await preview.textContent(), /Vorschau: von Super-Helfer\/innen/);
    assert.equal(await page.locator('#catalog .c-preview').count(), 1, 'only the preview service is marked');
    await preview.scrollIntoViewIfNeeded();
    await shot(page, 'catalogue-preview', { fullPage: false });

    // Matches show each helper's level, and the super-helper's badges.
    await page.goto('/#/book/printer-setup');
    const [date, time] = nextZurich(3, 10, 0, 2).split('T');
    await page.getByLabel('Strasse und Hausnummer').fill('Seefeldstrasse 40');
    await page.getByLabel('PLZ und Ort').selectOption('8008');
    await page.getByLabel('Datum').fill(date);
    await page.getByLabel('Uhrzeit').fill(time);
    await page.getByRole('button', { name: 'Preis anzeigen' }).click();
    await page.locator('#quote-title').waitFor();
    await page.getByRole('button', { name: 'Helfer/innen in der Nähe zeigen' }).click();
    await page.locator('#matches > li').first().waitFor();
    const card = page.locator(`#matches > li[data-helper="${helper.me.id}"]`);
    assert.equal(await card.count(), 1, 'the super-helper nearby is among the matches');
    assert.equal(await card.locator('.c-level').getAttribute('data-level'), 'super');
    assert.match(await card.locator('.c-level').textContent(), /Super-Helfer\/in.*90 Tagen/s, 'the level with what it means');
    assert.deepEqual(await card.locator('.c-badges [data-service]').evaluateAll((e) => e.map((x) => x.dataset.service)), profile.badges.map((b) => b.service));
    for (const li of await page.locator('#matches > li').all()) assert.equal(await li.locator('.c-level').count(), 1, 'every match shows a level');
    await card.locator('summary').click();
    assert.match(await card.locator('.c-why li[data-component="level"]').textContent(), /Super-Helfer\/in/);
    assert.match(await card.locator('.c-why li[data-component="proven_skill"]').textContent(), /Abzeichen/);
    assert.match(await card.locator('.c-why li[data-component="fairness"]').textContent(), /%/);
    await card.scrollIntoViewIfNeeded();
    await expectNoHorizontalScroll(page, 'matches with levels');
    await shot(page, 'matches-levels', { fullPage: false });

    // The profile: level with its explanation, badges as the API has them.
    await card.getByRole('link', { name: 'Profil' }).click();
    await page.getByRole('heading', { level: 1, name: profile.name }).waitFor();
    assert.equal(await page.locator('#helper-level .c-level').getAttribute('data-level'), 'super');
    assert.match(await page.locator('#helper-level').textContent(), /Super-Helfer\/in.*Stützen des Quartiers.*veröffentlichten Schwellen/s);
    const badges = page.locator('#helper-badges .c-badge-skill');
    assert.equal(await badges.count(), profile.badges.length);
    for (const [i, b] of profile.badges.entries()) {
      assert.equal(await badges.nth(i).getAttribute('data-service'), b.service);
      assert.match(await badges.nth(i).textContent(), new RegExp(`${b.tier} Einsätze`));
    }
    await expectNoHorizontalScroll(page, 'helper profile');
    await shot(page, 'helper-profile');
    // Back to the matches.
    await page.getByRole('link', { name: 'Zurück' }).click();
    await page.locator('#matches > li').first().waitFor();
    assert.deepEqual(realProblems(page), []);
    console.log(`progress (${backend}): ${Math.round((Date.now() - started) / 1000)} s`);
  });
}
