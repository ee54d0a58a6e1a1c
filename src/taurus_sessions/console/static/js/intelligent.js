// Intelligent kill (TaurusDB's ShowIntelligentKillSessionStatistic / ExecuteIntelligentKillSession /
// ListIntelligentKillSessionHistory): the node's running sessions grouped by SQL template, the top
// three groups per strategy drawn as bars, a confirmation before the groups are killed, and the
// history with each task's download.
import { h, append, clear, label, modal, showError, formatTime, table, download } from './dom.js';
import { get, post, request, paths } from './api.js';
import { can, ACTIONS, projectId } from './state.js';
import { nodeContext } from './context.js';
import { statementCell } from './kill.js';

const STRATEGIES = ['top3_time', 'top3_count', 'top3_avg_time'];
const HISTORY_DAYS = 7;

// A bar through the CSSOM (a strict Content-Security-Policy refuses style attributes).
function barCell(value, max, text) {
  const width = max > 0 ? Math.max(2, (100 * value) / max) : 0;
  return h('span', { class: 'bar-row compact' },
    h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: 'bar-fill', style: { width: `${width}%` } })),
    h('span', { class: 'bar-count', text }));
}

function seconds(value) {
  return `${Number(value).toFixed(1)} s`;
}

function groupsTable(stats, strategy) {
  const rows = stats.filter((s) => s.strategy === strategy);
  const maxTime = Math.max(0, ...rows.map((s) => s.max_time));
  const maxCount = Math.max(0, ...rows.map((s) => s.count));
  const maxAvg = Math.max(0, ...rows.map((s) => s.avg_time));
  return table([
    { label: 'intel.template', get: (s) => h('code', { class: 'sql', text: s.keyword }) },
    { label: 'intel.sessions', get: (s) => barCell(s.count, maxCount, s.count) },
    { label: 'intel.maxTime', get: (s) => barCell(s.max_time, maxTime, seconds(s.max_time)) },
    { label: 'intel.avgTime', get: (s) => barCell(s.avg_time, maxAvg, seconds(s.avg_time)) },
    { label: 'intel.totalTime', get: (s) => seconds(s.total_time), class: 'num' },
    { label: 'intel.example', get: (s) => statementCell(s.example_sql_text, 60) },
  ], rows, {
    caption: `intel.strategy.${strategy}`,
    empty: 'intel.noGroups',
    className: 'grid intel-table',
    rowData: (s) => ({ strategy: s.strategy, keyword: s.keyword }),
  });
}

// Every session of a group some strategy ranked: what the execution kills.
function victims(stats) {
  const ids = new Set();
  for (const s of stats) for (const id of s.ids) ids.add(id);
  return ids;
}

