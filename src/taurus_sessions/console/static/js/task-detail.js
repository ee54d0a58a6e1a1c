// One kill task watched closely: its settings, progress, passes and recent victims, with a stop
// button while it runs. The head (title, stop, close) stays between refreshes so keyboard focus
// survives them; the body is redrawn only when the task changed.
import { h, clear, label, showError, formatTime, formatDuration, definitionList, table } from './dom.js';
import { get, paths } from './api.js';
import { projectId, nodeNameOf } from './state.js';
import { filterSummary } from './filters.js';
import { outcomeBadge, statementCell } from './kill.js';
import { modeLabel, victimsLabel } from './choices.js';
import { stateBadge } from './task-states.js';

const untilStopped = () => h('span', { i18n: 'tasks.untilStopped' });
const byWhom = (at, who) => `${formatTime(at)} ${who ? `(${who})` : ''}`;

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

function taskFacts(task) {
  const noDuration = task.duration_seconds === null || task.duration_seconds === undefined;
  return definitionList([
    ['tasks.id', task.id],
    ['ctx.node', nodeNameOf(task.node_id)],
    ['tasks.filter', h('code', { text: filterSummary(task.filter) })],
    ['kbf.mode', modeLabel(task.mode)],
    ['kbf.victims', victimsLabel(task.victims)],
    ['tasks.interval', formatDuration(task.interval_seconds)],
    ['tasks.duration', noDuration ? untilStopped() : formatDuration(task.duration_seconds)],
    ['tasks.maxPerPass', task.max_victims_per_pass],
    ['tasks.passes', h('span', { id: 'task-passes', text: task.passes ?? 0 })],
    ['tasks.killed', h('span', { id: 'task-killed', text: task.victims_killed ?? 0 })],
    ['tasks.lastPass', formatTime(task.last_pass_at)],
    task.next_pass_at ? ['tasks.nextPass', formatTime(task.next_pass_at)] : null,
    ['tasks.created', byWhom(task.created_at, task.created_by)],
    ['tasks.ends', task.ends_at ? formatTime(task.ends_at) : untilStopped()],
    task.stopped_at ? ['tasks.stopped', byWhom(task.stopped_at, task.stopped_by)] : null,
    task.last_error ? ['tasks.lastError', h('span', { class: 'error-text', text: task.last_error })] : null,
  ]);
}

function victimsTable(victims) {
  return table([
    { label: 'audit.at', get: (v) => formatTime(v.at) },
    { label: 'col.id', get: (v) => v.id, class: 'num' },
    { label: 'col.user', get: (v) => v.user },
    { label: 'col.host', get: (v) => v.host },
    { label: 'col.db', get: (v) => v.db },
    { label: 'col.command', get: (v) => v.command },
    { label: 'col.statement', get: (v) => statementCell(v.info, 60) },
    { label: 'col.outcome', get: (v) => outcomeBadge(v.outcome) },
  ], victims, { empty: 'tasks.noVictims', className: 'grid victims-table', rowData: (v) => ({ id: v.id }) });
}

// onStop(taskId, button): the stop button was pressed.
export function createTaskDetail({ canStop, onStop }) {
  const title = h('h3', { id: 'task-detail-title' });
  const badge = h('span', { class: 'badge-holder' });
  const stop = canStop
    ? h('button', { type: 'button', class: 'btn small danger-outline', id: 'task-stop', hidden: true, i18n: 'tasks.stop' })
    : null;
  const close = h('button', { type: 'button', class: 'btn small', id: 'task-detail-close', i18n: 'common.close' });
  const error = h('p', { class: 'banner error', role: 'alert', hidden: true });
  const body = h('div', { class: 'detail-body' });
  const element = h('section', { id: 'task-detail', class: 'card', hidden: true, 'aria-live': 'polite', 'aria-labelledby': 'task-detail-title' },
    h('div', { class: 'detail-head' }, title, badge, h('span', { class: 'spacer' }), stop, close),
    error, body);
  let watching = null; // the task id shown
  let last = ''; // the answer last drawn

  close.addEventListener('click', () => {
    watching = null;
    element.hidden = true;
  });
  if (stop) stop.addEventListener('click', () => onStop(watching, stop));

  function render(task, victims) {
    element.dataset.taskId = task.id;
    element.dataset.state = task.state;
    label(title, 'tasks.detail', { name: task.name || task.id });
    clear(badge).append(stateBadge(task.state));
    if (stop) {
      stop.hidden = task.state !== 'running';
      stop.disabled = false;
    }
    // Who was killed (users, hosts, statements) is part of the audit trail: without that right
    // the API leaves it out (null) and the console says why.
    const recent = victims === null || victims === undefined
      ? h('p', { class: 'muted', id: 'task-victims-hidden', i18n: 'tasks.victimsNeedAudit' })
      : victimsTable(victims);
    clear(body).append(progressOf(task) || '', taskFacts(task), h('h4', { i18n: 'tasks.recent' }), recent);
  }

  return {
    element,
    isShowing: (taskId) => watching === taskId,
    showError: (exc) => showError(error, exc),
    // Show this task (loading until the next load answers).
    watch(taskId) {
      watching = taskId;
      last = '';
      element.hidden = false;
      delete element.dataset.state;
      label(title, 'tasks.detail', { name: taskId });
      clear(badge);
      showError(error, null);
      if (stop) stop.hidden = true;
      clear(body).append(h('p', { class: 'status', i18n: 'common.loading' }));
      element.scrollIntoView({ block: 'nearest' });
    },
    // Draw the next answer even if it did not change (a language switch, a stop).
    redraw() {
      last = '';
    },
    async load(current) {
      const taskId = watching;
      if (!taskId) return;
      let data;
      try {
        data = await get(paths.task(projectId(), taskId));
      } catch (exc) {
        if (current() && watching === taskId) showError(error, exc);
        return;
      }
      if (!current() || watching !== taskId) return;
      showError(error, null);
      const snapshot = JSON.stringify(data);
      if (snapshot === last) return;
      last = snapshot;
      render(data.task, data.recent_victims);
    },
  };
}
