// The fixed choices of a kill: its mode, and which of the matching sessions are its victims. One list
// each, so the selects of kill by filter and kill tasks, and every place that names a choice later
// (confirmations, task details, the audit trail), offer and say the same thing.
import { h } from './dom.js';

// Each list starts with the API's default.
export const MODES = [
  { value: 'connection', key: 'mode.connection' },
  { value: 'query', key: 'mode.query' },
];

export const VICTIMS = [
  { value: 'all', key: 'victims.all' },
  { value: 'oldest', key: 'victims.oldest' },
  { value: 'all-but-oldest', key: 'victims.allButOldest' },
];

// A <select> offering `choices` ([{value, key}]) in their order, the first one chosen.
export function choiceSelect(id, choices) {
  return h('select', { id }, choices.map((choice) => h('option', { value: choice.value, i18n: choice.key })));
}

export const modeSelect = (id) => choiceSelect(id, MODES);
export const victimsSelect = (id) => choiceSelect(id, VICTIMS);

function keyOf(choices, value, fallback) {
  const known = choices.find((choice) => choice.value === value);
  return known ? known.key : fallback;
}

// A mode the console does not know yet shows as its key, so it stays visible rather than blank.
export const modeLabel = (mode) => h('span', { i18n: keyOf(MODES, mode, `mode.${mode}`) });
// No victims choice recorded means the API's default: all of them.
export const victimsLabel = (victims) => h('span', { i18n: keyOf(VICTIMS, victims, 'victims.all') });
