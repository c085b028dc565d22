// Super-helpers: the published levels (GET /v1/levels), an invitation to every super-helper living
// around a postcode (one mail each, audited), and which catalogue services are previews offered
// only by super-helpers (PUT /v1/ops/catalog/{slug} {preview}).
import { h, t, api, addStrings } from '/common.js';
import { sectionHead, alertBox, statusBox, showError, clear, table, field, busy, uid, fmtNumber, fmtShare, fill, word } from '/ops-ui.js';

export async function render(root, args, ctx) {
  const levels = h('div', { class: 'list' });
  const invite = inviteForm();
  const previews = h('div', { class: 'list', id: 'preview-services' });
  const levelsId = uid('lv');
  const inviteId = uid('inv');
  const previewId = uid('pv');
  root.append(...sectionHead('super.title', 'super.lead'),
    h('section', { class: 'panel', 'aria-labelledby': inviteId }, h('h2', { id: inviteId }, t('super.invite')), h('p', { class: 'hint' }, t('super.invite_lead')), invite),
    h('section', { class: 'panel', 'aria-labelledby': previewId }, h('h2', { id: previewId }, t('super.previews')), h('p', { class: 'hint' }, t('super.previews_lead')), previews),
    h('section', { class: 'panel', 'aria-labelledby': levelsId }, h('h2', { id: levelsId }, t('super.levels')), levels));
  await Promise.all([drawLevels(levels, ctx), drawPreviews(previews, ctx)]);
}

async function drawLevels(slot, ctx) {
  const error = alertBox();
  let doc;
  try { doc = await api('/v1/levels'); } catch (err) { fill(slot, error); showError(error, err); return; }
  if (ctx.stale()) return;
  const opt = (v, f) => (v == null ? '–' : f(v));
  fill(slot,
    table([
      { key: 'level', label: t('super.level'), render: (l) => t(`super.level.${l.level}`) },
      { key: 'min_completed', label: t('super.min_completed'), num: true, render: (l) => fmtNumber(l.min_completed) },
      { key: 'min_rating', label: t('super.min_rating'), num: true, render: (l) => `${fmtNumber(l.min_rating, 1)} (${t('super.of_ratings', { n: l.min_ratings })})` },
      { key: 'max_response_minutes', label: t('super.max_response'), num: true, render: (l) => opt(l.max_response_minutes, (v) => `${fmtNumber(v)} min`) },
      { key: 'min_acceptance', label: t('super.min_acceptance'), num: true, render: (l) => opt(l.min_acceptance, (v) => fmtShare(v, 0)) },
      { key: 'max_incidents', label: t('super.max_incidents'), num: true, render: (l) => fmtNumber(l.max_incidents) },
      { key: 'max_disputes_lost', label: t('super.max_disputes'), num: true, render: (l) => fmtNumber(l.max_disputes_lost) },
    ], doc.levels, { caption: t('super.levels_caption', { n: doc.window_days }) }),
    h('p', { class: 'hint' }, t('super.weights', { list: doc.ranking_weights.map((w) => `${word('super.w', w.name)} ${fmtShare(w.weight, 0)}`).join(', ') })));
}

function inviteForm() {
  const error = alertBox();
  const info = statusBox();
  const postcode = h('input', { name: 'postcode', type: 'text', inputmode: 'numeric', pattern: '[0-9]{4}', maxlength: '4', required: true, autocomplete: 'off', value: '8001' });
  const radius = h('input', { name: 'radius_km', type: 'number', min: '1', max: '30', step: '0.5', required: true, value: '5' });
  const subject = h('input', { name: 'subject', type: 'text', minlength: '3', maxlength: '150', required: true });
  const text = h('textarea', { name: 'text', rows: '5', minlength: '10', maxlength: '4000', required: true });
  const submit = h('button', { type: 'submit', class: 'button' }, t('super.send'));
  const form = h('form', { class: 'form', id: 'invitation-form', novalidate: true },
    error,
    h('div', { class: 'field-row' }, field(t('super.postcode'), postcode, t('super.postcode_hint')), field(t('super.radius'), radius, t('super.radius_hint'))),
    field(t('super.subject'), subject),
    field(t('super.text'), text, t('super.text_hint')),
    submit, info);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(error, info);
    const km = Number(radius.value);
    const problem = !/^\d{4}$/.test(postcode.value.trim()) ? [postcode, 'super.bad_postcode']
      : !(km >= 1 && km <= 30) ? [radius, 'super.bad_radius']
        : subject.value.trim().length < 3 ? [subject, 'super.bad_subject']
          : text.value.trim().length < 10 ? [text, 'super.bad_text'] : null;
    for (const el of [postcode, radius, subject, text]) el.removeAttribute('aria-invalid');
    if (problem) {
      error.textContent = t(problem[1]);
      problem[0].setAttribute('aria-invalid', 'true');
      problem[0].focus();
      return;
    }
    await busy(submit, async () => {
      try {
        const r = await api('/v1/ops/invitations', {
          method: 'POST', body: { postcode: postcode.value.trim(), radius_km: km, subject: subject.value.trim(), text: text.value.trim() },
        });
        info.textContent = t('super.sent', { n: r.invited });
        subject.value = '';
        text.value = '';
      } catch (err) {
        showError(error, err);
      }
    });
  });
  return form;
}

