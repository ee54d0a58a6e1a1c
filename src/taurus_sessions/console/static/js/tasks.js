// Kill tasks: create one on the chosen node, list them (auto-refreshed), watch one, stop them.
import { h, append, clear, label, showError, formatTime, table } from './dom.js';
import { get, post, paths } from './api.js';
import { can, ACTIONS, projectId, nodeNameOf } from './state.js';
import { nodeContext } from './context.js';
import { filterSummary } from './filters.js';
import { modeLabel } from './choices.js';
import { createPoller } from './poller.js';
import { STATES, stateBadge } from './task-states.js';
import { createTaskForm } from './task-form.js';
import { createTaskDetail } from './task-detail.js';
import { createAutoKillSection } from './auto-kill.js';

const REFRESH_SECONDS = 2;
const PAGE_SIZE = 20;

// Re-rendering must not throw keyboard focus away: which control of which row had it.
function focusedControl(box) {
  const focused = box.contains(document.activeElement) ? document.activeElement : null;
  const row = focused && focused.closest('tr');
  return row ? { taskId: row.dataset.taskId, className: focused.className } : null;
}

function refocus(box, control) {
  if (!control) return;
  const row = box.querySelector(`tr[data-task-id="${CSS.escape(control.taskId)}"]`);
  const again = row && [...row.querySelectorAll('button')].find((b) => b.className === control.className);
  if (again) again.focus();
}

