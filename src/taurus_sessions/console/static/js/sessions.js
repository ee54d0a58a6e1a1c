// The sessions view of one node: the filter form, the auto-refreshed table with its counts, paging,
// and the kills of selected sessions, by filter, or of a lock's blocker.
import { h, label, showError } from './dom.js';
import { can, ACTIONS } from './state.js';
import { nodeContext } from './context.js';
import { killSessions, killByFilter } from './kill.js';
import { lockWaitDialog } from './lockwait.js';
import { snapshotDialog } from './snapshot.js';
import { createPoller } from './poller.js';
import { createRefreshBar } from './refresh-bar.js';
import { createSessionFilter } from './session-filter.js';
import { createSessionStats } from './session-stats.js';
import { createSessionTable } from './session-table.js';
import { createKillBar } from './session-kill-bar.js';
import { fetchSessions } from './session-list.js';

const REFRESH_SECONDS = 5;
const PAGE_SIZE = 50;
const LONG_AFTER_SECONDS = 60;

function createPager({ onPrev, onNext }) {
  const prev = h('button', { type: 'button', class: 'btn', id: 'page-prev', i18n: 'page.prev', onclick: onPrev });
  const next = h('button', { type: 'button', class: 'btn', id: 'page-next', i18n: 'page.next', onclick: onNext });
  const info = h('span', { id: 'page-info', class: 'muted', role: 'status' });
  return {
    element: h('div', { class: 'toolbar pager' }, prev, info, next),
    show(offset, shown, total) {
      label(info, 'page.info', { from: shown ? offset + 1 : 0, to: offset + shown, total });
      info.dataset.total = String(total);
      prev.disabled = offset <= 0;
      next.disabled = offset + shown >= total;
    },
  };
}

const legend = () => h('p', { class: 'legend muted small' },
  h('span', { class: 'badge mark-long', i18n: 'marks.long' }), ' ', h('span', { i18n: 'marks.longHelp' }), ' ',
  h('span', { class: 'badge mark-idle', i18n: 'marks.idle' }), ' ', h('span', { i18n: 'marks.idleHelp' }));

