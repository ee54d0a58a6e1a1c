// The rule of autonomous SQL limiting as a form: its fields bounded by the API's own OpenAPI document
// (so the form never disagrees with the server), checked here before the call, prefilled from the
// node's rule. Read-only users get the same rule as a list of facts instead.
import { h, append, clear, label, definitionList } from './dom.js';
import { bound } from './limits.js';

const RULE = 'AutoSqlLimitingRuleModel';
// What a new rule starts from: the whole day, either condition, TaurusDB's usual figures.
export const DEFAULT_RULE = {
  start_time: '00:00',
  end_time: '23:59',
  condition: 'or',
  cpu_usage: 90,
  active_sessions: 100,
  duration: 5,
  clear_time: 10,
  max_concurrency: 10,
  retain_sql_rule: true,
};
const TIMES = ['start_time', 'end_time'];
const NUMBERS = ['cpu_usage', 'active_sessions', 'duration', 'clear_time', 'max_concurrency'];
export const LABELS = {
  start_time: 'limit.startTime',
  end_time: 'limit.endTime',
  condition: 'limit.condition',
  cpu_usage: 'limit.cpuUsage',
  active_sessions: 'limit.activeSessions',
  duration: 'limit.duration',
  clear_time: 'limit.clearTime',
  max_concurrency: 'limit.maxConcurrency',
  retain_sql_rule: 'limit.retain',
};

// The fields a rule is made of, in the API's shape (what the PUT sends, without the node). The show
// call does not report retain_sql_rule (TaurusDB's does not either): it is left out then.
export function ruleSettings(rule) {
  const out = {};
  for (const name of Object.keys(DEFAULT_RULE)) {
    if (rule[name] !== undefined) out[name] = rule[name];
  }
  if (out.retain_sql_rule !== undefined) out.retain_sql_rule = out.retain_sql_rule !== false && out.retain_sql_rule !== 'false';
  return out;
}

function numberInput(name) {
  return h('input', {
    id: `limit-${name.replace(/_/g, '-')}`,
    name,
    type: 'number',
    step: 1,
    inputmode: 'numeric',
    min: bound(RULE, name, 'minimum'),
    max: bound(RULE, name, 'maximum'),
  });
}

function timeInput(name) {
  return h('input', {
    id: `limit-${name.replace(/_/g, '-')}`,
    name,
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    maxlength: 5,
    placeholder: 'hh:mm',
    class: 'time',
  });
}

const field = (input, key, className = 'field') => h('div', { class: className }, h('label', { for: input.id, i18n: key }), input);

