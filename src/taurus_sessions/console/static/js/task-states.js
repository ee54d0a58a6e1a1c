// The states of a kill task, as the API names them, and their badge.
import { h, label } from './dom.js';

export const STATES = ['running', 'stopped', 'finished', 'failed'];

// A state this console does not know yet is shown as the API wrote it.
export function stateBadge(value) {
  const known = STATES.includes(value);
  const badge = h('span', { class: `badge task-${known ? value : 'other'}`, dataset: { state: value } });
  if (known) label(badge, `task.state.${value}`);
  else badge.textContent = value;
  return badge;
}
