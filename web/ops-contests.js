// Contests: helpers who think one of their figures (or their level) is wrong. The queue by status,
// one contest with the helper and the booking it is about, and the decision with the answer the
// helper sees. Accepting a contest about a booking takes that booking out of the helper's figures.
import { h, t, api, addStrings } from '/common.js';
import {
  sectionHead, alertBox, statusBox, showError, clear, table, facts, field, busy, fmtDate, word, uid, endpointMissing, notAvailable, fill,
} from '/ops-ui.js';

const STATUSES = ['open', 'accepted', 'rejected'];
let status = 'open';
const names = new Map(); // helper id -> public name

async function helperName(id) {
  if (!names.has(id)) names.set(id, api(`/v1/helpers/${encodeURIComponent(id)}`).then((p) => p.name).catch(() => id));
  return names.get(id);
}

export async function render(root, args, ctx) {
  if (STATUSES.includes(args[0])) status = args[0];
  const error = alertBox();
  const info = statusBox();
  const select = h('select', { name: 'status' }, ...STATUSES.map((s) => h('option', { value: s }, word('contests.status', s))));
  select.value = status;
  const list = h('div', { class: 'list', 'aria-live': 'polite' });
  const detail = h('div', { class: 'detail' });
  root.append(...sectionHead('contests.title', 'contests.lead'),
    h('div', { class: 'toolbar' }, field(t('contests.filter'), select)), error, info, h('div', { class: 'split' }, list, detail));

  async function load() {
    clear(error);
    let page;
    try {
      page = await api(`/v1/ops/contests?status=${encodeURIComponent(status)}&limit=100`);
    } catch (err) {
      if (endpointMissing(err)) fill(list, notAvailable()); else { fill(list); showError(error, err); }
      return;
    }
    if (ctx.stale()) return;
    const items = page.items || [];
    await Promise.all(items.map(async (c) => { c.helper_name = await helperName(c.helper_id); }));
    if (ctx.stale()) return;
    if (!items.length) { fill(list, h('p', { class: 'empty' }, t('contests.empty', { status: word('contests.status', status) }))); return; }
    fill(list,
      h('p', { class: 'count' }, t('ops.count', { n: items.length })),
      table([
        { key: 'helper', label: t('contests.helper'), render: (c) => c.helper_name },
        { key: 'figure', label: t('contests.figure'), render: (c) => word('contests.fig', c.figure) },
        { key: 'created_at', label: t('contests.created'), render: (c) => fmtDate(c.created_at) },
        { key: 'text', label: t('contests.text'), render: (c) => (c.text.length > 80 ? `${c.text.slice(0, 80)}…` : c.text) },
        {
          key: 'open', label: t('ops.action'),
          render: (c) => h('button', { type: 'button', class: 'button small secondary', 'data-contest': c.id, onclick: () => { clear(info); open(c); } },
            t('contests.open'), h('span', { class: 'sr-only' }, ` ${c.helper_name}`)),
        },
      ], items, { caption: t('contests.caption', { status: word('contests.status', status) }) }));
  }

  function open(c) {
    const titleId = uid('contest');
    const formError = alertBox();
    const answerId = uid('answer');
    const form = h('form', { class: 'form', novalidate: true, id: 'contest-decision' });
    if (c.status === 'open') {
      const answer = h('textarea', { id: answerId, name: 'answer', rows: '3', required: true, minlength: '3', maxlength: '2000' });
      const submit = h('button', { type: 'submit', class: 'button' }, t('contests.submit'));
      form.append(formError,
        h('fieldset', { class: 'choices' }, h('legend', {}, t('contests.decision')),
          h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'accept', value: 'yes', checked: true }), ` ${t('contests.accept')}`),
          h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'accept', value: 'no' }), ` ${t('contests.reject')}`)),
        field(t('contests.answer'), answer, t('contests.answer_hint')),
        submit);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clear(formError);
        const text = answer.value.trim();
        if (text.length < 3) {
          formError.textContent = t('ops.reason_required');
          answer.setAttribute('aria-invalid', 'true');
          answer.focus();
          return;
        }
        answer.removeAttribute('aria-invalid');
        await busy(submit, async () => {
          try {
            const done = await api(`/v1/ops/contests/${encodeURIComponent(c.id)}/decide`, {
              method: 'POST', body: { accept: form.accept.value === 'yes', answer: text },
            });
            info.textContent = t('contests.done', { name: c.helper_name, status: word('contests.state', done.status) });
            fill(detail);
            await load();
          } catch (err) {
            showError(formError, err);
          }
        });
      });
    } else {
      form.append(h('p', { class: 'hint' }, t('contests.decided')));
    }
    fill(detail, h('section', { class: 'panel', 'aria-labelledby': titleId },
      h('h2', { id: titleId, tabindex: '-1' }, t('contests.one', { name: c.helper_name })),
      facts([
        [t('contests.helper'), c.helper_name],
        [t('contests.figure'), word('contests.fig', c.figure)],
        [t('contests.booking'), c.booking_id ? h('a', { href: `#/bookings/${encodeURIComponent(c.booking_id)}` }, c.booking_id) : t('contests.no_booking')],
        [t('contests.created'), fmtDate(c.created_at)],
        [t('contests.status'), word('contests.state', c.status)],
        c.answer ? [t('contests.answer'), c.answer] : null,
      ]),
      h('div', { class: 'quote' }, h('h3', {}, t('contests.text')), h('p', {}, c.text)),
      form));
    detail.querySelector('h2').focus();
  }

  select.addEventListener('change', () => { status = select.value; fill(detail); clear(info); load(); });
  await load();
}

