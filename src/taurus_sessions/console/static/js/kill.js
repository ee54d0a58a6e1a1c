// Kills: every kill first asks the API for a dry run and shows its victims; only a confirmation sends
// the real kill (with the identity guard: the user and host the operator saw), then the per-id outcome.
import { h, clear, modal, table, showError, formatDuration, label } from './dom.js';
import { post, paths } from './api.js';
import { filterFields, filterSummary } from './filters.js';
import { modeSelect, victimsSelect } from './choices.js';

const OUTCOMES = ['killed', 'would_kill', 'not_found', 'internal', 'denied', 'changed'];

export function outcomeBadge(outcome, changed) {
  const known = OUTCOMES.includes(outcome);
  const badge = h('span', { class: `badge outcome outcome-${known ? outcome : 'other'}`, dataset: { outcome } });
  if (known) label(badge, `outcome.${outcome}`);
  else badge.textContent = outcome;
  if (changed && changed.length) {
    return h('span', null, badge, ' ', h('span', { class: 'muted small', i18n: ['outcome.changedFields', { fields: changed.join(', ') }] }));
  }
  return badge;
}

export function statementCell(info, limit = 80) {
  if (info === null || info === undefined || info === '') return h('span', { class: 'muted', text: '—' });
  if (info.length <= limit) return h('code', { class: 'sql', text: info });
  return h('details', { class: 'sql-details' },
    h('summary', null, h('code', { class: 'sql', text: `${info.slice(0, limit)}…` })),
    h('pre', { class: 'sql-full', text: info }));
}

export function resultTable(report, caption) {
  const rows = (report.results || []).map((r) => ({ ...(r.process || {}), id: r.id, outcome: r.outcome, changed: r.changed }));
  return table([
    { label: 'col.id', get: (r) => r.id, class: 'num' },
    { label: 'col.user', get: (r) => r.user },
    { label: 'col.host', get: (r) => r.host },
    { label: 'col.db', get: (r) => r.db },
    { label: 'col.command', get: (r) => r.command },
    { label: 'col.time', get: (r) => (r.time === undefined ? '' : formatDuration(r.time)), class: 'num' },
    { label: 'col.statement', get: (r) => statementCell(r.info, 60) },
    { label: 'col.outcome', get: (r) => outcomeBadge(r.outcome, r.changed) },
  ], rows, { caption, className: 'grid result-table', rowData: (r) => ({ id: r.id }) });
}

export function summaryLine(report) {
  const parts = [];
  for (const [outcome, count] of Object.entries(report.summary || {})) {
    if (count) parts.push(h('span', { class: 'summary-item' }, outcomeBadge(outcome), ` ${count}`));
  }
  if (report.matched !== undefined) {
    parts.unshift(h('span', { class: 'summary-item', i18n: ['kill.matched', { n: report.matched }] }));
  }
  return h('p', { class: 'summary', role: 'status' }, parts);
}

function target(ctx) {
  return h('p', { class: 'muted' }, h('span', { i18n: 'kill.onNode' }), ' ', h('strong', { text: ctx.nodeLabel }));
}

function modeNote(mode) {
  return h('p', { class: 'note', i18n: mode === 'query' ? 'kill.queryNote' : 'kill.connectionNote' });
}

function busy(buttons, on) {
  for (const b of buttons) b.disabled = on;
}

// targets: [{id, user, host}] as the operator saw them.
// onDone(report) runs when the dialog closes: report is null when nothing was sent.
export function killSessions({ targets, mode, ctx, onDone }) {
  let done = null;
  const d = modal({
    title: mode === 'query' ? 'kill.queryTitle' : 'kill.connectionTitle',
    className: 'kill-dialog wide',
    onClose: () => { if (onDone) onDone(done); },
  });
  const status = h('p', { class: 'status', role: 'status', i18n: 'kill.previewing' });
  const error = h('p', { class: 'banner error', role: 'alert', hidden: true });
  const preview = h('div', { class: 'preview' });
  d.body.append(target(ctx), modeNote(mode), status, error, preview);
  const cancel = h('button', { type: 'button', class: 'btn', i18n: 'common.cancel', onclick: () => d.close() });
  const confirm = h('button', { type: 'button', class: 'btn danger', id: 'kill-confirm', disabled: true });
  label(confirm, mode === 'query' ? 'kill.confirmQuery' : 'kill.confirmConnection', { n: 0 });
  d.footer.append(cancel, confirm);

  const guard = targets.map((p) => {
    const item = { id: p.id };
    if (p.user) item.user = p.user;
    if (p.host) item.host = p.host;
    return item;
  });
  let victims = [];

  (async () => {
    try {
      const report = await post(paths.kill(ctx.projectId, ctx.instanceId, ctx.nodeId), { processes: guard, mode, dry_run: true });
      if (!d.open) return;
      victims = (report.results || []).filter((r) => r.outcome === 'would_kill').map((r) => r.id);
      label(status, victims.length ? 'kill.previewReady' : 'kill.previewNone', { n: victims.length });
      preview.append(resultTable(report, 'kill.previewCaption'));
      label(confirm, mode === 'query' ? 'kill.confirmQuery' : 'kill.confirmConnection', { n: victims.length });
      confirm.disabled = victims.length === 0;
      (victims.length ? confirm : cancel).focus();
    } catch (exc) {
      status.hidden = true;
      showError(error, exc);
    }
  })();

  confirm.addEventListener('click', async () => {
    busy([confirm, cancel], true);
    label(status, 'kill.killing');
    status.hidden = false;
    showError(error, null);
    try {
      const body = { processes: guard.filter((g) => victims.includes(g.id)), mode, dry_run: false };
      const report = await post(paths.kill(ctx.projectId, ctx.instanceId, ctx.nodeId), body);
      done = report;
      clear(preview);
      label(status, 'kill.done');
      preview.append(summaryLine(report), resultTable(report, 'kill.resultCaption'));
      clear(d.footer);
      const close = h('button', { type: 'button', class: 'btn primary', id: 'kill-close', i18n: 'common.close', onclick: () => d.close() });
      d.footer.append(close);
      close.focus();
    } catch (exc) {
      status.hidden = true;
      showError(error, exc);
      busy([cancel], false);
    }
  });
  return d;
}

