// The kill controls above the session table: how many sessions are selected, kill their connections
// or their statements, clear the selection, kill by filter. A user without the right to kill gets a
// note instead (the API would refuse anyway).
import { h, label } from './dom.js';

export function createKillBar({ canKill, onKill, onClearSelection, onKillByFilter }) {
  if (!canKill) {
    return { element: h('p', { class: 'muted small', id: 'readonly-note', i18n: 'kill.readonly' }), showCount() {} };
  }
  const count = h('span', { id: 'selection-count', class: 'muted', i18n: ['select.count', { n: 0 }] });
  const button = (id, className, key, onclick) => h('button', { type: 'button', class: className, id, disabled: true, i18n: key, onclick });
  const needSelection = [
    button('kill-connection', 'btn danger', 'kill.connection', () => onKill('connection')),
    button('kill-query', 'btn danger-outline', 'kill.query', () => onKill('query')),
    button('selection-clear', 'btn', 'select.clear', onClearSelection),
  ];
  const byFilter = h('button', { type: 'button', class: 'btn danger-outline', id: 'kill-by-filter', i18n: 'kbf.open', onclick: onKillByFilter });
  const element = h('div', { class: 'toolbar kill-bar', id: 'kill-toolbar', role: 'group', attrI18n: { 'aria-label': 'kill.toolbar' } },
    count, needSelection, h('span', { class: 'spacer' }), byFilter);
  return {
    element,
    showCount(n) {
      label(count, 'select.count', { n });
      for (const b of needSelection) b.disabled = n === 0;
    },
  };
}
