// The session table: sortable headers, one row per session with its marks (long-running, idle in a
// transaction), its statement and its lock-wait action, and the selection checkboxes of a kill.
// A refresh updates rows in place, so focus and open statements inside a row survive it.
import { h, clear, label, formatDuration } from './dom.js';
import { statementCell } from './kill.js';

const COLUMNS = 9; // without the selection checkbox
const SORTABLE = ['id', 'user', 'time'];

// What a kill's identity guard needs of a selected session: the user and host the operator saw.
const killTarget = (p) => ({ id: p.id, user: p.user, host: p.host });

function setText(td, value) {
  const text = value === null || value === undefined ? '' : String(value);
  if (td.textContent !== text) td.textContent = text;
}

function showDb(td, db) {
  if (db !== null && db !== undefined && db !== '') setText(td, db);
  else if (!td.querySelector('.muted')) clear(td).append(h('span', { class: 'muted', text: '—' }));
}

// --- the head ----------------------------------------------------------------------------------------
function head(selectAll, sortButtons) {
  const th = (key, className) => h('th', { scope: 'col', class: className, i18n: key });
  const sortable = (key) => h('th', { scope: 'col', class: key === 'user' ? '' : 'num' }, sortButtons[key]);
  return h('thead', null, h('tr', null,
    selectAll ? h('th', { scope: 'col', class: 'check' }, selectAll) : null,
    sortable('id'), sortable('user'), th('col.host'), th('col.db'), th('col.command'), sortable('time'),
    th('col.state'), th('col.statement', 'wide'), th('col.actions')));
}

function sortButton(key, onSort) {
  return h('button', { type: 'button', class: 'th-sort', dataset: { sort: key }, i18n: `col.${key}`, onclick: () => onSort(key) });
}

// --- one row -----------------------------------------------------------------------------------------
function rowCells() {
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
  return cells;
}

// marks: {longAfter: seconds from which a running statement is long, idle: ids idle in a transaction}
function showMarks(row, marks) {
  const { tr, cells, process: p } = row;
  const long = p.command !== 'Sleep' && Number(p.time) >= marks.longAfter;
  const idle = marks.idle.has(p.id);
  tr.classList.toggle('long', long);
  tr.classList.toggle('idle-trx', idle);
  tr.dataset.long = String(long);
  tr.dataset.idleInTrx = String(idle);
  const want = `${long ? 'L' : ''}${idle ? 'I' : ''}`;
  if (cells.marks.dataset.state === want) return;
  clear(cells.marks);
  if (long) cells.marks.append(h('span', { class: 'badge mark-long', i18n: 'marks.long' }));
  if (idle) cells.marks.append(h('span', { class: 'badge mark-idle', i18n: 'marks.idle' }));
  cells.marks.dataset.state = want;
}

// Only a session running something can wait for a lock.
function showActions(row, before, onLockWait) {
  const waitable = row.process.command !== 'Sleep';
  if (before && (before.command !== 'Sleep') === waitable) return;
  clear(row.cells.actions);
  if (!waitable) return;
  row.cells.actions.append(h('button', {
    type: 'button',
    class: 'btn small lock-wait',
    i18n: 'lock.open',
    attrI18n: { 'aria-label': ['lock.openFor', { id: row.process.id }] },
    onclick: () => onLockWait(row.process.id),
  }));
}

function showProcess(row, p, onLockWait) {
  const before = row.process;
  row.process = p;
  const c = row.cells;
  setText(c.id, p.id);
  setText(c.user, p.user);
  setText(c.host, p.host);
  showDb(c.db, p.db);
  setText(c.commandText, p.command);
  setText(c.time, formatDuration(p.time));
  c.time.title = `${p.time} s`;
  setText(c.state, p.state);
  if (!before || before.info !== p.info) clear(c.statement).append(statementCell(p.info));
  showActions(row, before, onLockWait);
}