export function createIntelligentView(panel) {
  const canRun = can(ACTIONS.executeIntelligent) && can(ACTIONS.kill);
  let stats = [];
  const status = h('span', { class: 'muted', id: 'intel-status', role: 'status' });
  const previewBtn = h('button', { type: 'button', class: 'btn', id: 'intel-preview', i18n: 'intel.preview' });
  const runBtn = canRun ? h('button', { type: 'button', class: 'btn danger', id: 'intel-run', i18n: 'intel.run', disabled: true }) : null;
  const error = h('p', { class: 'banner error', id: 'intel-error', role: 'alert', hidden: true });
  const notice = h('p', { class: 'banner info', id: 'intel-notice', role: 'status', hidden: true });
  const groups = h('div', { id: 'intel-groups' });
  const history = h('div', { id: 'intel-history' });
  append(panel, [
    h('h2', { class: 'panel-title', i18n: 'intel.title' }),
    h('p', { class: 'muted', i18n: 'intel.explain' }),
    h('div', { class: 'toolbar' }, previewBtn, runBtn, status),
    error, notice, groups,
    h('h3', { i18n: 'intel.history' }), history]);

  async function load() {
    const ctx = nodeContext();
    if (!ctx) return;
    previewBtn.disabled = true;
    try {
      const data = await get(paths.intelligentStatistic(projectId(), ctx.instanceId), { node_id: ctx.nodeId });
      stats = data.statistics || [];
      showError(error, null);
      clear(groups).append(...STRATEGIES.map((strategy) => groupsTable(stats, strategy)));
      label(status, 'intel.found', { groups: new Set(stats.map((s) => s.keyword)).size, sessions: victims(stats).size });
      if (runBtn) runBtn.disabled = stats.length === 0;
      panel.dataset.loaded = String(Date.now());
    } catch (exc) {
      showError(error, exc);
    } finally {
      previewBtn.disabled = false;
    }
    await loadHistory(ctx);
  }

  async function loadHistory(ctx) {
    const now = Date.now();
    try {
      const data = await get(paths.intelligentHistory(projectId(), ctx.instanceId), {
        node_id: ctx.nodeId, start_time: now - HISTORY_DAYS * 86400000, end_time: now + 1000, limit: '20',
      });
      clear(history).append(table([
        { label: 'intel.task', get: (e) => h('code', { text: e.task_id }) },
        { label: 'intel.started', get: (e) => formatTime(new Date(e.start_time * 1000).toISOString()) },
        { label: 'intel.ended', get: (e) => formatTime(new Date(e.end_time * 1000).toISOString()) },
        { label: 'col.actions', get: (e) => h('button', { type: 'button', class: 'btn small', i18n: 'intel.download', onclick: () => fetchCsv(e) }) },
      ], data.intelligent_kill_session_histories || [], { empty: 'intel.noHistory', className: 'grid intel-history', rowData: (e) => ({ taskId: e.task_id }) }));
    } catch (exc) {
      showError(error, exc);
    }
  }

  // The link needs the caller's token too: fetched here, saved as a file.
  async function fetchCsv(entry) {
    try {
      const url = new URL(entry.download_link);
      const { text } = await request('GET', url.pathname + url.search, { raw: true });
      download(`intelligent-kill-${entry.task_id}.csv`, text, 'text/csv;charset=utf-8');
    } catch (exc) {
      showError(error, exc);
    }
  }

  function confirmRun() {
    const ctx = nodeContext();
    const templates = [...new Set(stats.map((s) => s.keyword))];
    const dlg = modal({ title: 'intel.confirmTitle', className: 'intel-dialog' });
    const dlgError = h('p', { class: 'banner error', role: 'alert', hidden: true });
    append(dlg.body, [
      dlgError,
      h('p', { i18n: ['intel.confirmText', { sessions: victims(stats).size, groups: templates.length }] }),
      h('ul', { class: 'templates' }, templates.map((k) => h('li', null, h('code', { class: 'sql', text: k })))),
    ]);
    const go = h('button', { type: 'button', class: 'btn danger', id: 'intel-confirm', i18n: 'intel.confirm' });
    const cancel = h('button', { type: 'button', class: 'btn', i18n: 'common.cancel', onclick: () => dlg.close() });
    append(dlg.footer, [cancel, go]);
    go.addEventListener('click', async () => {
      go.disabled = true;
      try {
        const answer = await post(paths.intelligentExecute(projectId(), ctx.instanceId), { node_id: ctx.nodeId });
        dlg.close();
        label(notice, 'intel.done', { task: answer.task_id });
        notice.hidden = false;
        notice.dataset.taskId = answer.task_id;
        await load();
      } catch (exc) {
        showError(dlgError, exc);
        go.disabled = false;
      }
    });
    go.focus();
  }

  previewBtn.addEventListener('click', () => { notice.hidden = true; load(); });
  if (runBtn) runBtn.addEventListener('click', confirmRun);

  return {
    activate() { load(); },
    deactivate() {},
    contextChanged() { notice.hidden = true; load(); },
    languageChanged() { if (stats.length || groups.firstChild) load(); },
    destroy() {},
  };
}
