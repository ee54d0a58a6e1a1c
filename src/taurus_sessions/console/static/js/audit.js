// The audit trail: filter, page, and download every matching record as JSON lines or CSV.
import { h, clear, label, showError, formatTime, table, download } from './dom.js';
import { get, paths } from './api.js';
import { state, projectId, nodeLabel, nodeNameOf } from './state.js';
import { outcomeBadge, statementCell } from './kill.js';
import { modeLabel } from './choices.js';

const OUTCOMES = ['ok', 'refused', 'failed', 'pending', 'interrupted'];
const ACTIONS = ['deleteProcesses', 'killProcesses', 'killByFilter', 'killTask', 'createKillTask', 'stopKillTask', 'dasDeleteProcess'];
const PAGE_SIZES = [20, 50, 100];
const DOWNLOAD_PAGE = 100;
const CSV_FIELDS = [
  'id', 'at', 'request_id', 'action', 'project_id', 'instance_id', 'node_id', 'actor_kind',
  'actor_name', 'access_key', 'task_id', 'source_ip', 'mode', 'dry_run', 'outcome', 'http_status',
  'error_code', 'requested', 'results', 'occurrences', 'last_at',
];
// A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"); text
// from the trail (statements, names) gets a leading apostrophe instead.
const FORMULA_START = /^[=+\-@\t\r]/;