// onSave(settings, button): the checked rule; onSwitchOff(button) when it may be switched off here.
export function createRuleForm({ onSave, onSwitchOff }) {
  const inputs = {};
  for (const name of TIMES) inputs[name] = timeInput(name);
  for (const name of NUMBERS) inputs[name] = numberInput(name);
  inputs.condition = h('select', { id: 'limit-condition', name: 'condition' },
    h('option', { value: 'or', i18n: 'limit.condition.or' }),
    h('option', { value: 'and', i18n: 'limit.condition.and' }));
  inputs.retain_sql_rule = h('input', { id: 'limit-retain', name: 'retain_sql_rule', type: 'checkbox', 'aria-describedby': 'limit-retain-hint' });

  const title = h('h3', { id: 'limit-form-title', i18n: 'limit.ruleTitle' });
  const problems = h('div', { class: 'banner error', id: 'limit-form-error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'btn primary', id: 'limit-save', i18n: 'limit.switchOn' });
  const saveNote = h('span', { class: 'muted small', id: 'limit-save-note', i18n: 'limit.saveNote' });
  const switchOff = onSwitchOff
    ? h('button', { type: 'button', class: 'btn danger-outline', id: 'limit-switch-off', i18n: 'limit.switchOff', hidden: true })
    : null;
  const element = h('form', { class: 'card limit-form', id: 'limit-form', novalidate: true, 'aria-labelledby': 'limit-form-title' },
    title,
    h('div', { class: 'limit-grid' },
      h('fieldset', null, h('legend', { i18n: 'limit.when' }),
        h('div', { class: 'row' }, field(inputs.start_time, LABELS.start_time), field(inputs.end_time, LABELS.end_time)),
        h('p', { class: 'hint muted', i18n: 'limit.windowHint' })),
      h('fieldset', null, h('legend', { i18n: 'limit.conditions' }),
        h('div', { class: 'row' }, field(inputs.cpu_usage, LABELS.cpu_usage), field(inputs.condition, LABELS.condition)),
        h('div', { class: 'row' }, field(inputs.active_sessions, LABELS.active_sessions), field(inputs.duration, LABELS.duration))),
      h('fieldset', null, h('legend', { i18n: 'limit.theLimit' }),
        h('div', { class: 'row' }, field(inputs.max_concurrency, LABELS.max_concurrency), field(inputs.clear_time, LABELS.clear_time)),
        h('div', { class: 'row' }, h('div', { class: 'field check' }, inputs.retain_sql_rule,
          h('label', { for: 'limit-retain', i18n: LABELS.retain_sql_rule }))),
        h('p', { class: 'hint muted', id: 'limit-retain-hint', i18n: 'limit.retainHint' }))),
    problems,
    h('div', { class: 'toolbar' }, save, saveNote, h('span', { class: 'spacer' }), switchOff));

  let dirty = false; // the person has typed since the form was last filled
  let filled = ''; // the rule the form was last filled from

  function markValid(input) {
    input.removeAttribute('aria-invalid');
    if (input.getAttribute('aria-describedby') === 'limit-form-error') input.removeAttribute('aria-describedby');
  }

  element.addEventListener('input', (event) => {
    dirty = true;
    if (event.target instanceof HTMLElement) markValid(event.target);
  });
  element.addEventListener('change', () => { dirty = true; });

  // The rule as typed, or the problems: each field checked against the API's bounds.
  function read() {
    const found = [];
    const rule = {};
    const pattern = bound(RULE, 'start_time', 'pattern');
    const timeShape = pattern ? new RegExp(pattern) : /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
    for (const name of TIMES) {
      const value = inputs[name].value.trim();
      if (!timeShape.test(value)) found.push({ name, key: 'limit.invalid.time', args: {} });
      rule[name] = value;
    }
    rule.condition = inputs.condition.value;
    for (const name of NUMBERS) {
      const text = inputs[name].value.trim();
      const min = bound(RULE, name, 'minimum');
      const max = bound(RULE, name, 'maximum');
      const value = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(value) || (min !== undefined && value < min) || (max !== undefined && value > max)) {
        found.push({ name, key: 'limit.invalid.range', args: { min: min ?? 0, max: max ?? '∞' } });
      }
      rule[name] = value;
    }
    rule.retain_sql_rule = inputs.retain_sql_rule.checked;
    return { rule, problems: found };
  }

  function showProblems(found) {
    clear(problems);
    for (const input of Object.values(inputs)) markValid(input);
    if (!found.length) {
      problems.hidden = true;
      return;
    }
    const list = h('ul', { class: 'problems' });
    for (const problem of found) {
      const input = inputs[problem.name];
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', 'limit-form-error');
      list.append(h('li', { dataset: { field: problem.name } },
        h('strong', { i18n: LABELS[problem.name] }), ': ', h('span', { i18n: [problem.key, problem.args] })));
    }
    append(problems, [h('span', { i18n: 'limit.invalid' }), list]);
    problems.hidden = false;
    inputs[found[0].name].focus();
  }

  element.addEventListener('submit', (event) => {
    event.preventDefault();
    const { rule, problems: found } = read();
    showProblems(found);
    if (!found.length) onSave(rule, save);
  });
  if (switchOff) switchOff.addEventListener('click', () => onSwitchOff(switchOff));

  function fill(settings) {
    for (const name of TIMES) inputs[name].value = settings[name];
    for (const name of NUMBERS) inputs[name].value = String(settings[name]);
    inputs.condition.value = settings.condition;
    if (settings.retain_sql_rule !== undefined) inputs.retain_sql_rule.checked = settings.retain_sql_rule;
  }

  fill(DEFAULT_RULE);

  return {
    element,
    // The node's rule (null: none). The form follows it unless the person is editing; `force`
    // (another node, a save) fills it whatever was typed.
    show(rule, { force = false } = {}) {
      const settings = rule ? ruleSettings(rule) : { ...DEFAULT_RULE };
      const snapshot = JSON.stringify(settings);
      label(save, rule ? 'limit.save' : 'limit.switchOn');
      element.dataset.enabled = String(Boolean(rule));
      if (switchOff) switchOff.hidden = !rule;
      if (force) showProblems([]);
      if (force || (!dirty && snapshot !== filled)) {
        fill(settings);
        filled = snapshot;
        dirty = false;
      }
    },
    // What was saved is the rule now: the form is no longer "being edited".
    saved(settings) {
      const { retain_sql_rule: _kept, ...reported } = ruleSettings(settings);
      filled = JSON.stringify(reported);
      dirty = false;
    },
  };
}

// The rule for those who may only look at it.
export function ruleFacts(rule) {
  const settings = ruleSettings(rule);
  return h('section', { class: 'card limit-facts', id: 'limit-rule-facts', 'aria-labelledby': 'limit-facts-title' },
    h('h3', { id: 'limit-facts-title', i18n: 'limit.ruleTitle' }),
    definitionList([
      ['limit.window', `${settings.start_time} – ${settings.end_time}`],
      [LABELS.cpu_usage, `${settings.cpu_usage} %`],
      [LABELS.condition, h('span', { i18n: `limit.condition.${settings.condition}` })],
      [LABELS.active_sessions, String(settings.active_sessions)],
      [LABELS.duration, String(settings.duration)],
      [LABELS.max_concurrency, String(settings.max_concurrency)],
      [LABELS.clear_time, String(settings.clear_time)],
    ]));
}
