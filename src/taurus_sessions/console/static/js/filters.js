// The filter language of the list call, shared by the session list, kill by filter and kill tasks.
import { bound } from './limits.js';
import { h } from './dom.js';

export const TEXT_FIELDS = ['user', 'host', 'db', 'command', 'state', 'info'];
const LABELS = {
  user: 'filter.user',
  host: 'filter.host',
  db: 'filter.db',
  command: 'filter.command',
  state: 'filter.state',
  info: 'filter.info',
};
const PLACEHOLDERS = {
  user: 'filter.userHint',
  host: 'filter.hostHint',
  db: 'filter.dbHint',
  command: 'filter.commandHint',
  state: 'filter.stateHint',
  info: 'filter.infoHint',
};

// Build the inputs; `prefix` keeps ids unique. Returns {element, read(), set(), clear()}.
export function filterFields(prefix, initial = {}) {
  const inputs = {};
  const cells = TEXT_FIELDS.map((name) => {
    const id = `${prefix}-${name}`;
    inputs[name] = h('input', {
      id,
      name,
      type: 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      maxlength: bound('ThreadFilter', name, 'maxLength'),
      attrI18n: { placeholder: PLACEHOLDERS[name] },
      value: initial[name] || '',
    });
    return h('div', { class: 'field' }, h('label', { for: id, i18n: LABELS[name] }), inputs[name]);
  });
  const minId = `${prefix}-min_time`;
  inputs.min_time = h('input', {
    id: minId,
    name: 'min_time',
    type: 'number',
    min: bound('ThreadFilter', 'min_time', 'minimum'),
    max: bound('ThreadFilter', 'min_time', 'maximum'),
    step: 1,
    inputmode: 'numeric',
    value: initial.min_time ?? '',
  });
  const idleId = `${prefix}-idle_in_trx`;
  inputs.idle_in_trx = h('input', { id: idleId, name: 'idle_in_trx', type: 'checkbox', checked: Boolean(initial.idle_in_trx) });
  const element = h('div', { class: 'filter-grid' },
    cells,
    h('div', { class: 'field' }, h('label', { for: minId, i18n: 'filter.minTime' }), inputs.min_time),
    h('div', { class: 'field check' }, inputs.idle_in_trx, h('label', { for: idleId, i18n: 'filter.idleInTrx' })));

  return {
    element,
    inputs,
    // The filter as the API takes it; the API validates (its errors are shown as they come).
    read() {
      const filter = {};
      for (const name of TEXT_FIELDS) {
        const value = inputs[name].value.trim();
        if (value) filter[name] = value;
      }
      const raw = inputs.min_time.value.trim();
      if (raw) filter.min_time = /^-?\d+$/.test(raw) ? Number(raw) : raw;
      else if (inputs.min_time.validity && inputs.min_time.validity.badInput) filter.min_time = 'invalid';
      if (inputs.idle_in_trx.checked) filter.idle_in_trx = true;
      return filter;
    },
    set(values) {
      for (const name of TEXT_FIELDS) inputs[name].value = values[name] || '';
      inputs.min_time.value = values.min_time ?? '';
      inputs.idle_in_trx.checked = Boolean(values.idle_in_trx);
    },
    clear() {
      this.set({});
    },
  };
}

export function filterSummary(filter) {
  if (!filter) return '';
  const parts = [];
  for (const name of TEXT_FIELDS) {
    if (filter[name]) parts.push(name === 'info' ? `info~"${filter[name]}"` : `${name}=${filter[name]}`);
  }
  if (filter.min_time !== undefined && filter.min_time !== null) parts.push(`time>=${filter.min_time}s`);
  if (filter.idle_in_trx) parts.push('idle_in_trx');
  return parts.join(', ');
}
