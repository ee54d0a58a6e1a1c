// A snapshot of the node's sessions (TaurusDB's CollectRealtimeSession, ShowRealtimeSessionTaskStatus,
// DownloadRealtimeSession): the service collects it in the background; this dialog starts it, follows
// its status and saves the CSV file it becomes.
import { h, label, modal, showError, download } from './dom.js';
import { get, request, paths } from './api.js';

const FILTERS = ['total', 'active', 'slow', 'long'];
const SORT_KEYS = ['id', 'state_duration', 'trx_executed_time', 'trx_id', 'trx_lock_duration',
  'trx_lock_rows', 'trx_lock_tables', 'trx_update_rows'];
const POLL_MS = 500;
// A collection ends within a minute or so (the service bounds it); past this the dialog stops asking.
const GIVE_UP_MS = 180000;

const field = (id, key, input) => h('div', { class: 'field' }, h('label', { for: id, i18n: key }), input);

function inputs() {
  return {
    filter: h('select', { id: 'snap-filter' }, FILTERS.map((f) => h('option', { value: f, i18n: `snap.filter.${f}` }))),
    threshold: h('input', { id: 'snap-threshold', type: 'number', min: 1, max: 86400, step: 1, value: 10, inputmode: 'numeric' }),
    sortKey: h('select', { id: 'snap-sort' }, SORT_KEYS.map((k) => h('option', { value: k, i18n: `snap.sort.${k}` }))),
    sortDir: h('select', { id: 'snap-dir' },
      h('option', { value: 'asc', i18n: 'snap.asc' }), h('option', { value: 'desc', i18n: 'snap.desc' })),
    sqlKey: h('input', { id: 'snap-sql-key', type: 'text', autocomplete: 'off', maxlength: 1024 }),
  };
}

// The body as typed; a threshold that is no whole number goes as typed, and the API's error names it.
function body(form) {
  const text = form.threshold.value.trim();
  const spec = {
    filter: form.filter.value,
    slow_process_threshold: /^\d+$/.test(text) ? Number(text) : text,
    sort_key: form.sortKey.value,
    sort_dir: form.sortDir.value,
  };
  const sqlKey = form.sqlKey.value.trim();
  if (sqlKey) spec.sql_key = sqlKey;
  return spec;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function snapshotDialog({ ctx }) {
  const d = modal({ title: 'snap.title', className: 'snapshot-dialog' });
  const form = inputs();
  const status = h('p', { class: 'status', id: 'snap-status', role: 'status', 'aria-live': 'polite' });
  const error = h('p', { class: 'banner error', id: 'snap-error', role: 'alert', hidden: true });
  const collect = h('button', { type: 'button', class: 'btn primary', id: 'snap-collect', i18n: 'snap.collect' });
  const save = h('button', { type: 'button', class: 'btn', id: 'snap-download', i18n: 'snap.download', hidden: true });
  const close = h('button', { type: 'button', class: 'btn', i18n: 'common.close', onclick: () => d.close() });
  d.body.append(
    h('p', { class: 'muted' }, h('span', { i18n: 'kill.onNode' }), ' ', h('strong', { text: ctx.nodeLabel })),
    h('p', { class: 'note', i18n: 'snap.explain' }),
    h('div', { class: 'row' },
      field('snap-filter', 'snap.filter', form.filter),
      field('snap-threshold', 'snap.threshold', form.threshold),
      field('snap-sort', 'snap.sortKey', form.sortKey),
      field('snap-dir', 'snap.sortDir', form.sortDir)),
    h('div', { class: 'row' }, h('div', { class: 'field grow' },
      h('label', { for: 'snap-sql-key', i18n: 'snap.sqlKey' }), form.sqlKey)),
    status, error);
  d.footer.append(close, save, collect);
  const node = paths.node(ctx.projectId, ctx.instanceId, ctx.nodeId);
  let requestId = null;

  async function waitForIt(id) {
    const until = Date.now() + GIVE_UP_MS;
    while (d.open && Date.now() < until) {
      const { status: state } = await get(`${node}/realtime-session-task`, { request_id: id });
      if (state !== 'running') return state;
      await sleep(POLL_MS);
    }
    return 'running';
  }

  collect.addEventListener('click', async () => {
    collect.disabled = true;
    save.hidden = true;
    showError(error, null);
    label(status, 'snap.running');
    try {
      const answer = (await request('POST', `${node}/realtime-session`, { body: body(form) })).data;
      requestId = answer.request_id;
      d.dlg.dataset.requestId = requestId;
      const state = await waitForIt(requestId);
      status.dataset.state = state;
      label(status, `snap.state.${state}`);
      if (state === 'finished') {
        save.hidden = false;
        save.focus();
      } else if (state === 'error') {
        await fetchFile(); // its answer says why it failed
      }
    } catch (exc) {
      status.textContent = '';
      showError(error, exc);
    } finally {
      collect.disabled = false;
    }
  });

  async function fetchFile() {
    try {
      const { text } = await request('GET', `${node}/realtime-session-result`, { query: { request_id: requestId }, raw: true });
      download(`realtime-session-${ctx.nodeId}-${requestId}.csv`, text, 'text/csv;charset=utf-8');
    } catch (exc) {
      showError(error, exc);
    }
  }

  save.addEventListener('click', fetchFile);
  collect.focus();
}
