// A new kill task on the chosen node: its filter, mode, victims and pace, confirmed like a kill (what
// it is, and what its first pass would kill right now) before it is created.
import { h, label, modal, showError, definitionList } from './dom.js';
import { post, paths } from './api.js';
import { nodeContext } from './context.js';
import { filterFields, filterSummary } from './filters.js';
import { resultTable } from './kill.js';
import { modeSelect, victimsSelect, modeLabel, victimsLabel } from './choices.js';
import { bound } from './limits.js';

const TASK = 'CreateKillTaskRequest';

const DEFAULT_INTERVAL = 5;
const DEFAULT_DURATION = 600;

// A whole number when it is one; anything else goes to the API as typed, whose error names it.
function intOrRaw(raw) {
  const text = raw.trim();
  if (!text) return undefined;
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

const field = (id, key, input, className = 'field') => h('div', { class: className }, h('label', { for: id, i18n: key }), input);

function taskInputs() {
  return {
    fields: filterFields('task'),
    name: h('input', { id: 'task-name', type: 'text', autocomplete: 'off', maxlength: bound(TASK, 'name', 'maxLength') }),
    mode: modeSelect('task-mode'),
    victims: victimsSelect('task-victims'),
    interval: h('input', { id: 'task-interval', type: 'number', min: bound(TASK, 'interval_seconds', 'minimum'), max: bound(TASK, 'interval_seconds', 'maximum'), step: 1, value: DEFAULT_INTERVAL, inputmode: 'numeric' }),
    duration: h('input', { id: 'task-duration', type: 'number', min: bound(TASK, 'duration_seconds', 'minimum'), max: bound(TASK, 'duration_seconds', 'maximum'), step: 1, value: DEFAULT_DURATION, inputmode: 'numeric' }),
    forever: h('input', { id: 'task-forever', type: 'checkbox' }),
    perPass: h('input', { id: 'task-max-per-pass', type: 'number', min: 1, step: 1, inputmode: 'numeric' }),
  };
}

// The create call's body from the form.
function taskSpec(inputs) {
  const spec = {
    filter: inputs.fields.read(),
    mode: inputs.mode.value,
    victims: inputs.victims.value,
    interval_seconds: intOrRaw(inputs.interval.value) ?? DEFAULT_INTERVAL,
    duration_seconds: inputs.forever.checked ? null : (intOrRaw(inputs.duration.value) ?? DEFAULT_DURATION),
  };
  const name = inputs.name.value.trim();
  if (name) spec.name = name;
  const cap = intOrRaw(inputs.perPass.value);
  if (cap !== undefined) spec.max_victims_per_pass = cap;
  return spec;
}

function specFacts(spec) {
  return definitionList([
    ['tasks.name', spec.name || ''],
    ['tasks.filter', h('code', { text: filterSummary(spec.filter) })],
    ['kbf.mode', modeLabel(spec.mode)],
    ['kbf.victims', victimsLabel(spec.victims)],
    ['tasks.interval', String(spec.interval_seconds)],
    ['tasks.duration', spec.duration_seconds === null ? h('span', { i18n: 'tasks.untilStopped' }) : String(spec.duration_seconds)],
    ['tasks.maxPerPass', spec.max_victims_per_pass ?? ''],
  ]);
}

// The first pass as a dry run of kill by filter, shown for information: the create call gives its
// own verdict, so a failed preview does not block it.
async function previewFirstPass(d, ctx, spec, { status, error, preview }) {
  try {
    const request = { filter: spec.filter, mode: spec.mode, victims: spec.victims, dry_run: true };
    if (typeof spec.max_victims_per_pass === 'number') request.max_victims = spec.max_victims_per_pass;
    const report = await post(paths.killByFilter(ctx.projectId, ctx.instanceId, ctx.nodeId), request);
    if (!d.open) return;
    label(status, 'tasks.previewNow', { n: report.matched ?? (report.results || []).length });
    preview.append(resultTable(report, 'kill.previewCaption'));
  } catch (exc) {
    status.hidden = true;
    showError(error, exc);
  }
}

function confirmTask(ctx, spec, onCreated) {
  const d = modal({ title: 'tasks.confirmTitle', className: 'task-dialog wide' });
  const parts = {
    status: h('p', { class: 'status', role: 'status', i18n: 'kill.previewing' }),
    error: h('p', { class: 'banner error', role: 'alert', hidden: true }),
    preview: h('div', { class: 'preview' }),
  };
  d.body.append(
    h('p', { class: 'muted' }, h('span', { i18n: 'kill.onNode' }), ' ', h('strong', { text: ctx.nodeLabel })),
    specFacts(spec), parts.status, parts.error, parts.preview);
  const cancel = h('button', { type: 'button', class: 'btn', i18n: 'common.cancel', onclick: () => d.close() });
  const confirm = h('button', { type: 'button', class: 'btn danger', id: 'task-confirm', i18n: 'tasks.start' });
  d.footer.append(cancel, confirm);
  previewFirstPass(d, ctx, spec, parts).then(() => { if (d.open) confirm.focus(); });
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    cancel.disabled = true;
    showError(parts.error, null);
    try {
      const created = await post(paths.createTask(ctx.projectId, ctx.instanceId, ctx.nodeId), spec);
      d.close();
      onCreated(created && created.task);
    } catch (exc) {
      showError(parts.error, exc);
      confirm.disabled = false;
      cancel.disabled = false;
    }
  });
}

// onCreated(task): the task the service created (or nothing when its answer carried none).
export function createTaskForm({ onCreated }) {
  const inputs = taskInputs();
  const formError = h('p', { class: 'banner error', id: 'task-form-error', role: 'alert', hidden: true });
  inputs.forever.addEventListener('change', () => { inputs.duration.disabled = inputs.forever.checked; });
  const form = h('form', { id: 'task-form', class: 'card', novalidate: true },
    h('h3', { i18n: 'tasks.new' }),
    h('p', { class: 'note', i18n: 'tasks.newNote' }),
    h('div', { class: 'row' }, field('task-name', 'tasks.name', inputs.name, 'field grow')),
    h('fieldset', null, h('legend', { i18n: 'kbf.filterLegend' }), inputs.fields.element,
      h('p', { class: 'hint muted', i18n: 'filter.wildcards' })),
    h('div', { class: 'row' },
      field('task-mode', 'kbf.mode', inputs.mode),
      field('task-victims', 'kbf.victims', inputs.victims),
      field('task-interval', 'tasks.interval', inputs.interval),
      field('task-duration', 'tasks.duration', inputs.duration),
      h('div', { class: 'field check' }, inputs.forever, h('label', { for: 'task-forever', i18n: 'tasks.forever' })),
      field('task-max-per-pass', 'tasks.maxPerPass', inputs.perPass)),
    formError,
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'btn danger', id: 'task-start', i18n: 'tasks.start' })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const ctx = nodeContext();
    if (!ctx) return;
    showError(formError, null);
    confirmTask(ctx, taskSpec(inputs), onCreated);
  });
  return form;
}