// Kill by filter: edit the filter, preview the victims (dry run), confirm.
export function killByFilter({ filter, ctx, onDone }) {
  const d = modal({ title: 'kbf.title', className: 'kbf-dialog wide', onClose: onDone });
  const fields = filterFields('kbf', filter);
  const mode = modeSelect('kbf-mode');
  const victimsSel = victimsSelect('kbf-victims');
  const maxVictims = h('input', { id: 'kbf-max', type: 'number', min: 1, step: 1, inputmode: 'numeric' });
  const previewButton = h('button', { type: 'submit', class: 'btn', id: 'kbf-preview', i18n: 'kbf.preview' });
  const form = h('form', { class: 'kbf-form', novalidate: true },
    h('fieldset', null, h('legend', { i18n: 'kbf.filterLegend' }), fields.element),
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'kbf-mode', i18n: 'kbf.mode' }), mode),
      h('div', { class: 'field' }, h('label', { for: 'kbf-victims', i18n: 'kbf.victims' }), victimsSel),
      h('div', { class: 'field' }, h('label', { for: 'kbf-max', i18n: 'kbf.max' }), maxVictims),
      h('div', { class: 'field end' }, previewButton)));
  const status = h('p', { class: 'status', role: 'status', hidden: true });
  const error = h('p', { class: 'banner error', role: 'alert', hidden: true });
  const preview = h('div', { class: 'preview' });
  d.body.append(target(ctx), h('p', { class: 'note', i18n: 'kbf.note' }), form, status, error, preview);
  const cancel = h('button', { type: 'button', class: 'btn', i18n: 'common.cancel', onclick: () => d.close() });
  const confirm = h('button', { type: 'button', class: 'btn danger', id: 'kbf-confirm', disabled: true, i18n: ['kbf.confirm', { n: 0 }] });
  d.footer.append(cancel, confirm);
  let planned = null;

  const body = (dryRun) => {
    const b = { filter: fields.read(), mode: mode.value, victims: victimsSel.value, dry_run: dryRun };
    const raw = maxVictims.value.trim();
    if (raw) b.max_victims = /^-?\d+$/.test(raw) ? Number(raw) : raw;
    return b;
  };
  form.addEventListener('input', () => {
    planned = null;
    confirm.disabled = true;
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    planned = null;
    confirm.disabled = true;
    showError(error, null);
    clear(preview);
    label(status, 'kill.previewing');
    status.hidden = false;
    previewButton.disabled = true;
    try {
      const request = body(true);
      const report = await post(paths.killByFilter(ctx.projectId, ctx.instanceId, ctx.nodeId), request);
      const count = (report.results || []).filter((r) => r.outcome === 'would_kill').length;
      label(status, count ? 'kbf.previewReady' : 'kill.previewNone', { n: count, matched: report.matched ?? count });
      preview.append(resultTable(report, 'kill.previewCaption'));
      if (count) {
        planned = { ...request, dry_run: false, max_victims: Math.min(count, typeof request.max_victims === 'number' ? request.max_victims : count) };
        label(confirm, 'kbf.confirm', { n: count });
        confirm.disabled = false;
        confirm.focus();
      }
    } catch (exc) {
      status.hidden = true;
      showError(error, exc);
    } finally {
      previewButton.disabled = false;
    }
  });
  confirm.addEventListener('click', async () => {
    if (!planned) return;
    busy([confirm, cancel, previewButton], true);
    showError(error, null);
    label(status, 'kill.killing');
    try {
      const report = await post(paths.killByFilter(ctx.projectId, ctx.instanceId, ctx.nodeId), planned);
      form.hidden = true;
      clear(preview);
      label(status, 'kill.done');
      preview.append(h('p', { class: 'muted', text: filterSummary(planned.filter) }), summaryLine(report), resultTable(report, 'kill.resultCaption'));
      clear(d.footer);
      const close = h('button', { type: 'button', class: 'btn primary', id: 'kill-close', i18n: 'common.close', onclick: () => d.close() });
      d.footer.append(close);
      close.focus();
    } catch (exc) {
      status.hidden = true;
      showError(error, exc);
      busy([cancel, previewButton], false);
    }
  });
  fields.inputs.user.focus();
  return d;
}