export function createTasksView(panel) {
  // Creating a task needs the right to kill as well (the service checks both).
  const canCreate = can(ACTIONS.taskCreate) && can(ACTIONS.kill);
  const canStop = can(ACTIONS.taskStop);
  const st = { offset: 0, limit: PAGE_SIZE };
  let lastList = ''; // the answer last drawn

  const poller = createPoller(load, { seconds: REFRESH_SECONDS });
  const detail = createTaskDetail({ canStop, onStop: stop });
  const stateSel = h('select', { id: 'tasks-state' },
    h('option', { value: '', i18n: 'common.any' }),
    STATES.map((s) => h('option', { value: s, i18n: `task.state.${s}` })));
  const thisNode = h('input', { id: 'task-this-node', type: 'checkbox', checked: true });
  const refreshBtn = h('button', { type: 'button', class: 'btn', id: 'tasks-refresh', i18n: 'common.refresh' });
  const listError = h('p', { class: 'banner error', id: 'tasks-error', role: 'alert', hidden: true });
  const listBox = h('div', { id: 'tasks-list' });
  const prevBtn = h('button', { type: 'button', class: 'btn', id: 'tasks-prev', i18n: 'page.prev' });
  const nextBtn = h('button', { type: 'button', class: 'btn', id: 'tasks-next', i18n: 'page.next' });
  const pageInfo = h('span', { class: 'muted', id: 'tasks-page-info' });
  // TaurusDB's automatic kill tasks, listed beside these (they run on a whole instance).
  const auto = can(ACTIONS.instances) ? createAutoKillSection() : null;
  append(panel, [
    h('h2', { class: 'panel-title', i18n: 'tasks.title' }),
    canCreate ? createTaskForm({ onCreated: created }) : null,
    h('section', { class: 'task-list', 'aria-labelledby': 'tasks-list-title' },
      h('h3', { id: 'tasks-list-title', i18n: 'tasks.list' }),
      h('div', { class: 'toolbar' },
        h('label', { class: 'inline-field', for: 'tasks-state' }, h('span', { i18n: 'tasks.stateFilter' }), stateSel),
        h('span', { class: 'inline-field' }, thisNode, h('label', { for: 'task-this-node', i18n: 'tasks.thisNode' })),
        refreshBtn),
      listError, listBox,
      h('div', { class: 'toolbar pager' }, prevBtn, pageInfo, nextBtn)),
    detail.element,
    auto ? auto.element : null]);

  // --- loading -----------------------------------------------------------------------------------
  async function load(current) {
    await Promise.all([loadList(current), detail.load(current), auto ? auto.load() : null]);
  }

  async function loadList(current) {
    const ctx = nodeContext();
    const query = { offset: st.offset, limit: st.limit, state: stateSel.value || undefined };
    if (thisNode.checked && ctx) {
      query.instance_id = ctx.instanceId;
      query.node_id = ctx.nodeId;
    }
    try {
      const data = await get(paths.tasks(projectId()), query);
      if (!current()) return;
      showError(listError, null);
      renderList(data);
    } catch (exc) {
      if (current()) showError(listError, exc);
    }
  }

  // --- the list ----------------------------------------------------------------------------------
  function stopButton(task) {
    if (!canStop || task.state !== 'running') return null;
    return h('button', {
      type: 'button',
      class: 'btn small danger-outline task-stop',
      i18n: 'tasks.stop',
      attrI18n: { 'aria-label': ['tasks.stopNamed', { name: task.name || task.id }] },
      onclick: (event) => stop(task.id, event.currentTarget),
    });
  }

  function tasksTable(tasks) {
    return table([
      { label: 'tasks.name', get: (k) => h('button', { type: 'button', class: 'link', text: k.name || k.id, onclick: () => watch(k.id) }) },
      { label: 'tasks.state', get: (k) => stateBadge(k.state) },
      { label: 'ctx.node', get: (k) => nodeNameOf(k.node_id) },
      { label: 'tasks.filter', get: (k) => h('code', { text: filterSummary(k.filter) }) },
      { label: 'kbf.mode', get: (k) => modeLabel(k.mode) },
      { label: 'tasks.passes', get: (k) => k.passes, class: 'num' },
      { label: 'tasks.killed', get: (k) => k.victims_killed, class: 'num' },
      { label: 'tasks.created', get: (k) => formatTime(k.created_at) },
      { label: 'tasks.ends', get: (k) => (k.ends_at ? formatTime(k.ends_at) : h('span', { i18n: 'tasks.untilStopped' })) },
      { label: 'col.actions', get: (k) => h('span', { class: 'row-actions' },
        h('button', { type: 'button', class: 'btn small', i18n: 'tasks.watch', onclick: () => watch(k.id) }), ' ', stopButton(k)) },
    ], tasks, { empty: 'tasks.empty', className: 'grid tasks-table', rowData: (k) => ({ taskId: k.id }) });
  }

  // An unchanged answer leaves the list alone.
  function renderList(data) {
    const snapshot = JSON.stringify(data);
    if (snapshot === lastList) return;
    lastList = snapshot;
    const control = focusedControl(listBox);
    const tasks = (data && data.tasks) || [];
    const total = (data && data.total_count) || 0;
    clear(listBox).append(tasksTable(tasks));
    refocus(listBox, control);
    label(pageInfo, 'page.info', { from: tasks.length ? st.offset + 1 : 0, to: st.offset + tasks.length, total });
    prevBtn.disabled = st.offset <= 0;
    nextBtn.disabled = st.offset + tasks.length >= total;
  }

  // --- what the user asks for --------------------------------------------------------------------
  function goTo(offset) {
    st.offset = offset;
    poller.now();
  }

  function watch(taskId) {
    detail.watch(taskId);
    poller.now();
  }

  function created(task) {
    if (task) detail.watch(task.id);
    poller.now();
  }

  async function stop(taskId, button) {
    if (button) button.disabled = true;
    try {
      await post(paths.stopTask(projectId(), taskId), {});
      if (detail.isShowing(taskId)) detail.redraw();
      poller.now();
    } catch (exc) {
      if (detail.isShowing(taskId)) detail.showError(exc);
      else showError(listError, exc);
      if (button) button.disabled = false;
    }
  }

  stateSel.addEventListener('change', () => goTo(0));
  thisNode.addEventListener('change', () => goTo(0));
  refreshBtn.addEventListener('click', () => poller.now());
  prevBtn.addEventListener('click', () => goTo(Math.max(0, st.offset - st.limit)));
  nextBtn.addEventListener('click', () => goTo(st.offset + st.limit));

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
      lastList = '';
      poller.now();
    },
    languageChanged() {
      lastList = '';
      detail.redraw();
      poller.now();
    },
    // Signed out: nothing may run on.
    destroy() {
      poller.stop();
    },
  };
}