const S = {
  'nav.contests': ['Contests', 'Anfechtungen', 'Contestations', 'Contestazioni'],
  'contests.title': ['Contested figures', 'Angefochtene Zahlen', 'Chiffres contestés', 'Dati contestati'],
  'contests.lead': ['Helpers who think a figure or their level is wrong. Accepting a contest about a booking takes it out of the helper’s figures and recomputes the level at once. The helper sees your answer.', 'Helfer, die eine Zahl oder ihre Stufe für falsch halten. Wird eine Anfechtung zu einer Buchung gutgeheissen, zählt die Buchung nicht mehr und die Stufe wird sofort neu berechnet. Der Helfer sieht Ihre Antwort.', 'Des aides qui estiment un chiffre ou leur niveau erroné. Accepter une contestation portant sur une réservation la retire des chiffres et recalcule aussitôt le niveau. L’aide voit votre réponse.', 'Aiutanti che ritengono sbagliato un dato o il proprio livello. Accogliere una contestazione su una prenotazione la toglie dai dati e ricalcola subito il livello. L’aiutante vede la tua risposta.'],
  'contests.filter': ['Show contests that are', 'Anfechtungen anzeigen, die', 'Afficher les contestations', 'Mostra le contestazioni'],
  'contests.status': ['Status', 'Status', 'Statut', 'Stato'],
  'contests.status.open': ['open', 'offen sind', 'ouvertes', 'aperte'],
  'contests.status.accepted': ['accepted', 'gutgeheissen sind', 'acceptées', 'accolte'],
  'contests.status.rejected': ['rejected', 'abgelehnt sind', 'rejetées', 'respinte'],
  'contests.state.open': ['open', 'offen', 'ouverte', 'aperta'],
  'contests.state.accepted': ['accepted', 'gutgeheissen', 'acceptée', 'accolta'],
  'contests.state.rejected': ['rejected', 'abgelehnt', 'rejetée', 'respinta'],
  'contests.empty': ['No contests are {status}.', 'Keine Anfechtungen, die {status}.', 'Aucune contestation {status}.', 'Nessuna contestazione {status}.'],
  'contests.caption': ['Contests: {status}', 'Anfechtungen, die {status}', 'Contestations {status}', 'Contestazioni {status}'],
  'contests.helper': ['Helper', 'Helfer', 'Aide', 'Aiutante'],
  'contests.figure': ['Figure', 'Zahl', 'Chiffre', 'Dato'],
  'contests.created': ['Sent', 'Gesendet', 'Envoyée', 'Inviata'],
  'contests.text': ['The helper’s explanation', 'Begründung des Helfers', 'Explication de l’aide', 'Spiegazione dell’aiutante'],
  'contests.open': ['Open', 'Öffnen', 'Ouvrir', 'Apri'],
  'contests.one': ['Contest of {name}', 'Anfechtung von {name}', 'Contestation de {name}', 'Contestazione di {name}'],
  'contests.booking': ['Booking', 'Buchung', 'Réservation', 'Prenotazione'],
  'contests.no_booking': ['not about one booking', 'keine bestimmte Buchung', 'pas une réservation précise', 'nessuna prenotazione precisa'],
  'contests.decision': ['Decision', 'Entscheid', 'Décision', 'Decisione'],
  'contests.accept': ['The helper is right (accept)', 'Der Helfer hat recht (gutheissen)', 'L’aide a raison (accepter)', 'L’aiutante ha ragione (accogliere)'],
  'contests.reject': ['The figure stands (reject)', 'Die Zahl bleibt (ablehnen)', 'Le chiffre est maintenu (rejeter)', 'Il dato resta (respingere)'],
  'contests.answer': ['Answer to the helper', 'Antwort an den Helfer', 'Réponse à l’aide', 'Risposta all’aiutante'],
  'contests.answer_hint': ['3 to 2000 characters; the helper sees it on the progress page.', '3 bis 2000 Zeichen; der Helfer sieht sie auf seiner Fortschrittsseite.', '3 à 2000 caractères; l’aide la voit sur sa page de progrès.', 'Da 3 a 2000 caratteri; l’aiutante la vede nella pagina dei progressi.'],
  'contests.submit': ['Decide', 'Entscheiden', 'Décider', 'Decidere'],
  'contests.done': ['Contest of {name}: {status}.', 'Anfechtung von {name}: {status}.', 'Contestation de {name}: {status}.', 'Contestazione di {name}: {status}.'],
  'contests.decided': ['This contest has been decided.', 'Diese Anfechtung ist entschieden.', 'Cette contestation est tranchée.', 'Questa contestazione è decisa.'],
  'contests.fig.jobs_completed': ['Jobs completed', 'Erledigte Einsätze', 'Missions terminées', 'Incarichi completati'],
  'contests.fig.average_rating': ['Average rating', 'Durchschnittliche Bewertung', 'Note moyenne', 'Valutazione media'],
  'contests.fig.ratings': ['Ratings', 'Bewertungen', 'Notes', 'Valutazioni'],
  'contests.fig.response_minutes': ['Time to answer', 'Antwortzeit', 'Délai de réponse', 'Tempo di risposta'],
  'contests.fig.acceptance_rate': ['Acceptance', 'Annahmequote', 'Taux d’acceptation', 'Tasso di accettazione'],
  'contests.fig.helper_cancellations': ['Helper cancellations', 'Absagen des Helfers', 'Annulations de l’aide', 'Annullamenti dell’aiutante'],
  'contests.fig.no_shows': ['No-shows', 'Nicht erschienen', 'Absences', 'Assenze'],
  'contests.fig.failed_visits': ['Failed visits', 'Gescheiterte Besuche', 'Visites échouées', 'Visite fallite'],
  'contests.fig.disputes_lost': ['Disputes lost', 'Verlorene Streitfälle', 'Litiges perdus', 'Contestazioni perse'],
  'contests.fig.level': ['Level', 'Stufe', 'Niveau', 'Livello'],
};
const table2 = { en: {}, de: {}, fr: {}, it: {} };
for (const [key, texts] of Object.entries(S)) ['en', 'de', 'fr', 'it'].forEach((l, i) => { table2[l][key] = texts[i]; });
addStrings(table2);
