// Aman's local interface. Served by the user's own `aman ui`, it talks only
// to that process (same origin), which does everything the CLI does. No
// framework, nothing loaded from elsewhere, nothing kept in the browser's
// storage: the passphrase goes from the field to the local process and the
// field is cleared.
'use strict';

const STRINGS = JSON.parse(document.getElementById('strings').textContent);
const LANG = document.documentElement.lang;
const POLL_MS = 10000;

// A string of the page, with {$name} filled in from args.
function t(id, args) {
  let text = Object.prototype.hasOwnProperty.call(STRINGS, id) ? STRINGS[id] : id;
  // Fluent writes an unfilled variable as {$name}, between Unicode isolation
  // marks in Arabic; the marks stay, keeping a Latin name in its place.
  return text.replace(/\{\$(\w+)\}/g, (m, name) => (args && name in args ? String(args[name]) : m));
}

// A string of the page as nodes: each {$name} replaced by args[name], a
// node (such as a <bdi> holding a name someone wrote) or text.
function tNodes(id, args) {
  const text = Object.prototype.hasOwnProperty.call(STRINGS, id) ? STRINGS[id] : id;
  return text.split(/(\{\$\w+\})/).map((part) => {
    const m = /^\{\$(\w+)\}$/.exec(part);
    return m && args && m[1] in args ? args[m[1]] : part;
  });
}

// What a member, a contact or a server wrote, made safe to show: control
// characters and every bidi control (which could make one line read as
// another) become ?, as on the terminal. Always set as text, never as HTML.
function clean(text) {
  return String(text == null ? '' : text).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
}

// This program's own text (a report, in Arabic with Fluent's isolation
// marks around what it quotes): controls and overrides go, isolates stay.
// What it quotes was cleaned before it was quoted.
function cleanOurs(text) {
  return String(text == null ? '' : text).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/g, '?');
}

const $ = (id) => document.getElementById(id);

