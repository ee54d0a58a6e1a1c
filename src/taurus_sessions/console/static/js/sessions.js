// The session table of one node: filters, sorting, paging, auto-refresh, counts per user/host/db/
// command, marks for long-running and idle-in-transaction sessions, selection and kills.
import { h, clear, label, showError, formatDuration, formatTime, t } from './dom.js';
import { get, paths } from './api.js';
import { can, ACTIONS } from './state.js';
import { nodeContext } from './context.js';
import { filterFields, TEXT_FIELDS } from './filters.js';
import { killSessions, killByFilter, statementCell } from './kill.js';
import { lockWaitDialog } from './lockwait.js';

const INTERVALS = [2, 5, 10, 30, 60];
const PAGE_SIZES = [25, 50, 100];
const STAT_KEYS = [['user', 'stats.user'], ['host', 'stats.host'], ['db', 'stats.db'], ['command', 'stats.command']];
const STAT_TOP = 8;
const IDLE_PAGES = 5;

export function createSessionsView(panel) {
  const canKill = can(ACTIONS.kill);
  const st = {
    offset: 0,
    limit: 50,
    filter: {},
    sort: 'id',
    order: 'asc',
    interval: 5,
    paused: false,
    timer: null,
    seq: 0,
    active: false,
    data: null,
    idle: new Set(),
    selected: new Map(),
    longAfter: 60,
    rows: new Map(),
    stale: false,
  };

  // --- refresh controls ---
  const intervalSel = h('select', { id: 'refresh-interval' },
    INTERVALS.map((s) => h('option', { value: s, i18n: ['common.seconds', { n: s }], selected: s === st.interval })));
  const pauseBtn = h('button', { type: 'button', class: 'btn', id: 'refresh-pause', 'aria-pressed': 'false', i18n: 'refresh.pause' });
  const nowBtn = h('button', { type: 'button', class: 'btn', id: 'refresh-now', i18n: 'refresh.now' });
  const refreshStatus = h('span', { class: 'muted', id: 'refresh-status', role: 'status', 'aria-live': 'polite' });
  const refreshBar = h('div', { class: 'toolbar refresh-bar' },
    h('label', { class: 'inline-field', for: 'refresh-interval' }, h('span', { i18n: 'refresh.every' }), intervalSel),
    pauseBtn, nowBtn, refreshStatus);

  // --- filter form ---
  const fields = filterFields('flt');
  const sortSel = h('select', { id: 'sort' },
    h('option', { value: 'id', i18n: 'sort.id' }),
    h('option', { value: 'time', i18n: 'sort.time' }),
    h('option', { value: 'user', i18n: 'sort.user' }));
  const orderSel = h('select', { id: 'order' },
    h('option', { value: 'asc', i18n: 'sort.asc' }),
    h('option', { value: 'desc', i18n: 'sort.desc' }));
  const pageSel = h('select', { id: 'page-size' },
    PAGE_SIZES.map((n) => h('option', { value: n, text: n, selected: n === st.limit })));
  const longInput = h('input', { id: 'long-after', type: 'number', min: 1, step: 1, value: st.longAfter, inputmode: 'numeric' });
  const applyBtn = h('button', { type: 'submit', class: 'btn primary', id: 'filter-apply', i18n: 'filter.apply' });
  const clearBtn = h('button', { type: 'button', class: 'btn', id: 'filter-clear', i18n: 'filter.clear' });
  const filterForm = h('form', { id: 'session-filter', class: 'card filter-form', novalidate: true },
    h('fieldset', null,
      h('legend', { i18n: 'filter.legend' }),
      fields.element,
      h('p', { class: 'hint muted', i18n: 'filter.wildcards' }),
      h('div', { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: 'sort', i18n: 'sort.by' }), sortSel),
        h('div', { class: 'field' }, h('label', { for: 'order', i18n: 'sort.order' }), orderSel),
        h('div', { class: 'field' }, h('label', { for: 'page-size', i18n: 'page.size' }), pageSel),
        h('div', { class: 'field' }, h('label', { for: 'long-after', i18n: 'marks.longAfter' }), longInput),
        h('div', { class: 'field end buttons' }, applyBtn, clearBtn))));

  const error = h('p', { class: 'banner error', id: 'sessions-error', role: 'alert', hidden: true });

  // --- stats ---
  const statsBox = h('section', { class: 'stats', id: 'session-stats', 'aria-labelledby': 'stats-title' },
    h('h3', { id: 'stats-title', class: 'visually-hidden', i18n: 'stats.title' }));
  const statLists = {};
  for (const [key, title] of STAT_KEYS) {
    statLists[key] = h('ul', { class: 'bars', id: `stats-${key}` });
    statsBox.append(h('div', { class: 'stat-card card' }, h('h4', { i18n: title }), statLists[key]));
  }

  // --- kill toolbar ---
  const selCount = h('span', { id: 'selection-count', class: 'muted', i18n: ['select.count', { n: 0 }] });
  const killConnBtn = h('button', { type: 'button', class: 'btn danger', id: 'kill-connection', disabled: true, i18n: 'kill.connection' });
  const killQueryBtn = h('button', { type: 'button', class: 'btn danger-outline', id: 'kill-query', disabled: true, i18n: 'kill.query' });
  const selClearBtn = h('button', { type: 'button', class: 'btn', id: 'selection-clear', disabled: true, i18n: 'select.clear' });
  const kbfBtn = h('button', { type: 'button', class: 'btn danger-outline', id: 'kill-by-filter', i18n: 'kbf.open' });
  const killBar = canKill
    ? h('div', { class: 'toolbar kill-bar', id: 'kill-toolbar', role: 'group', attrI18n: { 'aria-label': 'kill.toolbar' } },
      selCount, killConnBtn, killQueryBtn, selClearBtn, h('span', { class: 'spacer' }), kbfBtn)
    : h('p', { class: 'muted small', id: 'readonly-note', i18n: 'kill.readonly' });

  const legend = h('p', { class: 'legend muted small' },
    h('span', { class: 'badge mark-long', i18n: 'marks.long' }), ' ', h('span', { i18n: 'marks.longHelp' }), ' ',
    h('span', { class: 'badge mark-idle', i18n: 'marks.idle' }), ' ', h('span', { i18n: 'marks.idleHelp' }));

  // --- table ---
  const selectAll = canKill ? h('input', { type: 'checkbox', id: 'select-page', attrI18n: { 'aria-label': 'select.page' } }) : null;
  const sortButtons = {};
  const sortHeader = (key, text) => {
    sortButtons[key] = h('button', { type: 'button', class: 'th-sort', dataset: { sort: key }, i18n: text });
    return h('th', { scope: 'col', class: key === 'id' || key === 'time' ? 'num' : '' }, sortButtons[key]);
  };
  const thead = h('thead', null, h('tr', null,
    canKill ? h('th', { scope: 'col', class: 'check' }, selectAll) : null,
    sortHeader('id', 'col.id'),
    sortHeader('user', 'col.user'),
    h('th', { scope: 'col', i18n: 'col.host' }),
    h('th', { scope: 'col', i18n: 'col.db' }),
    h('th', { scope: 'col', i18n: 'col.command' }),
    sortHeader('time', 'col.time'),
    h('th', { scope: 'col', i18n: 'col.state' }),
    h('th', { scope: 'col', class: 'wide', i18n: 'col.statement' }),
    h('th', { scope: 'col', i18n: 'col.actions' })));
  const tbody = h('tbody');
  const emptyRow = h('tr', { class: 'empty-row' }, h('td', { colspan: canKill ? 10 : 9, class: 'empty', i18n: 'sessions.empty' }));
  const tableEl = h('table', { class: 'grid sessions', id: 'sessions-table' },
    h('caption', { class: 'visually-hidden', i18n: 'sessions.caption' }), thead, tbody);

  // --- pager ---
  const prevBtn = h('button', { type: 'button', class: 'btn', id: 'page-prev', i18n: 'page.prev' });
  const nextBtn = h('button', { type: 'button', class: 'btn', id: 'page-next', i18n: 'page.next' });
  const pageInfo = h('span', { id: 'page-info', class: 'muted', role: 'status' });
  const pager = h('div', { class: 'toolbar pager' }, prevBtn, pageInfo, nextBtn);

  const heading = h('h2', { class: 'panel-title' }, h('span', { i18n: 'sessions.title' }), ' ', h('span', { class: 'muted', id: 'sessions-node' }));
  panel.append(heading, refreshBar, filterForm, error, statsBox, killBar, legend, h('div', { class: 'table-wrap' }, tableEl), pager);

  // --- behaviour ---
  function filterQuery() {
    const q = {};
    for (const name of TEXT_FIELDS) if (st.filter[name]) q[name] = st.filter[name];
    if (st.filter.min_time !== undefined) q.min_time = st.filter.min_time;
    if (st.filter.idle_in_trx) q.idle_in_trx = 'true';
    return q;
  }

  async function idleIds(ctx) {
    const ids = new Set();
    const base = { ...filterQuery(), idle_in_trx: 'true', limit: 100 };
    for (let page = 0; page < IDLE_PAGES; page += 1) {
      const data = await get(paths.processes(ctx.projectId, ctx.instanceId, ctx.nodeId), { ...base, offset: page * 100 });
      for (const p of data.processes || []) ids.add(p.id);
      if ((page + 1) * 100 >= (data.total_count || 0)) break;
    }
    return ids;
  }

  function setStatus(key, args) {
    label(refreshStatus, key, args);
  }

  async function refresh() {
    const ctx = nodeContext();
    if (!ctx || !st.active) return;
    const seq = ++st.seq;
    try {
      const query = { ...filterQuery(), offset: st.offset, limit: st.limit, sort: st.sort, order: st.order, stats: 'true' };
      const [list, idle] = await Promise.all([
        get(paths.processes(ctx.projectId, ctx.instanceId, ctx.nodeId), query),
        st.filter.idle_in_trx ? Promise.resolve(null) : idleIds(ctx),
      ]);
      if (seq !== st.seq) return;
      const total = list.total_count || 0;
      if (!(list.processes || []).length && st.offset > 0 && total > 0) {
        st.offset = Math.floor((total - 1) / st.limit) * st.limit;
        refresh();
        return;
      }
      st.data = list;
      st.idle = idle || new Set((list.processes || []).map((p) => p.id));
      render();
      showError(error, null);
      st.stale = false;
      tableEl.classList.remove('stale');
      panel.dataset.loaded = String(seq);
      setStatus(st.paused ? 'refresh.pausedAt' : 'refresh.updated', { time: formatTime(new Date()) });
    } catch (exc) {
      if (seq !== st.seq) return;
      st.stale = true;
      tableEl.classList.add('stale');
      showError(error, exc);
      setStatus('refresh.failed', { time: formatTime(new Date()) });
    }
  }

  function schedule() {
    clearTimeout(st.timer);
    st.timer = null;
    if (!st.active || st.paused) return;
    st.timer = setTimeout(async () => {
      if (!document.hidden) await refresh();
      schedule();
    }, st.interval * 1000);
  }

  function refreshNow() {
    refresh();
    schedule();
  }

  function renderMarks(tr, p) {
    const long = p.command !== 'Sleep' && Number(p.time) >= st.longAfter;
    const idle = st.idle.has(p.id);
    tr.classList.toggle('long', long);
    tr.classList.toggle('idle-trx', idle);
    tr.dataset.long = String(long);
    tr.dataset.idleInTrx = String(idle);
    const marks = tr._cells.marks;
    const want = `${long ? 'L' : ''}${idle ? 'I' : ''}`;
    if (marks.dataset.state !== want) {
      clear(marks);
      if (long) marks.append(h('span', { class: 'badge mark-long', i18n: 'marks.long' }));
      if (idle) marks.append(h('span', { class: 'badge mark-idle', i18n: 'marks.idle' }));
      marks.dataset.state = want;
    }
  }

  function setText(td, value) {
    const text = value === null || value === undefined ? '' : String(value);
    if (td.textContent !== text) td.textContent = text;
  }

  function buildRow(p) {
    const tr = h('tr', { dataset: { id: p.id } });
    const cells = {
      id: h('td', { class: 'num' }),
      user: h('td', { class: 'user' }),
      host: h('td', { class: 'host' }),
      db: h('td', { class: 'db' }),
      commandText: h('span', { class: 'command-text' }),
      marks: h('span', { class: 'marks' }),
      time: h('td', { class: 'num time' }),
      state: h('td', { class: 'state' }),
      statement: h('td', { class: 'statement wide' }),
      actions: h('td', { class: 'actions' }),
    };
    cells.command = h('td', { class: 'command' }, cells.commandText, ' ', cells.marks);
    tr._cells = cells;
    if (canKill) {
      const box = h('input', { type: 'checkbox', class: 'row-select', attrI18n: { 'aria-label': ['select.row', { id: p.id }] } });
      box.addEventListener('change', () => {
        const current = tr._process;
        if (box.checked) st.selected.set(current.id, { id: current.id, user: current.user, host: current.host });
        else st.selected.delete(current.id);
        updateSelection();
      });
      cells.check = box;
      tr.append(h('td', { class: 'check' }, box));
    }
    tr.append(cells.id, cells.user, cells.host, cells.db, cells.command, cells.time, cells.state, cells.statement, cells.actions);
    updateRow(tr, p);
    return tr;
  }

  function updateRow(tr, p) {
    const before = tr._process;
    tr._process = p;
    const c = tr._cells;
    setText(c.id, p.id);
    setText(c.user, p.user);
    setText(c.host, p.host);
    if (p.db === null || p.db === undefined || p.db === '') {
      if (!c.db.querySelector('.muted')) { clear(c.db); c.db.append(h('span', { class: 'muted', text: '—' })); }
    } else setText(c.db, p.db);
    setText(c.commandText, p.command);
    setText(c.time, formatDuration(p.time));
    c.time.title = `${p.time} s`;
    setText(c.state, p.state);
    if (!before || before.info !== p.info) {
      clear(c.statement);
      c.statement.append(statementCell(p.info));
    }
    const waitable = p.command !== 'Sleep';
    if (!before || (before.command !== 'Sleep') !== waitable) {
      clear(c.actions);
      if (waitable) {
        c.actions.append(h('button', {
          type: 'button',
          class: 'btn small lock-wait',
          i18n: 'lock.open',
          attrI18n: { 'aria-label': ['lock.openFor', { id: p.id }] },
          onclick: () => openLockWait(tr._process.id),
        }));
      }
    }
    if (c.check) c.check.checked = st.selected.has(p.id);
    renderMarks(tr, p);
  }

  function render() {
    const processes = (st.data && st.data.processes) || [];
    const seen = new Set();
    if (!processes.length) {
      for (const tr of st.rows.values()) tr.remove();
      st.rows.clear();
      label(emptyRow.firstChild, st.data ? 'sessions.empty' : 'common.loading');
      if (!emptyRow.isConnected) tbody.append(emptyRow);
    } else {
      emptyRow.remove();
      processes.forEach((p, index) => {
        seen.add(p.id);
        let tr = st.rows.get(p.id);
        if (tr) updateRow(tr, p);
        else {
          tr = buildRow(p);
          st.rows.set(p.id, tr);
        }
        // Move rows only when their place changed, so focus inside a row survives a refresh.
        if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
      });
      for (const [id, tr] of st.rows) {
        if (!seen.has(id)) {
          tr.remove();
          st.rows.delete(id);
        }
      }
    }
    renderStats();
    renderPager();
    updateSelection();
    updateSortHeaders();
  }

  let lastStats = '';
  function renderStats(force = false) {
    const stats = (st.data && st.data.stats) || {};
    // Unchanged counts keep their elements, so keyboard focus on a bar survives the refresh.
    const snapshot = JSON.stringify(stats);
    if (!force && snapshot === lastStats) return;
    lastStats = snapshot;
    for (const [key] of STAT_KEYS) {
      const list = statLists[key];
      clear(list);
      const entries = Object.entries(stats[key] || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      if (!entries.length) {
        list.append(h('li', { class: 'muted small', i18n: 'common.none' }));
        continue;
      }
      const max = Math.max(...entries.map(([, n]) => n));
      for (const [name, count] of entries.slice(0, STAT_TOP)) {
        const none = name === '';
        const text = none ? t('stats.noDb') : name;
        const nameEl = none
          ? h('span', { class: 'bar-name muted', i18n: 'stats.noDb' })
          : h('button', {
            type: 'button',
            class: 'bar-name link',
            text,
            attrI18n: { title: ['stats.filterBy', { value: name }] },
            onclick: () => filterByStat(key, name),
          });
        list.append(h('li', { class: 'bar-row', dataset: { key, name } },
          nameEl,
          h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: 'bar-fill', style: { width: `${Math.max(2, (100 * count) / max)}%` } })),
          h('span', { class: 'bar-count', text: count })));
      }
      if (entries.length > STAT_TOP) {
        list.append(h('li', { class: 'muted small', i18n: ['stats.more', { n: entries.length - STAT_TOP }] }));
      }
    }
  }

  function filterByStat(key, name) {
    const value = key === 'host' && name !== 'localhost' && !name.includes(':') ? `${name}:*` : name;
    fields.set({ ...st.filter, [key]: value });
    applyFilter();
  }

  function renderPager() {
    const total = (st.data && st.data.total_count) || 0;
    const shown = ((st.data && st.data.processes) || []).length;
    const from = shown ? st.offset + 1 : 0;
    label(pageInfo, 'page.info', { from, to: st.offset + shown, total });
    pageInfo.dataset.total = String(total);
    prevBtn.disabled = st.offset <= 0;
    nextBtn.disabled = st.offset + shown >= total;
  }

  function updateSelection() {
    if (!canKill) return;
    const n = st.selected.size;
    label(selCount, 'select.count', { n });
    killConnBtn.disabled = n === 0;
    killQueryBtn.disabled = n === 0;
    selClearBtn.disabled = n === 0;
    const boxes = [...tbody.querySelectorAll('input.row-select')];
    const checked = boxes.filter((b) => b.checked).length;
    selectAll.checked = boxes.length > 0 && checked === boxes.length;
    selectAll.indeterminate = checked > 0 && checked < boxes.length;
  }

  function updateSortHeaders() {
    for (const [key, button] of Object.entries(sortButtons)) {
      const th = button.parentElement;
      if (key === st.sort) th.setAttribute('aria-sort', st.order === 'asc' ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
      button.dataset.active = String(key === st.sort);
    }
    sortSel.value = st.sort;
    orderSel.value = st.order;
  }

  function applyFilter() {
    st.filter = fields.read();
    st.sort = sortSel.value;
    st.order = orderSel.value;
    st.limit = Number(pageSel.value);
    st.offset = 0;
    refreshNow();
  }

  function openLockWait(pid) {
    const ctx = nodeContext();
    if (!ctx) return;
    lockWaitDialog({ pid, ctx, canKill, onKilled: refreshNow });
  }

  function startKill(mode) {
    const ctx = nodeContext();
    if (!ctx || !st.selected.size) return;
    const targets = [...st.selected.values()];
    killSessions({
      targets,
      mode,
      ctx,
      onDone: (report) => {
        // A kill that was sent clears its sessions from the selection; a cancelled one keeps them.
        if (report) {
          for (const result of report.results || []) st.selected.delete(result.id);
          for (const tr of st.rows.values()) tr._cells.check.checked = st.selected.has(tr._process.id);
          updateSelection();
        }
        refreshNow();
      },
    });
  }

  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    applyFilter();
  });
  clearBtn.addEventListener('click', () => {
    fields.clear();
    applyFilter();
  });
  longInput.addEventListener('input', () => {
    const v = Number(longInput.value);
    if (Number.isFinite(v) && v > 0) {
      st.longAfter = v;
      for (const tr of st.rows.values()) renderMarks(tr, tr._process);
    }
  });
  for (const [key, button] of Object.entries(sortButtons)) {
    button.addEventListener('click', () => {
      if (st.sort === key) st.order = st.order === 'asc' ? 'desc' : 'asc';
      else {
        st.sort = key;
        st.order = key === 'time' ? 'desc' : 'asc';
      }
      st.offset = 0;
      updateSortHeaders();
      refreshNow();
    });
  }
  intervalSel.addEventListener('change', () => {
    st.interval = Number(intervalSel.value);
    schedule();
  });
  pauseBtn.addEventListener('click', () => {
    st.paused = !st.paused;
    pauseBtn.setAttribute('aria-pressed', String(st.paused));
    label(pauseBtn, st.paused ? 'refresh.resume' : 'refresh.pause');
    if (st.paused) {
      st.seq += 1; // a refresh under way is dropped: the table stays as it was when paused
      setStatus('refresh.paused');
    } else refreshNow();
    schedule();
  });
  nowBtn.addEventListener('click', refreshNow);
  prevBtn.addEventListener('click', () => {
    st.offset = Math.max(0, st.offset - st.limit);
    refreshNow();
  });
  nextBtn.addEventListener('click', () => {
    st.offset += st.limit;
    refreshNow();
  });
  pageSel.addEventListener('change', () => {
    st.limit = Number(pageSel.value);
    st.offset = 0;
    refreshNow();
  });
  if (canKill) {
    selectAll.addEventListener('change', () => {
      for (const tr of st.rows.values()) {
        const p = tr._process;
        if (selectAll.checked) st.selected.set(p.id, { id: p.id, user: p.user, host: p.host });
        else st.selected.delete(p.id);
        tr._cells.check.checked = selectAll.checked;
      }
      updateSelection();
    });
    killConnBtn.addEventListener('click', () => startKill('connection'));
    killQueryBtn.addEventListener('click', () => startKill('query'));
    selClearBtn.addEventListener('click', () => {
      st.selected.clear();
      for (const tr of st.rows.values()) tr._cells.check.checked = false;
      updateSelection();
    });
    kbfBtn.addEventListener('click', () => {
      const ctx = nodeContext();
      if (!ctx) return;
      killByFilter({ filter: fields.read(), ctx, onDone: refreshNow });
    });
  }

  return {
    activate() {
      if (st.active) return;
      st.active = true;
      refreshNow();
    },
    deactivate() {
      st.active = false;
      st.seq += 1;
      schedule();
    },
    contextChanged() {
      st.seq += 1;
      st.offset = 0;
      st.data = null;
      st.selected.clear();
      for (const tr of st.rows.values()) tr.remove();
      st.rows.clear();
      const ctx = nodeContext();
      clear(heading.querySelector('#sessions-node'));
      if (ctx) heading.querySelector('#sessions-node').textContent = `— ${ctx.nodeLabel}`;
      render();
      if (st.active) refreshNow();
    },
    languageChanged() {
      const ctx = nodeContext();
      if (ctx) heading.querySelector('#sessions-node').textContent = `— ${ctx.nodeLabel}`;
      renderStats(true);
    },
    destroy() {
      st.active = false;
      st.seq += 1;
      clearTimeout(st.timer);
    },
  };
}