async function drawPreviews(slot, ctx) {
  const error = alertBox();
  const info = statusBox();
  let items;
  try { items = (await api('/v1/catalog')).items || []; } catch (err) { fill(slot, error); showError(error, err); return; }
  if (ctx.stale()) return;
  fill(slot, error, info, table([
    { key: 'name', label: t('super.service'), render: (s) => s.name },
    {
      key: 'preview', label: t('super.preview'),
      render: (s) => {
        const box = h('input', { type: 'checkbox', name: `preview-${s.slug}`, 'data-slug': s.slug, id: uid('pv') });
        box.checked = !!s.preview;
        box.addEventListener('change', async () => {
          clear(error, info);
          const want = box.checked;
          box.disabled = true;
          try {
            await api(`/v1/ops/catalog/${encodeURIComponent(s.slug)}`, { method: 'PUT', body: { preview: want } });
            s.preview = want;
            info.textContent = t(want ? 'super.preview_on' : 'super.preview_off', { name: s.name });
          } catch (err) {
            box.checked = !want;
            showError(error, err);
          } finally {
            box.disabled = false;
          }
        });
        return h('label', { class: 'choice', for: box.id }, box, ` ${t('super.preview_label')}`, h('span', { class: 'sr-only' }, `: ${s.name}`));
      },
    },
  ], items, { caption: t('super.previews_caption') }));
}

