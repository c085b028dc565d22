// The operators' console (web/ops.html) on a desktop window: an operator approves an applied
// helper; resolves a dispute end to end (the customer opened it with a photo, the helper gave a
// statement) with a partial refund, and sees it resolved with its ledger entries; reads the KPIs
// (charts present, figures equal to GET /v1/ops/metrics); sees the coverage map and its cells. An appeal is
// refused to the operator who made the first decision and decided by a second one. A customer
// is told the console is for operators only; an operator reassigns a booking with a reason; on a phone nothing scrolls sideways, the keyboard
// reaches every section and the language switch works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import {
  backends, startServer, launchBrowser, newDesktopPage, newPhonePage, signIn, shot, clearShots, client, demoHelperEmail,
  expectNoHorizontalScroll, BIN,
} from './harness.mjs';

const OPERATOR = 'operator@demo.quartier.ch';
const QUIZ_RIGHT = [1, 1, 0, 1, 2];
const PASSWORD = 'ops-test-password';

// Expected API refusals (a 409 shown to the operator) appear as "Failed to load resource"
// console messages; anything else (uncaught errors, CSP violations, 5xx) is a problem.
const realProblems = (page) => page.problems.filter((p) => !p.includes('Failed to load resource'));

async function register(server, email, name) {
  const res = await fetch(`${server.url}/v1/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD, name, role: 'helper', locale: 'de' }),
  });
  assert.equal(res.status, 201, await res.text());
  return client(server, email, { password: PASSWORD });
}

async function applicant(server, email, name) {
  const h = await register(server, email, name);
  await h.call('/v1/helper/application', {
    method: 'POST', body: { legal_name: name, birth_date: '1991-03-04', iban: 'CH93 0076 2011 6238 5295 7', quiz_answers: QUIZ_RIGHT },
  });
  return h;
}

// A small PNG (a gradient), so the dispute has a real photo.
function png(w, h) {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const x of buf) c = table[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const head = Buffer.alloc(13);
  head.writeUInt32BE(w, 0);
  head.writeUInt32BE(h, 4);
  head[8] = 8;
  head[9] = 2;
  const rows = [];
  for (let y = 0; y < h; y += 1) {
    rows.push(0);
    for (let x = 0; x < w; x += 1) rows.push(200, (x * 4) & 255, 40);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', head),
    chunk('IDAT', deflateSync(Buffer.from(rows))), chunk('IEND', Buffer.alloc(0))]);
}

// The customer opens a dispute about their latest finished visit, with a photo; the helper answers.
async function openDispute(server) {
  const customer = await client(server, 'customer1@demo.quartier.ch');
  const done = (await customer.call('/v1/bookings?state=done&limit=100')).items;
  assert.ok(done.length, 'the demo customer has finished visits');
  done.sort((a, b) => b.starts_at.localeCompare(a.starts_at));
  const booking = done[0];
  const dispute = await customer.call(`/v1/bookings/${booking.id}/dispute`, {
    method: 'POST', body: { reason: 'poor_work', text: 'The guest Wi-Fi stopped working an hour after the helper left.' },
  });
  const res = await fetch(`${server.url}/v1/disputes/${dispute.id}/photos`, {
    method: 'POST', headers: { Authorization: `Bearer ${customer.token}`, 'Content-Type': 'image/png' }, body: png(96, 64),
  });
  assert.equal(res.status, 201, await res.text());
  const helper = await client(server, await demoHelperEmail(server, booking.helper_id, 20));
  await helper.call(`/v1/disputes/${dispute.id}/statement`, {
    method: 'POST', body: { text: 'Everything worked when I left; the router needed a restart that was refused.' },
  });
  return { dispute, booking };
}

// `quartier admin create-operator` on the test server's database.
function createOperator(server, email, name) {
  return new Promise((ok, fail) => {
    const child = spawn(BIN, ['admin', 'create-operator', '--email', email, '--name', name, '--password-stdin'], {
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME, QUARTIER_DATA_DIR: server.dataDir, QUARTIER_DATABASE_URL: server.databaseUrl,
        QUARTIER_PASSWORD_MEMORY_KIB: '1024', QUARTIER_PASSWORD_ITERATIONS: '1', QUARTIER_LOG_LEVEL: 'warn',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`create-operator exited ${code}: ${out}`))));
    child.stdin.end(`${PASSWORD}\n`);
  });
}

async function useEnglish(page) {
  await page.locator('#lang-switch').selectOption('en');
  await page.locator('#lang-switch').evaluate((el) => el.blur());
}

const shareText = (v) => (typeof v === 'number' ? new Intl.NumberFormat('en-CH', { style: 'percent', maximumFractionDigits: 1 }).format(v) : '–');

for (const backend of backends()) {
  let server;
  let browser;

  before(async () => {
    await clearShots(backend, 'ops');
    server = await startServer({ backend, helpers: 20 });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test(`an operator approves a helper, resolves a dispute with a partial refund, reads the KPIs and the map (${backend})`, async (t) => {
    const started = Date.now();
    const anna = await applicant(server, 'anna.applicant@ops.test', 'Anna Applicant');
    const { dispute } = await openDispute(server);
    const operator = await client(server, OPERATOR);

    const page = await newDesktopPage(browser, { server, test: 'ops' });
    await page.goto('/ops.html');
    await useEnglish(page);
    await page.getByLabel('E-mail').fill(OPERATOR);
    await page.getByLabel('Password').fill('quartier-demo');
    await shot(page, 'sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();

    // 1. Vetting: the applied helper, her details, approval with a reason.
    await page.getByRole('heading', { level: 1, name: 'Vetting' }).waitFor();
    await page.getByRole('button', { name: 'Open Anna Applicant' }).click();
    await page.getByRole('heading', { name: 'Application of Anna Applicant' }).waitFor();
    assert.match(await page.locator('.detail').textContent(), /••••2957/, 'the IBAN is shown masked');
    await page.getByRole('button', { name: 'Save decision' }).click();
    assert.equal(await page.locator('.detail [role=alert]').textContent(), 'Give a reason of at least 3 characters.');
    await page.getByLabel('Approve').check();
    await page.getByLabel('Reason').fill('Identity and IBAN checked, quiz passed.');
    await shot(page, 'vetting-decision');
    await page.getByRole('button', { name: 'Save decision' }).click();
    await page.getByText('Anna Applicant is now approved.').waitFor();
    const app = await anna.call('/v1/helper/application');
    assert.equal(app.status, 'approved');
    assert.equal(app.reason, 'Identity and IBAN checked, quiz passed.');
    await expectNoHorizontalScroll(page, 'vetting');

    // 2. Disputes: the queue, then one case with everything on one page.
    await page.getByRole('link', { name: 'Disputes' }).click();
    await page.getByRole('heading', { level: 1, name: 'Disputes' }).waitFor();
    await page.locator(`a[href="#/disputes/${dispute.id}"]`).click();
    await page.getByRole('heading', { name: 'Decision' }).waitFor();
    const body = page.locator('.dispute');
    await body.getByText('The guest Wi-Fi stopped working an hour after the helper left.').first().waitFor();
    await body.getByText('Everything worked when I left; the router needed a restart that was refused.').waitFor();
    // The photo arrives as a data: URL (the CSP allows no other image source) and is decoded.
    const photo = page.locator('img.photo-img');
    await photo.waitFor();
    assert.match(await photo.getAttribute('src'), /^data:image\/png;base64,/);
    assert.ok(await photo.evaluate((img) => img.complete && img.naturalWidth === 96), 'the photo is shown');
    assert.equal(await photo.getAttribute('alt'), 'Photo 1, uploaded by the customer');
    assert.ok(await page.locator('ol.timeline li').count() >= 3, 'the booking timeline is shown');
    const ledgerRows = page.locator('section[aria-labelledby=dispute-ledger] tbody tr');
    const ledgerBefore = await ledgerRows.count();
    assert.ok(ledgerBefore > 0, 'the ledger entries of the visit are shown');
    await shot(page, 'dispute-case');

    await page.getByLabel('Partial refund to the customer').check();
    await page.getByLabel('Refund in CHF').fill('20.00');
    await page.getByLabel('Note', { exact: true }).fill('Part of the job was not done; the customer gets CHF 20 back.');
    await shot(page, 'dispute-decision');
    await page.getByRole('button', { name: 'Resolve dispute' }).click();
    await page.getByText('The dispute is resolved: Partial refund to the customer.').waitFor();
    await page.locator('.pill.ok', { hasText: 'resolved' }).waitFor();
    assert.equal(await page.locator('#resolve-form').count(), 0, 'no decision form on a resolved dispute');
    assert.ok(await ledgerRows.count() > ledgerBefore, 'the decision added ledger entries');
    assert.ok(await ledgerRows.filter({ hasText: 'partial refund' }).count() > 0, 'a partial refund entry is listed');
    const decided = await operator.call(`/v1/ops/disputes/${dispute.id}`);
    assert.equal(decided.dispute.status, 'resolved');
    assert.equal(decided.dispute.outcome, 'partial_refund');
    assert.equal(decided.dispute.refund_rappen, 2000);
    await expectNoHorizontalScroll(page, 'dispute');
    await shot(page, 'dispute-resolved');

    // 4. KPIs: the headline figures are those of the API, and three charts with their numbers.
    await page.getByRole('link', { name: 'KPIs' }).click();
    await page.getByRole('heading', { level: 1, name: 'KPIs' }).waitFor();
    {
      await page.locator('svg.chart').first().waitFor();
      const m = await operator.call('/v1/ops/metrics?weeks=8');
      const kpi = (key) => page.locator(`[data-kpi="${key}"] .kpi-value`).textContent();
      assert.equal(await kpi('requests'), new Intl.NumberFormat('en-CH').format(m.overall.requests));
      assert.equal(await kpi('fill_rate'), shareText(m.overall.fill_rate));
      assert.equal(await kpi('accept_within_2h'), shareText(m.overall.accept_within_2h));
      assert.equal(await kpi('dispute_rate'), shareText(m.overall.dispute_rate));
      assert.equal(await kpi('cancellation_rate'), shareText(m.overall.cancellation_rate));
      const charts = page.locator('svg.chart[role=img]');
      assert.equal(await charts.count(), 3);
      const volume = await charts.nth(0).getAttribute('aria-label');
      for (const w of m.weeks) {
        const label = String(w.week).replace(/^\d{4}-/, '');
        assert.ok(volume.includes(`${label}: Requests ${w.requests}, Filled ${w.accepted}`), `the volume chart states week ${label}: ${volume}`);
      }
      assert.ok(await charts.nth(1).locator('text', { hasText: '70%' }).count() > 0, 'the benchmark is labelled');
      const hoods = page.locator('.table-box tbody tr');
      assert.equal(await hoods.count(), Math.min(12, m.neighbourhoods.length));
      assert.equal(await hoods.first().locator('th').textContent(), m.neighbourhoods[0].name, 'most requests first');
      if (m.neighbourhoods.length > 12) {
        await page.getByRole('button', { name: `Show all ${m.neighbourhoods.length} neighbourhoods` }).click();
        assert.equal(await hoods.count(), m.neighbourhoods.length);
      }
      // Sorting by a column puts the largest first.
      await page.getByRole('button', { name: /^Dispute rate/ }).click();
      assert.equal(await page.locator('th[aria-sort=descending]').textContent().then((s) => s.startsWith('Dispute rate')), true);
    }
    await expectNoHorizontalScroll(page, 'kpis');
    await shot(page, 'kpis');

    // 5. The coverage map (server-drawn SVG, inserted as a node) and the cells' table.
    await page.getByRole('link', { name: 'Coverage' }).click();
    await page.getByRole('heading', { level: 1, name: 'Coverage' }).waitFor();
    {
      const map = page.locator('figure.map-box svg');
      await map.waitFor();
      assert.equal(await map.getAttribute('role'), 'img');
      assert.ok(await map.locator('path, polygon').count() > 0, 'the map has cells');
      {
        // Cells with requests are listed, unfilled ones first; the others behind a button.
        const cov = await operator.call('/v1/ops/coverage');
        const active = cov.cells.filter((c) => c.demand > 0 || c.unfilled > 0);
        const rows = page.locator('.table-box tbody tr');
        await rows.first().waitFor();
        assert.equal(await rows.count(), active.length);
        const firstUnfilled = [...active].sort((a, b) => b.unfilled - a.unfilled)[0];
        assert.equal(await rows.first().locator('td').nth(3).textContent(), String(firstUnfilled.unfilled));
        if (cov.cells.length > active.length) {
          await page.getByRole('button', { name: `Show all ${cov.cells.length} cells` }).click();
          assert.equal(await rows.count(), cov.cells.length);
        }
      }
    }
    await expectNoHorizontalScroll(page, 'coverage');
    await shot(page, 'coverage');

    // 6. The outbox shows the notices the dispute caused.
    await page.getByRole('link', { name: 'Outbox' }).click();
    await page.getByRole('heading', { level: 1, name: 'Outbox' }).waitFor();
    await page.locator('[data-state=sent] .kpi-value').waitFor();
    await shot(page, 'outbox');

    assert.deepEqual(realProblems(page), [], 'the console reported problems');
    t.diagnostic(`desktop flow took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  test(`an appeal is refused to the operator who decided and decided by another one (${backend})`, async () => {
    const bruno = await applicant(server, 'bruno.applicant@ops.test', 'Bruno Applicant');
    const operator = await client(server, OPERATOR);
    await operator.call(`/v1/ops/helpers/${bruno.me.id}/decision`, { method: 'POST', body: { decision: 'reject', reason: 'The IBAN does not match the name.' } });
    await bruno.call('/v1/helper/application/appeal', { method: 'POST', body: { text: 'The account is a joint account with my partner.' } });

    const page = await newDesktopPage(browser, { server, test: 'ops' });
    await signIn(page, OPERATOR, { path: '/ops.html#/vetting/appealed' });
    await useEnglish(page);
    await page.getByRole('button', { name: 'Open Bruno Applicant' }).click();
    await page.getByText('You made the decision under appeal').waitFor();
    await page.getByText('The account is a joint account with my partner.').waitFor();
    await page.getByLabel('Approve').check();
    await page.getByLabel('Reason').fill('Joint account accepted.');
    await page.getByRole('button', { name: 'Save decision' }).click();
    // The API's own words, with its code.
    await page.getByText('An appeal goes to a different operator than the one who decided. (same_operator)').waitFor();
    await shot(page, 'appeal-same-operator');

    await createOperator(server, 'second.operator@ops.test', 'Sam Second');
    const other = await newDesktopPage(browser, { server, test: 'ops' });
    await signIn(other, 'second.operator@ops.test', { password: PASSWORD, path: '/ops.html#/vetting/appealed' });
    await useEnglish(other);
    await other.getByRole('button', { name: 'Open Bruno Applicant' }).click();
    assert.equal(await other.getByText('You made the decision under appeal').count(), 0);
    await other.getByLabel('Approve').check();
    await other.getByLabel('Reason').fill('Joint account accepted after the appeal.');
    await other.getByRole('button', { name: 'Save decision' }).click();
    await other.getByText('Bruno Applicant is now approved.').waitFor();
    assert.equal((await bruno.call('/v1/helper/application')).status, 'approved');
    await shot(other, 'appeal-decided');
    assert.deepEqual(realProblems(page), []);
    assert.deepEqual(realProblems(other), []);
  });

  test(`an operator reassigns a booking to another approved helper, with a reason (${backend})`, async () => {
    const operator = await client(server, OPERATOR);
    // A booking goes only to a helper with its service's skill: Anna offers them all.
    const annaApi = await client(server, 'anna.applicant@ops.test', { password: PASSWORD });
    const skills = [...new Set((await annaApi.call('/v1/catalog')).items.map((s) => s.skill))];
    await annaApi.call('/v1/helper/profile', { method: 'PUT', body: { skills, home: { lat: 47.3769, lon: 8.5417 }, travel_radius_km: 10, languages: ['de'] } });
    const page = await newDesktopPage(browser, { server, test: 'ops' });
    await signIn(page, OPERATOR, { path: '/ops.html#/bookings' });
    await useEnglish(page);
    await Promise.all([
      page.waitForResponse((r) => r.url().includes('/v1/ops/bookings?') && r.url().includes('state=accepted')),
      page.getByLabel('State', { exact: true }).selectOption('accepted'),
    ]);
    await page.locator('table.data tbody tr').first().getByText('accepted').waitFor();
    await page.locator('a[href^="#/bookings/"]').first().click();
    await page.getByRole('heading', { name: 'Act on behalf' }).waitFor();
    const id = decodeURIComponent(new URL(page.url()).hash.split('/').pop());
    await page.getByLabel('Reassign to another helper').check();
    await page.getByRole('button', { name: 'Carry out' }).click();
    await page.getByText('Choose the helper who takes over.').waitFor();
    // Anna was approved in the first test: she is among the approved helpers to choose from.
    const anna = await page.locator('select[name=helper_id] option', { hasText: 'Anna Applicant' }).getAttribute('value');
    await page.getByLabel('New helper').selectOption(anna);
    await page.getByRole('button', { name: 'Carry out' }).click();
    await page.getByText('Give a reason of at least 3 characters.').waitFor();
    await page.getByLabel('Reason').fill('The first helper is ill today.');
    await page.getByRole('button', { name: 'Carry out' }).click();
    await page.getByText('Done: Reassign to another helper. The booking is now accepted.').waitFor();
    await page.locator('ol.timeline li', { hasText: 'The first helper is ill today.' }).waitFor();
    const b = await operator.call(`/v1/bookings/${id}`);
    assert.equal(b.helper_id, anna);
    await expectNoHorizontalScroll(page, 'booking');
    await shot(page, 'booking-reassigned');
    assert.deepEqual(realProblems(page), []);
  });

  test(`customers are turned away; on a phone every section fits, the keyboard reaches them, languages switch (${backend})`, async () => {
    const customer = await newPhonePage(browser, { server, test: 'ops' });
    await signIn(customer, 'customer2@demo.quartier.ch', { path: '/ops.html' });
    await customer.getByRole('heading', { name: 'Nur für den Betrieb' }).waitFor();
    assert.equal(await customer.locator('#nav').isVisible(), false);
    await shot(customer, 'phone-customer-refused');

    const page = await newPhonePage(browser, { server, test: 'ops' });
    await signIn(page, OPERATOR, { path: '/ops.html' });
    await page.getByRole('heading', { level: 1, name: 'Prüfung' }).waitFor();
    for (const [view, title] of [['vetting', 'Prüfung'], ['disputes', 'Streitfälle'], ['bookings', 'Buchungen'], ['kpis', 'Kennzahlen'],
      ['coverage', 'Abdeckung'], ['outbox', 'Postausgang'], ['audit', 'Protokoll']]) {
      await page.goto(`/ops.html#/${view}`);
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
      await page.waitForLoadState('networkidle');
      await expectNoHorizontalScroll(page, `${view} (phone)`);
      await shot(page, `phone-${view}`);
    }
    // Resolved disputes and one case fit too.
    await page.goto('/ops.html#/disputes');
    await page.getByLabel('Streitfälle anzeigen, die').selectOption('resolved');
    await page.locator('a[href^="#/disputes/"]').first().click();
    await page.getByRole('heading', { name: 'Verlauf' }).waitFor();
    await expectNoHorizontalScroll(page, 'dispute case (phone)');
    await shot(page, 'phone-dispute-case');

    // Keyboard: from the skip link through the header to the navigation; Enter opens a section
    // and moves the focus to its heading; the focus is always visible.
    await page.goto('/ops.html#/vetting');
    await page.getByRole('heading', { level: 1, name: 'Prüfung' }).waitFor();
    await page.locator('body').focus();
    let reached = null;
    for (let i = 0; i < 20 && !reached; i += 1) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null; // focus passed the end of the page and wraps
        const s = getComputedStyle(el);
        return { text: el.textContent.trim().slice(0, 40), view: el.dataset?.view || null, outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 };
      });
      if (!f) continue;
      assert.ok(f.outline, `Tab ${i + 1} (${f.text}) shows a focus ring`);
      if (f.view === 'kpis') reached = f;
    }
    assert.ok(reached, 'the keyboard reaches the KPIs link');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Kennzahlen' }).waitFor();
    await page.waitForFunction(() => document.activeElement?.tagName === 'H1');

    // Language switch: French, then Italian, then English.
    for (const [lang, nav] of [['fr', 'Litiges'], ['it', 'Controversie'], ['en', 'Disputes']]) {
      await page.locator('#lang-switch').selectOption(lang);
      await page.locator('#nav').getByRole('link', { name: nav }).waitFor();
      assert.equal(await page.evaluate(() => document.documentElement.lang), lang);
    }
    await expectNoHorizontalScroll(page, 'kpis in English (phone)');
    await shot(page, 'phone-kpis-en');
    assert.deepEqual(realProblems(page), []);
    assert.deepEqual(realProblems(customer), []);
  });
}