export function createSessionsView(panel) {
  const canKill = can(ACTIONS.kill);
  // What the table shows: the applied filter, sort and page, and the last answer (null: none yet).
  const st = { filter: {}, sort: 'id', order: 'asc', offset: 0, limit: PAGE_SIZE, data: null, idle: new Set() };
  const selected = new Map(); // id -> {id, user, host}: the sessions as the operator saw them
  let loads = 0;

  const poller = createPoller(load, { seconds: REFRESH_SECONDS });
  const refreshBar = createRefreshBar(poller, { seconds: REFRESH_SECONDS });
  const filterForm = createSessionFilter({
    limit: st.limit,
    longAfter: LONG_AFTER_SECONDS,
    onApply: apply,
    onPageSize: (limit) => goTo(0, limit),
    onLongAfter: (seconds) => table.setLongAfter(seconds),
  });
  const error = h('p', { class: 'banner error', id: 'sessions-error', role: 'alert', hidden: true });
  const stats = createSessionStats({ onPick: (key, value) => filterForm.applyFilter({ ...st.filter, [key]: value }) });
  const killBar = createKillBar({ canKill, onKill: killSelected, onClearSelection: clearSelection, onKillByFilter: openKillByFilter });
  const table = createSessionTable({
    canKill,
    selected,
    longAfter: LONG_AFTER_SECONDS,
    onSort: sortBy,
    onSelectionChange: () => killBar.showCount(selected.size),
    onLockWait: openLockWait,
  });
  const pager = createPager({
    onPrev: () => goTo(Math.max(0, st.offset - st.limit)),
    onNext: () => goTo(st.offset + st.limit),
  });
  const nodeName = h('span', { class: 'muted', id: 'sessions-node' });
  // A snapshot of every session (not only this page) as a file, with transaction details.
  const snapshot = can(ACTIONS.realtime)
    ? h('button', { type: 'button', class: 'btn', id: 'snapshot-open', i18n: 'snap.open', onclick: openSnapshot })
    : null;
  if (snapshot) refreshBar.element.append(snapshot);
  panel.append(
    h('h2', { class: 'panel-title' }, h('span', { i18n: 'sessions.title' }), ' ', nodeName),
    refreshBar.element, filterForm.element, error, stats.element, killBar.element, legend(), table.element, pager.element);

  // --- loading -----------------------------------------------------------------------------------
  async function load(current) {
    const ctx = nodeContext();
    if (!ctx) return;
    try {
      const { list, idle } = await fetchSessions(ctx, st);
      if (!current() || pastTheEnd(list)) return;
      st.data = list;
      st.idle = idle;
      render();
      showError(error, null);
      table.markStale(false);
      loads += 1;
      panel.dataset.loaded = String(loads);
      refreshBar.loaded();
    } catch (exc) {
      if (!current()) return;
      table.markStale(true);
      showError(error, exc);
      refreshBar.failed();
    }
  }

  // Sessions ended since the page was chosen and it is now past the end: show the last one instead.
  function pastTheEnd(list) {
    const total = list.total_count || 0;
    if ((list.processes || []).length || st.offset === 0 || total === 0) return false;
    goTo(Math.floor((total - 1) / st.limit) * st.limit);
    return true;
  }

  function render() {
    table.render(st.data ? st.data.processes || [] : null, st.idle);
    stats.render(st.data && st.data.stats);
    pager.show(st.offset, ((st.data && st.data.processes) || []).length, (st.data && st.data.total_count) || 0);
    killBar.showCount(selected.size);
    showSort();
  }

  function showSort() {
    table.showSort(st.sort, st.order);
    filterForm.showSort(st.sort, st.order);
  }

  function showNodeName() {
    const ctx = nodeContext();
    nodeName.textContent = ctx ? `— ${ctx.nodeLabel}` : '';
  }

  // --- what the user asks for --------------------------------------------------------------------
  function goTo(offset, limit = st.limit) {
    st.offset = offset;
    st.limit = limit;
    poller.now();
  }

  function apply({ filter, sort, order, limit }) {
    Object.assign(st, { filter, sort, order });
    goTo(0, limit);
  }

  // A second click on the sorted column turns the order; time starts with the longest.
  function sortBy(key) {
    if (st.sort === key) st.order = st.order === 'asc' ? 'desc' : 'asc';
    else Object.assign(st, { sort: key, order: key === 'time' ? 'desc' : 'asc' });
    showSort();
    goTo(0);
  }

  function clearSelection() {
    selected.clear();
    table.syncSelection();
    killBar.showCount(0);
  }

  function killSelected(mode) {
    const ctx = nodeContext();
    if (!ctx || !selected.size) return;
    killSessions({
      targets: [...selected.values()],
      mode,
      ctx,
      onDone: (report) => {
        // A kill that was sent clears its sessions from the selection; a cancelled one keeps them.
        if (report) {
          for (const result of report.results || []) selected.delete(result.id);
          table.syncSelection();
          killBar.showCount(selected.size);
        }
        poller.now();
      },
    });
  }

  function openKillByFilter() {
    const ctx = nodeContext();
    if (ctx) killByFilter({ filter: filterForm.typedFilter(), ctx, onDone: () => poller.now() });
  }

  function openSnapshot() {
    const ctx = nodeContext();
    if (ctx) snapshotDialog({ ctx });
  }

  function openLockWait(pid) {
    const ctx = nodeContext();
    if (ctx) lockWaitDialog({ pid, ctx, canKill, onKilled: () => poller.now() });
  }

  return {
    activate() {
      poller.start();
    },
    // Another tab is shown: no refresh until this one is back.
    deactivate() {
      poller.stop();
    },
    contextChanged() {
      st.offset = 0;
      st.data = null;
      selected.clear();
      table.clear();
      showNodeName();
      render();
      poller.now();
    },
    languageChanged() {
      showNodeName();
      stats.render(st.data && st.data.stats, true);
    },
    // Signed out: nothing may run on.
    destroy() {
      poller.stop();
    },
  };
}
