// The counts of the listed sessions per user, host, db and command, as small bars; a click on a name
// filters the table by it.
import { h, clear } from './dom.js';

const STAT_KEYS = [['user', 'stats.user'], ['host', 'stats.host'], ['db', 'stats.db'], ['command', 'stats.command']];
const STAT_TOP = 8;

// The bars count client hosts without their port while the filter matches the whole "host:port"; a
// socket's "localhost" has no port, an IPv6 address already holds colons.
function filterValue(key, name) {
  return key === 'host' && name !== 'localhost' && !name.includes(':') ? `${name}:*` : name;
}

function byCountThenName(a, b) {
  return b[1] - a[1] || a[0].localeCompare(b[0]);
}

export function createSessionStats({ onPick }) {
  const element = h('section', { class: 'stats', id: 'session-stats', 'aria-labelledby': 'stats-title' },
    h('h3', { id: 'stats-title', class: 'visually-hidden', i18n: 'stats.title' }));
  const lists = {};
  for (const [key, title] of STAT_KEYS) {
    lists[key] = h('ul', { class: 'bars', id: `stats-${key}` });
    element.append(h('div', { class: 'stat-card card' }, h('h4', { i18n: title }), lists[key]));
  }

  function barName(key, name) {
    if (name === '') return h('span', { class: 'bar-name muted', i18n: 'stats.noDb' });
    return h('button', {
      type: 'button',
      class: 'bar-name link',
      text: name,
      attrI18n: { title: ['stats.filterBy', { value: name }] },
      onclick: () => onPick(key, filterValue(key, name)),
    });
  }

  function bar(key, name, count, max) {
    // The width goes through the CSSOM: a strict Content-Security-Policy refuses style attributes.
    const fill = h('span', { class: 'bar-fill', style: { width: `${Math.max(2, (100 * count) / max)}%` } });
    return h('li', { class: 'bar-row', dataset: { key, name } },
      barName(key, name),
      h('span', { class: 'bar', 'aria-hidden': 'true' }, fill),
      h('span', { class: 'bar-count', text: count }));
  }

  function renderList(key, counts) {
    const list = clear(lists[key]);
    const entries = Object.entries(counts || {}).sort(byCountThenName);
    if (!entries.length) {
      list.append(h('li', { class: 'muted small', i18n: 'common.none' }));
      return;
    }
    const max = Math.max(...entries.map(([, n]) => n));
    for (const [name, count] of entries.slice(0, STAT_TOP)) list.append(bar(key, name, count, max));
    if (entries.length > STAT_TOP) {
      list.append(h('li', { class: 'muted small', i18n: ['stats.more', { n: entries.length - STAT_TOP }] }));
    }
  }

  let last = '';
  return {
    element,
    // Unchanged counts keep their elements, so keyboard focus on a bar survives a refresh; `force`
    // redraws anyway (a language switch).
    render(stats, force = false) {
      const snapshot = JSON.stringify(stats || {});
      if (!force && snapshot === last) return;
      last = snapshot;
      for (const [key] of STAT_KEYS) renderList(key, (stats || {})[key]);
    },
  };
}