const S = {
  'nav.superhelpers': ['Super-helpers', 'Super-Helfer', 'Super-aides', 'Super-aiutanti'],
  'super.title': ['Super-helpers', 'Super-Helfer', 'Super-aides', 'Super-aiutanti'],
  'super.lead': ['The few helpers who carry a neighbourhood: invite them, give them preview services first, and see the published thresholds of every level.', 'Die wenigen Helfer, die ein Quartier tragen: einladen, ihnen Vorschau-Dienste zuerst geben und die veröffentlichten Schwellen jeder Stufe sehen.', 'Les quelques aides qui portent un quartier: les inviter, leur donner d’abord les services en avant-première et voir les seuils publiés de chaque niveau.', 'I pochi aiutanti che reggono un quartiere: invitarli, dare loro per primi i servizi in anteprima e vedere le soglie pubblicate di ogni livello.'],
  'super.invite': ['Invite the super-helpers of a region', 'Super-Helfer einer Region einladen', 'Inviter les super-aides d’une région', 'Invitare i super-aiutanti di una regione'],
  'super.invite_lead': ['Every super-helper living within the radius gets an e-mail and a notice (for example for a meet-up). The invitation is logged in the audit log.', 'Jeder Super-Helfer im Umkreis erhält eine E-Mail und eine Mitteilung (etwa für ein Treffen). Die Einladung wird im Audit-Log festgehalten.', 'Chaque super-aide habitant dans le rayon reçoit un e-mail et un avis (par exemple pour une rencontre). L’invitation est inscrite au journal d’audit.', 'Ogni super-aiutante che abita nel raggio riceve un’e-mail e un avviso (ad esempio per un incontro). L’invito è registrato nel registro di audit.'],
  'super.postcode': ['Centre (postcode)', 'Zentrum (PLZ)', 'Centre (NPA)', 'Centro (NPA)'],
  'super.postcode_hint': ['A postcode of the region, e.g. 8004.', 'Eine PLZ der Region, z. B. 8004.', 'Un NPA de la région, p. ex. 8004.', 'Un NPA della regione, p. es. 8004.'],
  'super.radius': ['Radius (km)', 'Umkreis (km)', 'Rayon (km)', 'Raggio (km)'],
  'super.radius_hint': ['1 to 30 km around the postcode.', '1 bis 30 km um die PLZ.', '1 à 30 km autour du NPA.', 'Da 1 a 30 km attorno all’NPA.'],
  'super.subject': ['Subject', 'Betreff', 'Objet', 'Oggetto'],
  'super.text': ['Message', 'Nachricht', 'Message', 'Messaggio'],
  'super.text_hint': ['10 to 4000 characters.', '10 bis 4000 Zeichen.', '10 à 4000 caractères.', 'Da 10 a 4000 caratteri.'],
  'super.send': ['Send invitation', 'Einladung senden', 'Envoyer l’invitation', 'Invia invito'],
  'super.sent': ['Invitation sent to {n} super-helpers.', 'Einladung an {n} Super-Helfer gesendet.', 'Invitation envoyée à {n} super-aides.', 'Invito inviato a {n} super-aiutanti.'],
  'super.bad_postcode': ['Enter a four-digit postcode.', 'Geben Sie eine vierstellige PLZ ein.', 'Saisissez un NPA à quatre chiffres.', 'Inserisci un NPA di quattro cifre.'],
  'super.bad_radius': ['The radius is 1 to 30 km.', 'Der Umkreis beträgt 1 bis 30 km.', 'Le rayon va de 1 à 30 km.', 'Il raggio va da 1 a 30 km.'],
  'super.bad_subject': ['Give a subject of at least 3 characters.', 'Geben Sie einen Betreff von mindestens 3 Zeichen ein.', 'Indiquez un objet d’au moins 3 caractères.', 'Indica un oggetto di almeno 3 caratteri.'],
  'super.bad_text': ['Write a message of at least 10 characters.', 'Schreiben Sie eine Nachricht von mindestens 10 Zeichen.', 'Écrivez un message d’au moins 10 caractères.', 'Scrivi un messaggio di almeno 10 caratteri.'],
  'super.previews': ['Preview services', 'Vorschau-Dienste', 'Services en avant-première', 'Servizi in anteprima'],
  'super.previews_lead': ['A preview service is offered only by super-helpers, and customers see it marked “Preview: by super-helpers”.', 'Ein Vorschau-Dienst wird nur von Super-Helfern angeboten; die Kundschaft sieht ihn als «Vorschau: von Super-Helfer/innen» markiert.', 'Un service en avant-première n’est proposé que par les super-aides; les clients le voient marqué «Avant-première: par les super-aides».', 'Un servizio in anteprima è offerto solo dai super-aiutanti; i clienti lo vedono segnato «Anteprima: dai super-aiutanti».'],
  'super.previews_caption': ['Catalogue services', 'Dienste im Katalog', 'Services du catalogue', 'Servizi del catalogo'],
  'super.service': ['Service', 'Dienst', 'Service', 'Servizio'],
  'super.preview': ['Preview', 'Vorschau', 'Avant-première', 'Anteprima'],
  'super.preview_label': ['Super-helpers only', 'Nur Super-Helfer', 'Super-aides seulement', 'Solo super-aiutanti'],
  'super.preview_on': ['{name} is now a preview service.', '{name} ist jetzt ein Vorschau-Dienst.', '{name} est maintenant en avant-première.', '{name} è ora un servizio in anteprima.'],
  'super.preview_off': ['{name} is open to every helper again.', '{name} steht wieder allen Helfern offen.', '{name} est de nouveau ouvert à toutes les aides.', '{name} è di nuovo aperto a tutti gli aiutanti.'],
  'super.levels': ['Published levels', 'Veröffentlichte Stufen', 'Niveaux publiés', 'Livelli pubblicati'],
  'super.levels_caption': ['Thresholds over the last {n} days (all must hold)', 'Schwellen der letzten {n} Tage (alle müssen erfüllt sein)', 'Seuils sur les {n} derniers jours (tous doivent être atteints)', 'Soglie sugli ultimi {n} giorni (devono valere tutte)'],
  'super.level': ['Level', 'Stufe', 'Niveau', 'Livello'],
  'super.level.trusted': ['Trusted', 'Bewährt', 'Confirmé', 'Affidabile'],
  'super.level.super': ['Super-helper', 'Super-Helfer', 'Super-aide', 'Super-aiutante'],
  'super.min_completed': ['Jobs done, at least', 'Einsätze, mindestens', 'Missions, au moins', 'Incarichi, almeno'],
  'super.min_rating': ['Rating, at least', 'Bewertung, mindestens', 'Note, au moins', 'Valutazione, almeno'],
  'super.of_ratings': ['{n} ratings', '{n} Bewertungen', '{n} notes', '{n} valutazioni'],
  'super.max_response': ['Answer (median), at most', 'Antwort (Median), höchstens', 'Réponse (médiane), au plus', 'Risposta (mediana), al massimo'],
  'super.min_acceptance': ['Acceptance, at least', 'Annahme, mindestens', 'Acceptation, au moins', 'Accettazione, almeno'],
  'super.max_incidents': ['Let-downs, at most', 'Ausfälle, höchstens', 'Ratés, au plus', 'Disguidi, al massimo'],
  'super.max_disputes': ['Disputes lost, at most', 'Verlorene Streitfälle, höchstens', 'Litiges perdus, au plus', 'Contestazioni perse, al massimo'],
  'super.w.distance': ['distance', 'Entfernung', 'distance', 'distanza'],
  'super.w.language': ['language', 'Sprache', 'langue', 'lingua'],
  'super.w.rating': ['rating', 'Bewertung', 'note', 'valutazione'],
  'super.w.reliability': ['reliability', 'Zuverlässigkeit', 'fiabilité', 'affidabilità'],
  'super.w.fairness': ['fairness to new helpers', 'Fairness für Neue', 'équité envers les nouveaux', 'equità verso i nuovi'],
  'super.w.level': ['level', 'Stufe', 'niveau', 'livello'],
  'super.w.proven_skill': ['proven skill (badge)', 'bewiesenes Können (Abzeichen)', 'compétence prouvée (badge)', 'competenza provata (distintivo)'],
  'super.weights': ['Match ranking weights: {list}.', 'Gewichte der Rangfolge: {list}.', 'Poids du classement: {list}.', 'Pesi della classifica: {list}.'],
};
const table2 = { en: {}, de: {}, fr: {}, it: {} };
for (const [key, texts] of Object.entries(S)) ['en', 'de', 'fr', 'it'].forEach((l, i) => { table2[l][key] = texts[i]; });
addStrings(table2);
