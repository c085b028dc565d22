// The language switch in the header changes the whole page at once and is remembered after a
// reload; every visible text is translated (no raw keys, no English left in another language).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backends, startServer, launchBrowser, newPhonePage, shot, clearShots, expectNoHorizontalScroll, expectNoProblems,
} from './harness.mjs';

const HOME = {
  de: 'Technikhilfe aus der Nachbarschaft',
  fr: 'De l’aide technique par vos voisins',
  it: 'Aiuto tecnico dai tuoi vicini',
  en: 'Tech help from your neighbours',
};
const NAV = { de: 'Meine Buchungen', fr: 'Mes réservations', it: 'Le mie prenotazioni', en: 'My bookings' };
const SERVICE = { de: 'Gäste-WLAN einrichten', fr: 'Wi-Fi invités', it: 'Wi-Fi per ospiti', en: 'Guest Wi-Fi set-up' };

// Text that looks like an untranslated key ("book.find", "state.done").
const RAW_KEY = /\b(?:nav|home|book|quote|match|why|state|next|pay|review|dispute|account|auth|svc|skill|line|distance|codes|msg)\.[a-z_0-9]+\b/;

for (const backend of backends()) {
  test(`the language switch changes the page and is remembered after reload (${backend})`, { timeout: 120_000 }, async (t) => {
    await clearShots(backend, 'language');
    const server = await startServer({ backend });
    t.after(() => server.stop());
    const browser = await launchBrowser();
    t.after(() => browser.close());
    const page = await newPhonePage(browser, { server, test: 'language' });

    await page.goto('/');
    await page.locator('#catalog li').first().waitFor();
    const h1 = page.locator('h1');
    assert.equal(await h1.textContent(), HOME.de, 'German first: the browser asks for de-CH');
    await shot(page, 'de');

    for (const lang of ['fr', 'it', 'en', 'de', 'fr']) {
      await page.getByRole('combobox', { name: /Language/ }).selectOption(lang);
      await page.waitForFunction((want) => document.querySelector('h1')?.textContent === want, HOME[lang]);
      assert.equal(await page.locator('html').getAttribute('lang'), lang);
      assert.equal(await page.locator('.c-nav a[href="#/bookings"]').textContent(), NAV[lang], `the header follows (${lang})`);
      assert.equal(await page.locator('[data-slug="guest-wifi"] h3').textContent(), SERVICE[lang], `the catalogue follows (${lang})`);
      const text = await page.locator('body').innerText();
      assert.doesNotMatch(text, RAW_KEY, `no raw keys (${lang})`);
      await expectNoHorizontalScroll(page, `home in ${lang}`);
    }
    await shot(page, 'fr');

    // Remembered after a reload, and on another page.
    await page.reload();
    await page.locator('#catalog li').first().waitFor();
    assert.equal(await h1.textContent(), HOME.fr, 'French after reload');
    assert.equal(await page.locator('#lang-switch').inputValue(), 'fr', 'the switch shows the choice');
    await page.locator('[data-slug="tv-box"] a.button').click();
    await page.getByRole('heading', { level: 1, name: 'Installer la box TV' }).waitFor();
    assert.ok(await page.getByLabel('Rue et numéro').isVisible(), 'form labels are French');
    assert.doesNotMatch(await page.locator('body').innerText(), RAW_KEY);
    await shot(page, 'fr-service');

    // The booking form keeps what was typed when the language changes.
    await page.getByLabel('Rue et numéro').fill('Seestrasse 1');
    await page.getByRole('combobox', { name: /Language/ }).selectOption('it');
    await page.getByRole('heading', { level: 1, name: 'Installare il box TV' }).waitFor();
    await page.getByLabel('Via e numero civico').waitFor();
    assert.equal(await page.getByLabel('Via e numero civico').inputValue(), 'Seestrasse 1');
    await shot(page, 'it-service');

    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Installare il box TV' }).waitFor();
    expectNoProblems(page);
  });
}