// A report's text into `target`: what sits between backticks is a command
// to type, shown as code, left to right, in any language.
function showText(target, text) {
  target.textContent = '';
  String(cleanOurs(text)).split('`').forEach((part, i) => {
    target.append(i % 2 ? el('code', { dir: 'ltr', text: part }) : part);
  });
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function fmtTime(unix) {
  if (unix == null) return '';
  // A server can send any number: one no date can hold shows as ?.
  if (typeof unix !== 'number' || !Number.isFinite(unix) || unix < 0 || unix > 253402300799) return '?';
  return new Intl.DateTimeFormat(LANG, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(unix * 1000));
}

function fmtAge(unix) {
  if (typeof unix !== 'number' || !Number.isFinite(unix) || unix < 0 || unix > 253402300799) return '?';
  const seconds = Math.round(unix - Date.now() / 1000);
  const rtf = new Intl.RelativeTimeFormat(LANG, { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}

function fmtLeft(seconds) {
  if (seconds <= 0) return t('ui-member-overdue');
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  const one = new Intl.NumberFormat(LANG, { useGrouping: false });
  const two = new Intl.NumberFormat(LANG, { minimumIntegerDigits: 2, useGrouping: false });
  return one.format(h) + ':' + two.format(m) + ':' + two.format(s);
}

// Fills every data-t element with its string.
function translatePage() {
  for (const e of document.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
}

// The session secret, swapped for the one-time token in the address's
// fragment, kept for this tab only (sessionStorage is per origin: this port).
const SESSION_KEY = 'aman-session';

async function startSession() {
  const hash = location.hash;
  if (hash.startsWith('#t=')) {
    history.replaceState(null, '', '/');
    const reply = await api('POST', '/api/session', { token: hash.slice(3) });
    if (reply.status === 200 && reply.data.session) sessionStorage.setItem(SESSION_KEY, reply.data.session);
  }
  return sessionStorage.getItem(SESSION_KEY) !== null;
}

async function api(method, path, body, background) {
  const init = { method, credentials: 'omit', cache: 'no-store', headers: {} };
  const session = sessionStorage.getItem(SESSION_KEY);
  if (session) init.headers['x-aman-session'] = session;
  if (background) init.headers['x-aman-background'] = '1';
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { status: 0, data: { error: { code: 'ui_unreachable', message: String(e) } } };
  }
  let data = {};
  try { data = await res.json(); } catch (e) { data = {}; }
  return { status: res.status, data };
}

function banner(text) {
  const b = $('banner');
  b.textContent = text || '';
  b.hidden = !text;
}

// An error as the user should read it; a locked keystore goes back to the
// unlock screen.
function explain(reply) {
  const err = (reply.data && reply.data.error) || {};
  if (reply.status === 401 && err.code === 'locked') {
    wipe();
    return '';
  }
  if (reply.status === 401 && err.code === 'no_session') return t('ui-refused-session');
  if (err.code === 'wrong_passphrase') return t('ui-wrong-passphrase');
  if (err.code === 'server_unreachable') return t('ui-unreachable');
  if (reply.status === 409) return t('ui-server-said', { message: clean(err.message) });
  return t('ui-error', { message: clean(err.message || reply.status) });
}

let roles = null;
let current = null;

// Locked: start the page again, so that nothing read while it was open
// stays in it.
function wipe() {
  if (roles !== null) location.replace('/');
  else showUnlock(t('ui-error-locked'));
}

function showScreen(name) {
  current = name;
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'screen-' + name;
  for (const b of document.querySelectorAll('#nav [data-screen]')) {
    b.setAttribute('aria-current', b.dataset.screen === name ? 'page' : 'false');
  }
  if (name === 'member') refreshMember();
  if (name === 'contacts') refreshContacts();
  if (name === 'inbox') refreshInbox();
  if (name === 'safety') refreshSafety();
}

function showUnlock(message) {
  roles = null;
  $('nav').hidden = true;
  banner(message || '');
  showScreen('unlock');
  $('unlock-passphrase').focus();
}

function afterUnlock(r) {
  roles = r;
  banner('');
  $('nav').hidden = false;
  document.querySelector('#nav [data-screen="member"]').hidden = !r.member;
  document.querySelector('#nav [data-screen="contacts"]').hidden = !r.member;
  document.querySelector('#nav [data-screen="inbox"]').hidden = !r.contact;
  showScreen(r.member ? 'member' : 'inbox');
}

// ---- member ----

let deadlineAt = null; // this browser's clock, ms
let dueAt = null;

function tick() {
  if (current !== 'member') return;
  const cd = $('countdown');
  cd.textContent = deadlineAt == null ? '—' : fmtLeft((deadlineAt - Date.now()) / 1000);
}

function showReport(data) {
  const text = (data && data.text) || '';
  $('last-report').hidden = !text;
  showText($('last-report-text'), text);
}

async function refreshMember() {
  const reply = await api('GET', '/api/member/status');
  if (reply.status !== 200) { const m = explain(reply); if (m) banner(m); return; }
  const j = reply.data.json || {};
  banner(reply.data.error ? explain({ status: 200, data: { error: reply.data.error } }) : '');
  let left = j.time_left;
  let deadline = j.deadline;
  let due = j.next_due;
  if (j.reachable === false && j.last_known) {
    deadline = j.last_known.deadline;
    due = j.last_known.next_due;
    left = deadline == null ? null : deadline - Date.now() / 1000;
  }
  deadlineAt = left == null ? null : Date.now() + left * 1000;
  dueAt = due;
  $('due-at').textContent = due == null ? '—' : fmtTime(due);
  $('deadline-at').textContent = deadline == null ? '—' : fmtTime(deadline);
  $('armed-state').textContent = deadline != null ? '' : t('ui-member-not-armed');
  const trip = j.trip;
  $('trip-state').hidden = !trip;
  $('trip-actions').hidden = !trip;
  $('trip-form').hidden = !!trip;
  if (trip) $('trip-back-at').textContent = fmtTime(trip.back_by);
  $('contacts-state').textContent = j.contacts > 0
    ? t('ui-member-contacts-linked') + ' ' + new Intl.NumberFormat(LANG).format(j.contacts)
    : t('ui-member-no-contacts');
  const pending = (j.pending_changes || []).map((p) => p.effective_at).filter((x) => x);
  $('pending-state').hidden = pending.length === 0;
  $('pending-state').textContent = pending.length ? t('ui-member-pending') + ' ' + fmtTime(Math.min(...pending)) : '';
  tick();
}

async function memberAction(path, body, doneText) {
  $('result').textContent = t('ui-loading');
  const reply = await api('POST', path, body);
  if (reply.status !== 200) {
    $('result').textContent = explain(reply);
    return false;
  }
  $('result').textContent = doneText;
  showReport(reply.data);
  await refreshMember();
  return true;
}

// ---- contacts, reminders, drills ----

function groups(number) {
  return String(number || '').replace(/\s+/g, '').replace(/(.{5})(?=.)/g, '$1 ');
}

// Fills the list `id` with a row for each item of the report's `key` array.
async function fillList(id, path, key, emptyId, row) {
  const list = $(id);
  const reply = await api('GET', path);
  list.textContent = '';
  if (reply.status !== 200) { list.append(el('li', { text: explain(reply) })); return; }
  const items = (reply.data.json && reply.data.json[key]) || [];
  if (!items.length) list.append(el('li', { text: t(emptyId) }));
  for (const item of items) list.append(row(item));
}

async function refreshContacts() {
  await fillList('contacts-list', '/api/member/contacts', 'contacts', 'ui-contacts-none', (c) => {
    const li = el('li', {}, el('strong', {}, el('bdi', { text: clean(c.label) })),
      ' · ' + t('ui-contacts-tier') + ' ' + new Intl.NumberFormat(LANG).format(c.tier));
    if (c.state === 'invited') li.append(el('p', { text: t('ui-contacts-invited') }));
    else {
      if (c.removing_at) li.append(el('p', {}, t('ui-contacts-removing') + ' ', el('span', { class: 'clock', text: fmtTime(c.removing_at) })));
      li.append(el('p', {}, t('ui-safety-number') + ': ', el('code', { dir: 'ltr', text: groups(c.safety_number) })));
    }
    return li;
  });
  const rem = await api('GET', '/api/member/reminders');
  showText($('reminders'), rem.status === 200 ? rem.data.text : explain(rem));
  const drill = await api('GET', '/api/member/drill');
  showText($('drill-status'), drill.status === 200 ? drill.data.text : explain(drill));
}

async function refreshSafety() {
  await fillList('safety-list', '/api/safety-numbers', 'safety_numbers', 'ui-safety-none', (r) => {
    const who = r.role === 'member' ? t('ui-safety-your-contact') : t('ui-safety-member');
    return el('li', {}, who + ' ', el('strong', {}, el('bdi', { text: clean(r.with) })), ': ',
      el('code', { dir: 'ltr', text: groups(r.safety_number) }));
  });
}

// ---- contact: the inbox ----

const seenAlerts = new Set();
let firstInbox = true;
let pollTimer = null;

function notifyNew() {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  // Like the server's notifications: it says only that something waits.
  try { new Notification(t('ui-notify-title'), { body: t('ui-notify-body') }); } catch (e) { /* not allowed here */ }
}

function mapBlock(location) {
  const wrap = el('div', { class: 'map' });
  const offer = el('button', { type: 'button', class: 'link', text: t('ui-map-offer') });
  offer.addEventListener('click', () => {
    offer.hidden = true;
    const url = 'https://www.openstreetmap.org/search?query=' + encodeURIComponent(location);
    wrap.append(el('p', { class: 'hint', text: t('ui-map-warning') }),
      el('a', { href: url, target: '_blank', rel: 'noreferrer noopener', text: t('ui-map-open') }));
  });
  wrap.append(offer);
  return wrap;
}

function renderAlert(a) {
  const drill = a.drill === true;
  const card = el('article', { class: 'card alert ' + (drill ? 'drill' : 'reason-' + clean(a.reason)), 'data-alert': clean(a.alert) });
  const label = el('span', { class: 'label', text: drill ? t('ui-drill-label') : t('ui-alert-label') });
  const headline = drill ? t('ui-drill-headline') : clean(a.headline);
  card.append(el('h3', {}, label, ' ', el('bdi', { text: clean(a.member) }), ' ', el('span', { class: 'headline', text: headline })));
  card.append(el('p', { class: 'meta' }, t('ui-fired-at') + ' ', el('span', { class: 'clock', text: fmtTime(a.fired_at) })));
  if (a.server_was_down) card.append(el('p', { text: t('ui-server-was-down') }));
  if (!drill && a.todo) card.append(el('p', { class: 'todo' }, el('strong', { text: t('ui-what-to-do') + ': ' }), clean(a.todo)));
  if (a.note != null) {
    const note = el('div', { class: 'note' }, el('h4', { text: t('ui-their-note') }),
      el('p', { class: 'words' }, el('bdi', { text: a.note === '' ? t('ui-note-empty') : clean(a.note) })));
    if (a.note_written_at) {
      note.append(el('p', { class: 'age' }, el('span', { class: 'clock', text: t('ui-note-age', { age: fmtAge(a.note_written_at) }) + ' · ' + fmtTime(a.note_written_at) })));
    }
    card.append(note);
  }
  if (a.location) {
    card.append(el('div', { class: 'location' }, el('h4', { text: t('ui-their-location') }),
      el('p', {}, el('bdi', { text: clean(a.location) })), mapBlock(a.location)));
  }
  if (a.plan) card.append(el('div', { class: 'plan' }, el('h4', { text: t('ui-their-plan') }), el('pre', { text: clean(a.plan) })));
  for (const n of a.notices || []) {
    const check = n.verified === true ? ' (' + t('ui-notice-verified') + ')' : n.verified === false ? ' (' + t('ui-notice-unverified') + ')' : '';
    card.append(el('p', { class: 'notice' }, clean(n.what) + ' · ', el('span', { class: 'clock', text: fmtTime(n.at) }), check + ' ' + clean(n.todo)));
  }
  let mine = false;
  for (const k of a.acks || []) {
    if (k.by === 'you') {
      mine = true;
      card.append(el('p', { class: 'ack' }, t('ui-acked-by-you') + ' ', el('span', { class: 'clock', text: fmtTime(k.at) })));
    } else {
      card.append(el('p', { class: 'ack' }, ...tNodes('ui-acked-by', { name: el('bdi', { text: clean(k.by) }) }), ' ', el('span', { class: 'clock', text: fmtTime(k.at) })));
    }
  }
  for (const w of a.warnings || []) card.append(el('p', { class: 'warning', text: t('ui-warning') + ': ' + clean(w) }));
  if (!mine) {
    const ack = el('button', { type: 'button', class: 'primary ack-button', text: t('ui-acknowledge') });
    ack.addEventListener('click', async () => {
      ack.disabled = true;
      const reply = await api('POST', '/api/contact/ack', { id: a.alert });
      if (reply.status !== 200) { ack.disabled = false; banner(explain(reply)); return; }
      banner('');
      await refreshInbox();
    });
    card.append(ack);
  }
  return card;
}

async function refreshInbox(background) {
  if (!roles || !roles.contact) return;
  const reply = await api('GET', '/api/contact/alerts', undefined, background);
  if (reply.status !== 200) { const m = explain(reply); if (m) banner(m); return; }
  banner(reply.data.error ? explain({ status: 200, data: { error: reply.data.error } }) : '');
  const j = reply.data.json || {};
  const box = $('unconfirmed');
  box.textContent = '';
  for (const u of j.unconfirmed || []) {
    const id = u.server_reachable ? 'ui-unconfirmed' : 'ui-unconfirmed-unreachable';
    box.append(el('p', { class: 'card warning unconfirmed', role: 'alert' },
      ...tNodes(id, {
        member: el('bdi', { text: clean(u.member) }),
        since: el('span', { class: 'clock', text: fmtTime(u.last_sign_of_life) }),
        deadline: el('span', { class: 'clock', text: fmtTime(u.deadline) }),
      })));
  }
  const alerts = $('alerts');
  alerts.textContent = '';
  const list = j.alerts || [];
  if (!list.length && !(j.unconfirmed || []).length) alerts.append(el('p', { class: 'card', text: t('ui-inbox-none') }));
  let fresh = false;
  for (const a of list.slice().reverse()) {
    // One alert a server made unreadable does not hide the others.
    try { alerts.append(renderAlert(a)); } catch (e) { alerts.append(el('p', { class: 'card warning', text: t('ui-error', { message: clean(a.alert) }) })); }
    if (!seenAlerts.has(a.alert)) { seenAlerts.add(a.alert); fresh = true; }
  }
  const notices = $('notices');
  notices.textContent = '';
  for (const n of j.notices || []) {
    notices.append(el('p', { class: 'card notice' }, t('ui-news') + ' ', el('bdi', { text: clean(n.member) }), ': ' + clean(n.what) + ' ',
      el('span', { class: 'clock', text: fmtTime(n.effective_at || n.at) }), ' — ' + clean(n.todo)));
  }
  $('inbox-checked').textContent = fmtTime(Date.now() / 1000);
  if (fresh && !firstInbox) notifyNew();
  firstInbox = false;
}

// The inbox refreshes itself (each poll after the last one ended), and a
// locked keystore is noticed: neither counts as using the page.
function startPolling() {
  if (pollTimer) return;
  const poll = async () => {
    if (roles && roles.contact) await refreshInbox(true);
    else if (roles) {
      const state = await api('GET', '/api/state', undefined, true);
      if (state.status === 200 && !state.data.unlocked) wipe();
    }
    pollTimer = setTimeout(poll, POLL_MS);
  };
  pollTimer = setTimeout(poll, POLL_MS);
}

// ---- wiring ----

document.addEventListener('DOMContentLoaded', async () => {
  translatePage();
  for (const b of document.querySelectorAll('#nav [data-screen]')) b.addEventListener('click', () => showScreen(b.dataset.screen));
  $('lock').addEventListener('click', async () => { await api('POST', '/api/lock', {}); location.replace('/'); });

  $('unlock-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const field = $('unlock-passphrase');
    const reply = await api('POST', '/api/unlock', { passphrase: field.value });
    field.value = '';
    if (reply.status !== 200) { banner(explain(reply)); return; }
    afterUnlock(reply.data.roles);
    startPolling();
  });

  $('checkin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const field = $('checkin-passphrase');
    const body = { passphrase: field.value, note: $('checkin-note').value, location: $('checkin-location').value };
    field.value = '';
    if (await memberAction('/api/member/checkin', body, t('ui-checked-in'))) {
      $('checkin-note').value = '';
      $('checkin-location').value = '';
    }
  });

  $('trip-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const field = $('trip-passphrase');
    const body = { passphrase: field.value, back_by: $('trip-back-by').value, grace: $('trip-grace').value, note: $('trip-note').value };
    field.value = '';
    if (await memberAction('/api/member/trip/start', body, t('ui-trip-started'))) $('trip-note').value = '';
  });
  // Extending or ending a trip is a check-in: it takes the passphrase.
  const tripPassphrase = () => { const f = $('trip-actions-passphrase'); const v = f.value; f.value = ''; return v; };
  for (const b of document.querySelectorAll('#trip-actions .extend')) {
    b.addEventListener('click', () => memberAction('/api/member/trip/extend', { passphrase: tripPassphrase(), by: b.dataset.by }, t('ui-trip-extended')));
  }
  $('trip-end').addEventListener('click', () => memberAction('/api/member/trip/end', { passphrase: tripPassphrase() }, t('ui-trip-ended')));

  const dialog = $('panic-dialog');
  $('panic-button').addEventListener('click', () => dialog.showModal());
  $('panic-cancel').addEventListener('click', () => dialog.close());
  $('panic-confirm').addEventListener('click', async () => {
    dialog.close();
    if (await memberAction('/api/member/panic', { note: $('panic-note').value }, t('ui-panic-sent'))) $('panic-note').value = '';
  });

  $('drill-send').addEventListener('click', async () => {
    const reply = await api('POST', '/api/member/drill', {});
    showText($('drill-status'), reply.status === 200 ? t('ui-drill-sent') + '\n' + reply.data.text : explain(reply));
  });

  $('notify-enable').addEventListener('click', async () => {
    if (!('Notification' in window)) return;
    const p = await Notification.requestPermission();
    if (p === 'granted') $('notify-enable').textContent = t('ui-notify-on');
  });

  setInterval(tick, 1000);
  // Leaving the page (closing the tab, reloading) locks the keystore: a tab
  // the browser restores later finds it closed.
  window.addEventListener('pagehide', () => {
    const session = sessionStorage.getItem(SESSION_KEY);
    if (!session || roles === null) return;
    fetch('/api/lock', { method: 'POST', keepalive: true, credentials: 'omit',
      headers: { 'content-type': 'application/json', 'x-aman-session': session }, body: '{}' });
  });
  if (!(await startSession())) { banner(t('ui-refused-session')); return; }
  const state = await api('GET', '/api/state');
  if (state.status === 200 && state.data.unlocked) { afterUnlock(state.data.roles); startPolling(); }
  else if (state.status === 200) showUnlock('');
  else banner(explain(state));
});
