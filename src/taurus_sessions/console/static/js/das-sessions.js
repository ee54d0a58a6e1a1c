// An instance's sessions as a registered database user (DAS's ListProcesses and DeleteProcess):
// what that account may see — all sessions with PROCESS, its own without — on the chosen node, and
// kills the node accepts from it (on the primary, as DAS kills).
import { h, append, clear, label, showError, table } from './dom.js';
import { get, del, paths } from './api.js';
import { can, ACTIONS, projectId, state, currentNode, isPrimary } from './state.js';

const PAGE_SIZE = 20; // DAS's own default

export function createDasSessions() {
  const canKill = can(ACTIONS.dasKill);
  const st = { user: null, instanceId: null, offset: 0, selected: new Set(), rows: [], count: 0 };
  const title = h('h3', { id: 'das-sessions-title' });
  const userFilter = h('input', { id: 'das-filter-user', autocomplete: 'off', maxlength: 128 });
  const dbFilter = h('input', { id: 'das-filter-db', autocomplete: 'off', maxlength: 64 });
  const filters = h('form', { class: 'toolbar', id: 'das-filters' },
    h('label', { class: 'inline-field', for: 'das-filter-user' }, h('span', { i18n: 'col.user' }), userFilter),
    h('label', { class: 'inline-field', for: 'das-filter-db' }, h('span', { i18n: 'col.db' }), dbFilter),
    h('button', { type: 'submit', class: 'btn', id: 'das-apply', i18n: 'das.apply' }),
    h('button', { type: 'button', class: 'btn', id: 'das-refresh', i18n: 'common.refresh', onclick: () => load() }));
  const error = h('p', { class: 'banner error', id: 'das-sessions-error', role: 'alert', hidden: true });
  const status = h('p', { class: 'banner info', id: 'das-kill-status', role: 'status', hidden: true });
  const box = h('div', { id: 'das-sessions-table' });
  const prev = h('button', { type: 'button', class: 'btn', id: 'das-prev', i18n: 'page.prev' });
  const next = h('button', { type: 'button', class: 'btn', id: 'das-next', i18n: 'page.next' });
  const info = h('span', { class: 'muted', id: 'das-page-info' });
  const killButton = canKill ? h('button', { type: 'button', class: 'btn danger', id: 'das-kill', i18n: 'das.kill', disabled: true }) : null;
  const primaryOnly = h('span', { class: 'muted small', id: 'das-primary-only', i18n: 'das.primaryOnly', hidden: true });
  const confirmText = h('span', { id: 'das-kill-question' });
  const confirmBar = h('div', { class: 'banner warn toolbar', id: 'das-kill-confirm', role: 'group', hidden: true },
    confirmText,
    h('button', { type: 'button', class: 'btn danger', id: 'das-kill-yes', i18n: 'kill.confirm', onclick: () => kill() }),
    h('button', { type: 'button', class: 'btn', id: 'das-kill-no', i18n: 'common.cancel', onclick: () => closeConfirm() }));
  const element = h('section', { class: 'das-sessions', id: 'das-sessions', 'aria-labelledby': 'das-sessions-title', hidden: true },
    title,
    h('p', { class: 'note', id: 'das-sessions-note' }),
    filters, error, status,
    killButton ? h('div', { class: 'toolbar' }, killButton, primaryOnly) : null,
    confirmBar, box,
    h('div', { class: 'toolbar pager' }, prev, info, next));

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    st.offset = 0;
    load();
  });
  prev.addEventListener('click', () => { st.offset = Math.max(0, st.offset - PAGE_SIZE); load(); });
  next.addEventListener('click', () => { st.offset += PAGE_SIZE; load(); });
  if (killButton) killButton.addEventListener('click', openConfirm);
  confirmBar.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeConfirm();
  });

  function nodeNote() {
    const node = currentNode();
    label(element.querySelector('#das-sessions-note'), 'das.sessionsNote', { node: node ? node.name || node.id : '' });
  }

  async function load() {
    if (!st.user || !state.instanceId) return;
    const user = st.user;
    const node = currentNode();
    const query = {
      db_user_id: user.db_user_id,
      node_id: node ? node.id : undefined,
      user: userFilter.value.trim() || undefined,
      database: dbFilter.value.trim() || undefined,
      offset: st.offset,
      limit: PAGE_SIZE,
    };
    try {
      const data = await get(paths.dasProcesses(projectId(), state.instanceId), query);
      if (user !== st.user) return;
      showError(error, null);
      st.rows = (data && data.processes) || [];
      st.count = (data && data.count) || 0;
      render();
    } catch (exc) {
      showError(error, exc);
    }
  }

  function checkbox(row) {
    const box = h('input', { type: 'checkbox', class: 'das-select', attrI18n: { 'aria-label': ['select.row', { id: row.id }] }, checked: st.selected.has(row.id) });
    box.addEventListener('change', () => {
      if (box.checked) st.selected.add(row.id);
      else st.selected.delete(row.id);
      updateKill();
    });
    return box;
  }

  function render() {
    const columns = [
      canKill ? { label: 'das.select', class: 'check', get: checkbox } : null,
      { label: 'col.id', class: 'num', get: (r) => r.id },
      { label: 'col.user', get: (r) => r.user },
      { label: 'col.host', get: (r) => r.host },
      { label: 'col.db', get: (r) => r.database },
      { label: 'col.command', get: (r) => r.command },
      { label: 'col.time', class: 'num', get: (r) => r.time },
      { label: 'col.state', get: (r) => r.state },
      { label: 'col.statement', get: (r) => (r.sql ? h('code', { text: r.sql }) : '') },
      { label: 'das.trx', class: 'num', get: (r) => r.trx_executed_time },
    ].filter(Boolean);
    clear(box).append(table(columns, st.rows, { empty: 'das.noSessions', className: 'grid sessions das-table', rowData: (r) => ({ id: r.id }) }));
    label(info, 'page.info', { from: st.rows.length ? st.offset + 1 : 0, to: st.offset + st.rows.length, total: st.count });
    prev.disabled = st.offset <= 0;
    next.disabled = st.offset + st.rows.length >= st.count;
    updateKill();
  }

  function updateKill() {
    if (!killButton) return;
    const onPrimary = isPrimary(currentNode());
    primaryOnly.hidden = onPrimary;
    killButton.disabled = !onPrimary || st.selected.size === 0;
    label(killButton, 'das.killSelected', { n: st.selected.size });
  }

  function openConfirm() {
    label(confirmText, 'das.killQuestion', { n: st.selected.size, name: st.user.db_username });
    confirmBar.hidden = false;
    confirmBar.querySelector('#das-kill-yes').focus();
  }

  function closeConfirm() {
    confirmBar.hidden = true;
    if (killButton) killButton.focus();
  }

  async function kill() {
    const ids = [...st.selected];
    confirmBar.hidden = true;
    try {
      await del(paths.dasKill(projectId(), state.instanceId), { db_user_id: st.user.db_user_id, process_ids: ids });
      st.selected.clear();
      label(status, 'das.killed', { n: ids.length });
      status.hidden = false;
      await load();
    } catch (exc) {
      showError(error, exc);
    }
    if (killButton) killButton.focus();
  }

  function reset() {
    st.offset = 0;
    st.selected.clear();
    st.rows = [];
    st.count = 0;
    status.hidden = true;
    confirmBar.hidden = true;
    showError(error, null);
  }

  return {
    element,
    show(user) {
      reset();
      st.user = user;
      st.instanceId = state.instanceId;
      label(title, 'das.sessionsAs', { name: user.db_username });
      nodeNote();
      element.hidden = false;
      load();
      userFilter.focus();
    },
    hide() {
      reset();
      st.user = null;
      element.hidden = true;
    },
    isShowing: (dbUserId) => Boolean(st.user && st.user.db_user_id === dbUserId),
    contextChanged() {
      // Another instance: its registrations are others; another node of the same: read that one.
      if (st.user && st.instanceId !== state.instanceId) this.hide();
      if (!st.user) return;
      reset();
      nodeNote();
      load();
    },
    languageChanged() {
      if (st.user) render();
    },
  };
}
