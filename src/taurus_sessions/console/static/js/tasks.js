// Kill tasks: create one on the chosen node, watch its passes and victims, stop it.
import { h, clear, label, modal, showError, formatTime, formatDuration, definitionList, table } from './dom.js';
import { get, post, paths } from './api.js';
import { can, ACTIONS, projectId, findNode, nodeLabel } from './state.js';
import { nodeContext } from './context.js';
import { filterFields, filterSummary } from './filters.js';
import { resultTable, outcomeBadge, statementCell } from './kill.js';
import { modeSelect, victimsSelect, modeLabel, victimsLabel } from './choices.js';

const STATES = ['running', 'stopped', 'finished', 'failed'];
const REFRESH_MS = 2000;

export function stateBadge(value) {
  const known = STATES.includes(value);
  const badge = h('span', { class: `badge task-${known ? value : 'other'}`, dataset: { state: value } });
  if (known) label(badge, `task.state.${value}`);
  else badge.textContent = value;
  return badge;
}

function intOrRaw(raw) {
  const text = raw.trim();
  if (!text) return undefined;
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

function nodeName(nodeId) {
  const found = findNode(nodeId);
  return found ? nodeLabel(found.node) : nodeId;
}

export function createTasksView(panel) {
  // Creating a task needs the right to kill as well (the service checks both).
  const canCreate = can(ACTIONS.taskCreate) && can(ACTIONS.kill);
  const canStop = can(ACTIONS.taskStop);
  const st = { offset: 0, limit: 20, active: false, timer: null, seq: 0, watching: null, detailSeq: 0 };

  panel.append(h('h2', { class: 'panel-title', i18n: 'tasks.title' }));

  // --- create ---
  let form = null;
  if (canCreate) {
    const fields = filterFields('task');
    const name = h('input', { id: 'task-name', type: 'text', autocomplete: 'off', maxlength: 128 });
    const mode = modeSelect('task-mode');
    const victims = victimsSelect('task-victims');
    const interval = h('input', { id: 'task-interval', type: 'number', min: 1, max: 3600, step: 1, value: 5, inputmode: 'numeric' });
    const duration = h('input', { id: 'task-duration', type: 'number', min: 1, step: 1, value: 600, inputmode: 'numeric' });
    const forever = h('input', { id: 'task-forever', type: 'checkbox' });
    const perPass = h('input', { id: 'task-max-per-pass', type: 'number', min: 1, step: 1, inputmode: 'numeric' });
    const startBtn = h('button', { type: 'submit', class: 'btn danger', id: 'task-start', i18n: 'tasks.start' });
    const formError = h('p', { class: 'banner error', id: 'task-form-error', role: 'alert', hidden: true });
    forever.addEventListener('change', () => { duration.disabled = forever.checked; });
    form = h('form', { id: 'task-form', class: 'card', novalidate: true },
      h('h3', { i18n: 'tasks.new' }),
      h('p', { class: 'note', i18n: 'tasks.newNote' }),
      h('div', { class: 'row' },
        h('div', { class: 'field grow' }, h('label', { for: 'task-name', i18n: 'tasks.name' }), name)),
      h('fieldset', null, h('legend', { i18n: 'kbf.filterLegend' }), fields.element,
        h('p', { class: 'hint muted', i18n: 'filter.wildcards' })),
      h('div', { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: 'task-mode', i18n: 'kbf.mode' }), mode),
        h('div', { class: 'field' }, h('label', { for: 'task-victims', i18n: 'kbf.victims' }), victims),
        h('div', { class: 'field' }, h('label', { for: 'task-interval', i18n: 'tasks.interval' }), interval),
        h('div', { class: 'field' }, h('label', { for: 'task-duration', i18n: 'tasks.duration' }), duration),
        h('div', { class: 'field check' }, forever, h('label', { for: 'task-forever', i18n: 'tasks.forever' })),
        h('div', { class: 'field' }, h('label', { for: 'task-max-per-pass', i18n: 'tasks.maxPerPass' }), perPass)),
      formError,
      h('div', { class: 'toolbar' }, startBtn));
    const body = () => {
      const b = {
        filter: fields.read(),
        mode: mode.value,
        victims: victims.value,
        interval_seconds: intOrRaw(interval.value) ?? 5,
        duration_seconds: forever.checked ? null : (intOrRaw(duration.value) ?? 600),
      };
      const taskName = name.value.trim();
      if (taskName) b.name = taskName;
      const cap = intOrRaw(perPass.value);
      if (cap !== undefined) b.max_victims_per_pass = cap;
      return b;
    };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const ctx = nodeContext();
      if (!ctx) return;
      showError(formError, null);
      confirmTask(ctx, body());
    });
    panel.append(form);
  }

  // Starting a task is confirmed like a kill: what it is, and what it would kill right now.
  function confirmTask(ctx, spec) {
    const d = modal({ title: 'tasks.confirmTitle', className: 'task-dialog wide' });
    const status = h('p', { class: 'status', role: 'status', i18n: 'kill.previewing' });
    const error = h('p', { class: 'banner error', role: 'alert', hidden: true });
    const preview = h('div', { class: 'preview' });
    d.body.append(
      h('p', { class: 'muted' }, h('span', { i18n: 'kill.onNode' }), ' ', h('strong', { text: ctx.nodeLabel })),
      definitionList([
        ['tasks.name', spec.name || ''],
        ['tasks.filter', h('code', { text: filterSummary(spec.filter) })],
        ['kbf.mode', modeLabel(spec.mode)],
        ['kbf.victims', victimsLabel(spec.victims)],
        ['tasks.interval', String(spec.interval_seconds)],
        ['tasks.duration', spec.duration_seconds === null ? h('span', { i18n: 'tasks.untilStopped' }) : String(spec.duration_seconds)],
        ['tasks.maxPerPass', spec.max_victims_per_pass ?? ''],
      ]),
      status, error, preview);
    const cancel = h('button', { type: 'button', class: 'btn', i18n: 'common.cancel', onclick: () => d.close() });
    const confirm = h('button', { type: 'button', class: 'btn danger', id: 'task-confirm', i18n: 'tasks.start' });
    d.footer.append(cancel, confirm);
    (async () => {
      try {
        const request = { filter: spec.filter, mode: spec.mode, victims: spec.victims, dry_run: true };
        if (typeof spec.max_victims_per_pass === 'number') request.max_victims = spec.max_victims_per_pass;
        const report = await post(paths.killByFilter(ctx.projectId, ctx.instanceId, ctx.nodeId), request);
        if (!d.open) return;
        label(status, 'tasks.previewNow', { n: report.matched ?? (report.results || []).length });
        preview.append(resultTable(report, 'kill.previewCaption'));
      } catch (exc) {
        // The task call gives its own verdict; the preview's error is shown for information.
        status.hidden = true;
        showError(error, exc);
      }
      if (d.open) confirm.focus();
    })();
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      cancel.disabled = true;
      showError(error, null);
      try {
        const created = await post(paths.createTask(ctx.projectId, ctx.instanceId, ctx.nodeId), spec);
        d.close();
        if (created && created.task) watch(created.task.id);
        refreshList();
      } catch (exc) {
        showError(error, exc);
        confirm.disabled = false;
        cancel.disabled = false;
      }
    });
  }

  // --- list ---
  const stateSel = h('select', { id: 'task-state' },
    h('option', { value: '', i18n: 'common.any' }),
    STATES.map((s) => h('option', { value: s, i18n: `task.state.${s}` })));
  const thisNode = h('input', { id: 'task-this-node', type: 'checkbox', checked: true });
  const refreshBtn = h('button', { type: 'button', class: 'btn', id: 'tasks-refresh', i18n: 'common.refresh' });
  const listError = h('p', { class: 'banner error', id: 'tasks-error', role: 'alert', hidden: true });
  const listBox = h('div', { id: 'tasks-list' });
  const prevBtn = h('button', { type: 'button', class: 'btn', id: 'tasks-prev', i18n: 'page.prev' });
  const nextBtn = h('button', { type: 'button', class: 'btn', id: 'tasks-next', i18n: 'page.next' });
  const pageInfo = h('span', { class: 'muted', id: 'tasks-page-info' });
  const detail = h('section', { id: 'task-detail', class: 'card', hidden: true, 'aria-live': 'polite' });
  panel.append(
    h('section', { class: 'task-list', 'aria-labelledby': 'tasks-list-title' },
      h('h3', { id: 'tasks-list-title', i18n: 'tasks.list' }),
      h('div', { class: 'toolbar' },
        h('label', { class: 'inline-field', for: 'task-state' }, h('span', { i18n: 'tasks.stateFilter' }), stateSel),
        h('span', { class: 'inline-field' }, thisNode, h('label', { for: 'task-this-node', i18n: 'tasks.thisNode' })),
        refreshBtn),
      listError, listBox,
      h('div', { class: 'toolbar pager' }, prevBtn, pageInfo, nextBtn)),
    detail);

  async function refreshList() {
    const ctx = nodeContext();
    if (!st.active) return;
    const seq = ++st.seq;
    const query = { offset: st.offset, limit: st.limit, state: stateSel.value || undefined };
    if (thisNode.checked && ctx) {
      query.instance_id = ctx.instanceId;
      query.node_id = ctx.nodeId;
    }
    try {
      const data = await get(paths.tasks(projectId()), query);
      if (seq !== st.seq) return;
      showError(listError, null);
      renderList(data);
    } catch (exc) {
      if (seq !== st.seq) return;
      showError(listError, exc);
    }
  }

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

  let lastList = '';
  function renderList(data) {
    const snapshot = JSON.stringify(data);
    if (snapshot === lastList) return;
    lastList = snapshot;
    // Re-rendering must not throw keyboard focus away: remember which control of which row had it.
    const focused = listBox.contains(document.activeElement) ? document.activeElement : null;
    const focusRow = focused && focused.closest('tr') ? focused.closest('tr').dataset.taskId : null;
    const focusClass = focused ? focused.className : '';
    clear(listBox);
    const tasks = (data && data.tasks) || [];
    const total = (data && data.total_count) || 0;
    listBox.append(table([
      { label: 'tasks.name', get: (k) => h('button', { type: 'button', class: 'link', text: k.name || k.id, onclick: () => watch(k.id) }) },
      { label: 'tasks.state', get: (k) => stateBadge(k.state) },
      { label: 'ctx.node', get: (k) => nodeName(k.node_id) },
      { label: 'tasks.filter', get: (k) => h('code', { text: filterSummary(k.filter) }) },
      { label: 'kbf.mode', get: (k) => modeLabel(k.mode) },
      { label: 'tasks.passes', get: (k) => k.passes, class: 'num' },
      { label: 'tasks.killed', get: (k) => k.victims_killed, class: 'num' },
      { label: 'tasks.created', get: (k) => formatTime(k.created_at) },
      { label: 'tasks.ends', get: (k) => (k.ends_at ? formatTime(k.ends_at) : h('span', { i18n: 'tasks.untilStopped' })) },
      { label: 'col.actions', get: (k) => h('span', { class: 'row-actions' },
        h('button', { type: 'button', class: 'btn small', i18n: 'tasks.watch', onclick: () => watch(k.id) }), ' ', stopButton(k)) },
    ], tasks, { empty: 'tasks.empty', className: 'grid tasks-table', rowData: (k) => ({ taskId: k.id }) }));
    if (focusRow) {
      const row = listBox.querySelector(`tr[data-task-id="${CSS.escape(focusRow)}"]`);
      const again = row && [...row.querySelectorAll('button')].find((b) => b.className === focusClass);
      if (again) again.focus();
    }
    label(pageInfo, 'page.info', { from: tasks.length ? st.offset + 1 : 0, to: st.offset + tasks.length, total });
    prevBtn.disabled = st.offset <= 0;
    nextBtn.disabled = st.offset + tasks.length >= total;
  }

  async function stop(taskId, button) {
    if (button) button.disabled = true;
    try {
      const data = await post(paths.stopTask(projectId(), taskId), {});
      if (data && data.task && st.watching === taskId) loadDetail(true);
      refreshList();
    } catch (exc) {
      showError(st.watching === taskId ? detailError : listError, exc);
      if (button) button.disabled = false;
    }
  }

  // The detail keeps its head (title, stop, close) between refreshes so keyboard focus survives.
  const detailTitle = h('h3', { id: 'task-detail-title' });
  const detailBadge = h('span', { class: 'badge-holder' });
  const detailStop = canStop
    ? h('button', { type: 'button', class: 'btn small danger-outline', id: 'task-stop', hidden: true, i18n: 'tasks.stop' })
    : null;
  const detailClose = h('button', { type: 'button', class: 'btn small', id: 'task-detail-close', i18n: 'common.close' });
  const detailError = h('p', { class: 'banner error', role: 'alert', hidden: true });
  const detailBody = h('div', { class: 'detail-body' });
  detail.append(h('div', { class: 'detail-head' }, detailTitle, detailBadge, h('span', { class: 'spacer' }), detailStop, detailClose),
    detailError, detailBody);
  detail.setAttribute('aria-labelledby', 'task-detail-title');
  detailClose.addEventListener('click', () => {
    st.watching = null;
    detail.hidden = true;
  });
  if (detailStop) detailStop.addEventListener('click', () => stop(st.watching, detailStop));
  let lastDetail = '';

  function watch(taskId) {
    st.watching = taskId;
    lastDetail = '';
    detail.hidden = false;
    delete detail.dataset.state;
    label(detailTitle, 'tasks.detail', { name: taskId });
    clear(detailBadge);
    clear(detailBody);
    showError(detailError, null);
    if (detailStop) detailStop.hidden = true;
    detailBody.append(h('p', { class: 'status', i18n: 'common.loading' }));
    loadDetail();
    detail.scrollIntoView({ block: 'nearest' });
  }

  async function loadDetail(force = false) {
    const taskId = st.watching;
    if (!taskId) return;
    const seq = ++st.detailSeq;
    let data;
    try {
      data = await get(paths.task(projectId(), taskId));
    } catch (exc) {
      if (seq === st.detailSeq && st.watching === taskId) showError(detailError, exc);
      return;
    }
    if (seq !== st.detailSeq || st.watching !== taskId) return;
    showError(detailError, null);
    const snapshot = JSON.stringify(data);
    if (!force && snapshot === lastDetail) return;
    lastDetail = snapshot;
    const task = data.task;
    detail.dataset.taskId = task.id;
    detail.dataset.state = task.state;
    label(detailTitle, 'tasks.detail', { name: task.name || task.id });
    clear(detailBadge);
    detailBadge.append(stateBadge(task.state));
    if (detailStop) {
      detailStop.hidden = task.state !== 'running';
      detailStop.disabled = false;
    }
    clear(detailBody);
    detailBody.append(
      progressOf(task) || '',
      definitionList([
        ['tasks.id', task.id],
        ['ctx.node', nodeName(task.node_id)],
        ['tasks.filter', h('code', { text: filterSummary(task.filter) })],
        ['kbf.mode', modeLabel(task.mode)],
        ['kbf.victims', victimsLabel(task.victims)],
        ['tasks.interval', formatDuration(task.interval_seconds)],
        ['tasks.duration', task.duration_seconds === null || task.duration_seconds === undefined ? h('span', { i18n: 'tasks.untilStopped' }) : formatDuration(task.duration_seconds)],
        ['tasks.maxPerPass', task.max_victims_per_pass],
        ['tasks.passes', h('span', { id: 'task-passes', text: task.passes ?? 0 })],
        ['tasks.killed', h('span', { id: 'task-killed', text: task.victims_killed ?? 0 })],
        ['tasks.lastPass', formatTime(task.last_pass_at)],
        task.next_pass_at ? ['tasks.nextPass', formatTime(task.next_pass_at)] : null,
        ['tasks.created', `${formatTime(task.created_at)} ${task.created_by ? `(${task.created_by})` : ''}`],
        ['tasks.ends', task.ends_at ? formatTime(task.ends_at) : h('span', { i18n: 'tasks.untilStopped' })],
        task.stopped_at ? ['tasks.stopped', `${formatTime(task.stopped_at)} ${task.stopped_by ? `(${task.stopped_by})` : ''}`] : null,
        task.last_error ? ['tasks.lastError', h('span', { class: 'error-text', text: task.last_error })] : null,
      ]),
      h('h4', { i18n: 'tasks.recent' }),
      table([
        { label: 'audit.at', get: (v) => formatTime(v.at) },
        { label: 'col.id', get: (v) => v.id, class: 'num' },
        { label: 'col.user', get: (v) => v.user },
        { label: 'col.host', get: (v) => v.host },
        { label: 'col.db', get: (v) => v.db },
        { label: 'col.command', get: (v) => v.command },
        { label: 'col.statement', get: (v) => statementCell(v.info, 60) },
        { label: 'col.outcome', get: (v) => outcomeBadge(v.outcome) },
      ], data.recent_victims || [], { empty: 'tasks.noVictims', className: 'grid victims-table', rowData: (v) => ({ id: v.id }) }));
  }

  function progressOf(task) {
    if (task.state !== 'running' || !task.duration_seconds || !task.created_at) return null;
    const start = Date.parse(task.created_at);
    const end = task.ends_at ? Date.parse(task.ends_at) : start + task.duration_seconds * 1000;
    const ratio = Math.min(1, Math.max(0, (Date.now() - start) / Math.max(1, end - start)));
    const left = Math.max(0, (end - Date.now()) / 1000);
    return h('div', { class: 'progress-row' },
      h('progress', { max: 100, value: Math.round(ratio * 100), attrI18n: { 'aria-label': 'tasks.progress' } }),
      h('span', { class: 'muted', i18n: ['tasks.left', { time: formatDuration(left) }] }));
  }

  function schedule() {
    clearTimeout(st.timer);
    st.timer = null;
    if (!st.active) return;
    st.timer = setTimeout(async () => {
      if (!document.hidden) {
        await Promise.all([refreshList(), loadDetail()]);
      }
      schedule();
    }, REFRESH_MS);
  }

  stateSel.addEventListener('change', () => { st.offset = 0; refreshList(); });
  thisNode.addEventListener('change', () => { st.offset = 0; refreshList(); });
  refreshBtn.addEventListener('click', () => { refreshList(); loadDetail(); });
  prevBtn.addEventListener('click', () => { st.offset = Math.max(0, st.offset - st.limit); refreshList(); });
  nextBtn.addEventListener('click', () => { st.offset += st.limit; refreshList(); });

  return {
    activate() {
      if (st.active) return;
      st.active = true;
      refreshList();
      loadDetail();
      schedule();
    },
    deactivate() {
      st.active = false;
      st.seq += 1;
      schedule();
    },
    contextChanged() {
      st.offset = 0;
      lastList = '';
      if (st.active) refreshList();
    },
    languageChanged() {
      lastList = '';
      if (st.active) {
        refreshList();
        loadDetail(true);
      }
    },
    destroy() {
      st.active = false;
      clearTimeout(st.timer);
    },
  };
}