// --- the table ---------------------------------------------------------------------------------------
// selected: the Map (id -> kill target) the checkboxes edit; longAfter: the first threshold of the
// long-running mark.
export function createSessionTable({ canKill, selected, longAfter, onSort, onSelectionChange, onLockWait }) {
  const rows = new Map(); // id -> {tr, cells, process}
  const marks = { longAfter, idle: new Set() };
  const selectAll = canKill ? h('input', { type: 'checkbox', id: 'select-page', attrI18n: { 'aria-label': 'select.page' } }) : null;
  const sortButtons = Object.fromEntries(SORTABLE.map((key) => [key, sortButton(key, onSort)]));
  const tbody = h('tbody');
  const emptyRow = h('tr', { class: 'empty-row' },
    h('td', { colspan: canKill ? COLUMNS + 1 : COLUMNS, class: 'empty', i18n: 'sessions.empty' }));
  const table = h('table', { class: 'grid sessions', id: 'sessions-table' },
    h('caption', { class: 'visually-hidden', i18n: 'sessions.caption' }), head(selectAll, sortButtons), tbody);

  function updateRow(row, p) {
    showProcess(row, p, onLockWait);
    if (row.cells.check) row.cells.check.checked = selected.has(p.id);
    showMarks(row, marks);
  }

  function selectionBox(row, id) {
    const box = h('input', { type: 'checkbox', class: 'row-select', attrI18n: { 'aria-label': ['select.row', { id }] } });
    box.addEventListener('change', () => {
      if (box.checked) selected.set(row.process.id, killTarget(row.process));
      else selected.delete(row.process.id);
      showSelectAll();
      onSelectionChange();
    });
    return box;
  }

  function buildRow(p) {
    const row = { tr: h('tr', { dataset: { id: p.id } }), cells: rowCells(), process: null };
    const c = row.cells;
    if (canKill) {
      c.check = selectionBox(row, p.id);
      row.tr.append(h('td', { class: 'check' }, c.check));
    }
    row.tr.append(c.id, c.user, c.host, c.db, c.command, c.time, c.state, c.statement, c.actions);
    updateRow(row, p);
    return row;
  }

  function dropRows(keep = new Set()) {
    for (const [id, row] of rows) {
      if (keep.has(id)) continue;
      row.tr.remove();
      rows.delete(id);
    }
  }

  function showEmpty(loaded) {
    dropRows();
    label(emptyRow.firstChild, loaded ? 'sessions.empty' : 'common.loading');
    if (!emptyRow.isConnected) tbody.append(emptyRow);
  }

  function showRows(processes) {
    emptyRow.remove();
    processes.forEach((p, index) => {
      let row = rows.get(p.id);
      if (row) updateRow(row, p);
      else rows.set(p.id, (row = buildRow(p)));
      // Move rows only when their place changed, so focus inside a row survives a refresh.
      if (tbody.children[index] !== row.tr) tbody.insertBefore(row.tr, tbody.children[index] || null);
    });
    dropRows(new Set(processes.map((p) => p.id)));
  }

  function showSelectAll() {
    if (!canKill) return;
    const boxes = [...rows.values()].map((row) => row.cells.check);
    const checked = boxes.filter((b) => b.checked).length;
    selectAll.checked = boxes.length > 0 && checked === boxes.length;
    selectAll.indeterminate = checked > 0 && checked < boxes.length;
  }

  // The boxes follow `selected` after it changed elsewhere (a kill, "clear selection").
  function syncSelection() {
    if (!canKill) return;
    for (const row of rows.values()) row.cells.check.checked = selected.has(row.process.id);
    showSelectAll();
  }

  if (canKill) {
    selectAll.addEventListener('change', () => {
      for (const row of rows.values()) {
        if (selectAll.checked) selected.set(row.process.id, killTarget(row.process));
        else selected.delete(row.process.id);
      }
      syncSelection();
      onSelectionChange();
    });
  }

  return {
    element: h('div', { class: 'table-wrap' }, table),
    // processes: the page to show, or null while nothing is loaded yet; idle: the ids of sessions
    // idle in a transaction.
    render(processes, idle = new Set()) {
      marks.idle = idle;
      if (processes && processes.length) showRows(processes);
      else showEmpty(processes !== null);
      showSelectAll();
    },
    clear() {
      dropRows();
    },
    setLongAfter(seconds) {
      marks.longAfter = seconds;
      for (const row of rows.values()) showMarks(row, marks);
    },
    showSort(sort, order) {
      for (const [key, button] of Object.entries(sortButtons)) {
        const th = button.parentElement;
        if (key === sort) th.setAttribute('aria-sort', order === 'asc' ? 'ascending' : 'descending');
        else th.removeAttribute('aria-sort');
        button.dataset.active = String(key === sort);
      }
    },
    // A table whose last refresh failed is dimmed until the next good one.
    markStale(stale) {
      table.classList.toggle('stale', stale);
    },
    syncSelection,
  };
}
