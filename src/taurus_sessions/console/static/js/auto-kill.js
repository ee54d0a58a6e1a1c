// TaurusDB's automatic kill, beside this service's own kill tasks: the instance's ON/OFF switch, its
// conditional kill tasks (every node, for a duration), adding and stopping them, and kill-all.
import { h, append, clear, label, modal, showError, formatTime, table } from './dom.js';
import { get, post, put, paths } from './api.js';
import { can, ACTIONS, projectId } from './state.js';
import { nodeContext } from './context.js';
import { stateBadge } from './task-states.js';

const field = (id, key, input) => h('div', { class: 'field' }, h('label', { for: id, i18n: key }), input);

function addForm(onAdd) {
  const inputs = {
    user: h('input', { id: 'auto-user', type: 'text', autocomplete: 'off', maxlength: 32 }),
    host: h('input', { id: 'auto-host', type: 'text', autocomplete: 'off' }),
    db: h('input', { id: 'auto-db', type: 'text', autocomplete: 'off', maxlength: 64 }),
    command: h('input', { id: 'auto-command', type: 'text', autocomplete: 'off' }),
    info: h('input', { id: 'auto-info', type: 'text', autocomplete: 'off' }),
    time: h('input', { id: 'auto-time', type: 'number', min: 1, step: 1, value: 60, inputmode: 'numeric' }),
    duration: h('input', { id: 'auto-duration', type: 'number', min: 1, step: 1, value: 600, inputmode: 'numeric' }),
  };
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'auto-add', i18n: 'auto.add' });
  const form = h('form', { class: 'card auto-form', id: 'auto-form', novalidate: true },
    h('div', { class: 'filter-grid' },
      field('auto-user', 'filter.user', inputs.user), field('auto-host', 'filter.host', inputs.host),
      field('auto-db', 'filter.db', inputs.db), field('auto-command', 'filter.command', inputs.command),
      field('auto-info', 'filter.info', inputs.info), field('auto-time', 'auto.time', inputs.time),
      field('auto-duration', 'auto.duration', inputs.duration)),
    h('div', { class: 'toolbar' }, submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = { time: inputs.time.value.trim(), task_duration: inputs.duration.value.trim() };
    for (const name of ['user', 'host', 'db', 'command', 'info']) {
      const value = inputs[name].value.trim();
      if (value) body[name] = value;
    }
    onAdd(body, submit);
  });
  return form;
}

export function createAutoKillSection() {
  const canModify = can(ACTIONS.modify) && can(ACTIONS.kill);
  const switchState = h('span', { class: 'badge', id: 'auto-switch-state' });
  const toggle = canModify ? h('button', { type: 'button', class: 'btn', id: 'auto-switch' }) : null;
  const killAllBtn = canModify ? h('button', { type: 'button', class: 'btn danger', id: 'auto-kill-all', i18n: 'auto.killAll' }) : null;
  const error = h('p', { class: 'banner error', id: 'auto-error', role: 'alert', hidden: true });
  const listBox = h('div', { id: 'auto-list' });
  let enabled = false;
  const element = h('section', { class: 'auto-kill', id: 'auto-kill', 'aria-labelledby': 'auto-title' },
    h('h3', { id: 'auto-title', i18n: 'auto.title' }),
    h('p', { class: 'muted', i18n: 'auto.explain' }),
    h('div', { class: 'toolbar' }, h('span', { i18n: 'auto.switch' }), switchState, toggle, killAllBtn),
    error,
    canModify ? addForm(add) : null,
    listBox);

  async function load() {
    const ctx = nodeContext();
    if (!ctx) return;
    try {
      const [status, tasks] = await Promise.all([
        get(paths.autoSwitch(projectId(), ctx.instanceId)),
        get(paths.autoTasks(projectId(), ctx.instanceId)),
      ]);
      enabled = status.status === 'ON';
      label(switchState, enabled ? 'auto.on' : 'auto.off');
      switchState.dataset.state = status.status;
      if (toggle) label(toggle, enabled ? 'auto.turnOff' : 'auto.turnOn');
      showError(error, null);
      renderList(tasks.processes || []);
    } catch (exc) {
      showError(error, exc);
    }
  }

  function renderList(tasks) {
    clear(listBox).append(table([
      { label: 'auto.task', get: (k) => h('code', { text: k.id.slice(0, 12) }) },
      { label: 'tasks.state', get: (k) => stateBadge(k.status) },
      { label: 'filter.user', get: (k) => k.user },
      { label: 'filter.host', get: (k) => k.host },
      { label: 'filter.db', get: (k) => k.db },
      { label: 'filter.command', get: (k) => k.command },
      { label: 'auto.time', get: (k) => k.time, class: 'num' },
      { label: 'filter.info', get: (k) => k.info },
      { label: 'tasks.killed', get: (k) => k.killed_count, class: 'num' },
      { label: 'tasks.created', get: (k) => formatTime(new Date(k.start_time).toISOString()) },
      { label: 'tasks.ends', get: (k) => (k.end_time ? formatTime(new Date(k.end_time).toISOString()) : '') },
      { label: 'col.actions', get: (k) => (canModify && k.status === 'running'
        ? h('button', { type: 'button', class: 'btn small danger-outline auto-stop', i18n: 'tasks.stop', onclick: (e) => stop(k.id, e.currentTarget) })
        : null) },
    ], tasks, { empty: 'auto.empty', className: 'grid auto-table', rowData: (k) => ({ taskId: k.id }) }));
  }

  async function add(body, button) {
    const ctx = nodeContext();
    button.disabled = true;
    try {
      await post(paths.autoTasks(projectId(), ctx.instanceId), body);
      showError(error, null);
      await load();
    } catch (exc) {
      showError(error, exc);
    } finally {
      button.disabled = false;
    }
  }

  async function stop(taskId, button) {
    const ctx = nodeContext();
    button.disabled = true;
    try {
      await put(paths.autoTasks(projectId(), ctx.instanceId), { id: taskId });
      await load();
    } catch (exc) {
      showError(error, exc);
      button.disabled = false;
    }
  }

  async function flip() {
    const ctx = nodeContext();
    toggle.disabled = true;
    try {
      await put(paths.autoSwitch(projectId(), ctx.instanceId), { status: enabled ? 'OFF' : 'ON' });
      await load();
    } catch (exc) {
      showError(error, exc);
    } finally {
      toggle.disabled = false;
    }
  }

  function confirmKillAll() {
    const ctx = nodeContext();
    const dlg = modal({ title: 'auto.killAllTitle', className: 'kill-all-dialog' });
    const dlgError = h('p', { class: 'banner error', role: 'alert', hidden: true });
    append(dlg.body, [dlgError, h('p', { i18n: 'auto.killAllText' })]);
    const go = h('button', { type: 'button', class: 'btn danger', id: 'auto-kill-all-confirm', i18n: 'auto.killAllConfirm' });
    append(dlg.footer, [h('button', { type: 'button', class: 'btn', i18n: 'common.cancel', onclick: () => dlg.close() }), go]);
    go.addEventListener('click', async () => {
      go.disabled = true;
      try {
        await put(paths.killAll(projectId(), ctx.instanceId), undefined);
        dlg.close();
      } catch (exc) {
        showError(dlgError, exc);
        go.disabled = false;
      }
    });
    (dlg.footer.querySelector('.btn:not(.danger)') || go).focus();
  }

  if (toggle) toggle.addEventListener('click', flip);
  if (killAllBtn) killAllBtn.addEventListener('click', confirmKillAll);
  return { element, load };
}