function csvCell(value) {
  let text;
  if (value === null || value === undefined) text = '';
  else if (typeof value === 'object') text = JSON.stringify(value);
  else if (typeof value === 'boolean') text = value ? 'True' : 'False';
  else text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(events) {
  const lines = [CSV_FIELDS.join(',')];
  for (const event of events) lines.push(CSV_FIELDS.map((f) => csvCell(event[f])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function toJsonLines(events) {
  return events.map((e) => `${JSON.stringify(e)}\n`).join('');
}

// datetime-local (the browser's time zone) -> ISO 8601 in UTC
function isoFromLocal(value) {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function stamp() {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function createAuditView(panel) {
  const st = { offset: 0, limit: 20, query: {}, active: false, seq: 0, loaded: false };

  const instanceSel = h('select', { id: 'audit-instance' });
  const nodeSel = h('select', { id: 'audit-node' });
  const actor = h('input', { id: 'audit-actor', type: 'text', autocomplete: 'off', attrI18n: { placeholder: 'audit.actorHint' } });
  const outcomeSel = h('select', { id: 'audit-outcome' },
    h('option', { value: '', i18n: 'common.any' }),
    OUTCOMES.map((o) => h('option', { value: o, i18n: `audit.outcome.${o}` })));
  const action = h('input', { id: 'audit-action', type: 'text', list: 'audit-actions', autocomplete: 'off' });
  const actionList = h('datalist', { id: 'audit-actions' }, ACTIONS.map((a) => h('option', { value: a })));
  const since = h('input', { id: 'audit-since', type: 'datetime-local', step: 1 });
  const until = h('input', { id: 'audit-until', type: 'datetime-local', step: 1 });
  const pageSel = h('select', { id: 'audit-page-size' }, PAGE_SIZES.map((n) => h('option', { value: n, text: n, selected: n === st.limit })));
  const applyBtn = h('button', { type: 'submit', class: 'btn primary', id: 'audit-apply', i18n: 'filter.apply' });
  const resetBtn = h('button', { type: 'button', class: 'btn', id: 'audit-reset', i18n: 'filter.clear' });
  const jsonlBtn = h('button', { type: 'button', class: 'btn', id: 'audit-download-jsonl', i18n: 'audit.downloadJsonl' });
  const csvBtn = h('button', { type: 'button', class: 'btn', id: 'audit-download-csv', i18n: 'audit.downloadCsv' });
  const downloadStatus = h('span', { class: 'muted', id: 'audit-download-status', role: 'status' });
  const field = (id, key, input) => h('div', { class: 'field' }, h('label', { for: id, i18n: key }), input);
  const form = h('form', { id: 'audit-filter', class: 'card filter-form', novalidate: true },
    h('fieldset', null,
      h('legend', { i18n: 'filter.legend' }),
      h('div', { class: 'filter-grid' },
        field('audit-instance', 'ctx.instance', instanceSel),
        field('audit-node', 'ctx.node', nodeSel),
        field('audit-actor', 'audit.actor', actor),
        field('audit-outcome', 'audit.outcome', outcomeSel),
        field('audit-action', 'audit.action', action),
        field('audit-since', 'audit.since', since),
        field('audit-until', 'audit.until', until),
        field('audit-page-size', 'page.size', pageSel)),
      actionList,
      h('div', { class: 'toolbar' }, applyBtn, resetBtn)));
  const error = h('p', { class: 'banner error', id: 'audit-error', role: 'alert', hidden: true });
  const listBox = h('div', { id: 'audit-list' });
  const prevBtn = h('button', { type: 'button', class: 'btn', id: 'audit-prev', i18n: 'page.prev' });
  const nextBtn = h('button', { type: 'button', class: 'btn', id: 'audit-next', i18n: 'page.next' });
  const pageInfo = h('span', { class: 'muted', id: 'audit-page-info', role: 'status' });
  panel.append(
    h('h2', { class: 'panel-title', i18n: 'audit.title' }),
    form,
    h('div', { class: 'toolbar' }, h('span', { i18n: 'audit.download' }), jsonlBtn, csvBtn, downloadStatus),
    error,
    listBox,
    h('div', { class: 'toolbar pager' }, prevBtn, pageInfo, nextBtn));

  function fillInstances(keep) {
    const chosen = keep ? instanceSel.value : state.instanceId || '';
    clear(instanceSel);
    instanceSel.append(h('option', { value: '', i18n: 'common.any' }));
    for (const inst of state.instances) instanceSel.append(h('option', { value: inst.id, text: inst.name || inst.id }));
    instanceSel.value = chosen;
    fillNodes(keep);
  }

  function fillNodes(keep) {
    const chosen = keep ? nodeSel.value : '';
    clear(nodeSel);
    nodeSel.append(h('option', { value: '', i18n: 'common.any' }));
    const inst = state.instances.find((i) => i.id === instanceSel.value);
    for (const node of inst ? inst.nodes : []) nodeSel.append(h('option', { value: node.id, text: nodeLabel(node) }));
    nodeSel.value = [...nodeSel.options].some((o) => o.value === chosen) ? chosen : '';
  }

  function readQuery() {
    return {
      instance_id: instanceSel.value || undefined,
      node_id: nodeSel.value || undefined,
      actor: actor.value.trim() || undefined,
      outcome: outcomeSel.value || undefined,
      action: action.value.trim() || undefined,
      since: isoFromLocal(since.value),
      until: isoFromLocal(until.value),
    };
  }

  async function load() {
    if (!st.active) return;
    const seq = ++st.seq;
    try {
      const data = await get(paths.audit(projectId()), { ...st.query, offset: st.offset, limit: st.limit });
      if (seq !== st.seq) return;
      showError(error, null);
      render(data);
    } catch (exc) {
      if (seq !== st.seq) return;
      showError(error, exc);
    }
  }

  function requestedText(requested) {
    if (!requested || typeof requested !== 'object') return '';
    if (Array.isArray(requested.processes)) return requested.processes.map((p) => (typeof p === 'object' && p ? p.id : p)).join(', ');
    return JSON.stringify(requested);
  }

  // The per-session results unfold in a full-width row under the record.
  function resultsCell(event) {
    const results = event.results || [];
    if (!results.length) return h('span', { class: 'muted', text: '—' });
    const detailId = `audit-results-${event.id}`;
    const toggle = h('button', {
      type: 'button',
      class: 'btn small results-toggle',
      'aria-expanded': 'false',
      'aria-controls': detailId,
      i18n: ['audit.resultsCount', { n: results.length }],
    });
    toggle.addEventListener('click', () => {
      const row = toggle.closest('tr');
      const open = document.getElementById(detailId);
      if (open) {
        open.remove();
        toggle.setAttribute('aria-expanded', 'false');
        return;
      }
      const columns = row.children.length;
      row.after(h('tr', { id: detailId, class: 'results-row' }, h('td', { colspan: columns },
        table([
          { label: 'col.id', get: (r) => r.id, class: 'num' },
          { label: 'col.outcome', get: (r) => outcomeBadge(r.outcome) },
          { label: 'col.user', get: (r) => r.user },
          { label: 'col.host', get: (r) => r.host },
          { label: 'col.db', get: (r) => r.db },
          { label: 'col.command', get: (r) => r.command },
          { label: 'col.time', get: (r) => r.time, class: 'num' },
          { label: 'col.statement', get: (r) => statementCell(r.info, 100) },
        ], results, { className: 'grid nested', rowData: (r) => ({ id: r.id }) }))));
      toggle.setAttribute('aria-expanded', 'true');
    });
    return toggle;
  }

  function render(data) {
    clear(listBox);
    const events = (data && data.events) || [];
    const total = (data && data.total_count) || 0;
    listBox.append(table([
      { label: 'audit.at', get: (e) => formatTime(e.at) },
      { label: 'audit.actor', get: (e) => h('span', null, e.actor_name || '—', h('span', { class: 'muted small', text: ` (${e.actor_kind || ''})` })) },
      { label: 'audit.action', get: (e) => h('code', { text: e.action || '' }) },
      { label: 'ctx.node', get: (e) => nodeNameOf(e.node_id) },
      { label: 'kbf.mode', get: (e) => (e.mode ? modeLabel(e.mode) : '') },
      { label: 'audit.dryRun', get: (e) => (e.dry_run ? h('span', { i18n: 'common.yes' }) : '') },
      { label: 'audit.outcome', get: (e) => h('span', { class: `badge audit-${e.outcome}`, i18n: OUTCOMES.includes(e.outcome) ? `audit.outcome.${e.outcome}` : undefined, text: OUTCOMES.includes(e.outcome) ? undefined : e.outcome }) },
      { label: 'audit.status', get: (e) => `${e.http_status ?? ''}${e.error_code ? ` ${e.error_code}` : ''}` },
      { label: 'audit.requested', get: (e) => requestedText(e.requested) },
      { label: 'audit.results', get: resultsCell },
    ], events, { empty: 'audit.empty', className: 'grid audit-table', rowData: (e) => ({ eventId: e.id }) }));
    label(pageInfo, 'page.info', { from: events.length ? st.offset + 1 : 0, to: st.offset + events.length, total });
    pageInfo.dataset.total = String(total);
    prevBtn.disabled = st.offset <= 0;
    nextBtn.disabled = st.offset + events.length >= total;
  }

  async function fetchAll() {
    // Newest first: a record written while paging pushes the others one place down, so pages may
    // overlap (duplicates are dropped by id) but never skip one. Stop at the first short page.
    const seen = new Set();
    const events = [];
    for (let offset = 0; ; offset += DOWNLOAD_PAGE) {
      const data = await get(paths.audit(projectId()), { ...st.query, offset, limit: DOWNLOAD_PAGE });
      const page = (data && data.events) || [];
      for (const e of page) {
        if (!seen.has(e.id)) {
          seen.add(e.id);
          events.push(e);
        }
      }
      label(downloadStatus, 'audit.downloading', { n: events.length, total: data.total_count || 0 });
      if (page.length < DOWNLOAD_PAGE) break;
    }
    return events.sort((a, b) => b.id - a.id);
  }

  async function exportAs(kind) {
    jsonlBtn.disabled = true;
    csvBtn.disabled = true;
    showError(error, null);
    try {
      const events = await fetchAll();
      const name = `audit-${projectId()}-${stamp()}`;
      if (kind === 'csv') download(`${name}.csv`, toCsv(events), 'text/csv;charset=utf-8');
      else download(`${name}.jsonl`, toJsonLines(events), 'application/x-ndjson;charset=utf-8');
      label(downloadStatus, 'audit.downloaded', { n: events.length });
    } catch (exc) {
      downloadStatus.textContent = '';
      showError(error, exc);
    } finally {
      jsonlBtn.disabled = false;
      csvBtn.disabled = false;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    st.query = readQuery();
    st.limit = Number(pageSel.value);
    st.offset = 0;
    load();
  });
  resetBtn.addEventListener('click', () => {
    form.reset();
    fillInstances(false);
    st.query = readQuery();
    st.offset = 0;
    load();
  });
  instanceSel.addEventListener('change', () => fillNodes(false));
  prevBtn.addEventListener('click', () => { st.offset = Math.max(0, st.offset - st.limit); load(); });
  nextBtn.addEventListener('click', () => { st.offset += st.limit; load(); });
  jsonlBtn.addEventListener('click', () => exportAs('jsonl'));
  csvBtn.addEventListener('click', () => exportAs('csv'));

  return {
    activate() {
      st.active = true;
      if (!st.loaded) {
        st.loaded = true;
        fillInstances(false);
        st.query = readQuery();
      }
      load();
    },
    deactivate() {
      st.active = false;
      st.seq += 1;
    },
    contextChanged() {},
    languageChanged() {
      fillInstances(true);
      if (st.active) load();
    },
    destroy() {
      st.active = false;
    },
  };
}
