// The refresh controls of a polled view: the interval, pause and resume, "refresh now", and when the
// view last loaded (or failed to).
import { h, label, formatTime } from './dom.js';

const INTERVALS = [2, 5, 10, 30, 60];

export function createRefreshBar(poller, { seconds }) {
  const interval = h('select', { id: 'refresh-interval' },
    INTERVALS.map((s) => h('option', { value: s, i18n: ['common.seconds', { n: s }], selected: s === seconds })));
  const pause = h('button', { type: 'button', class: 'btn', id: 'refresh-pause', 'aria-pressed': 'false', i18n: 'refresh.pause' });
  const now = h('button', { type: 'button', class: 'btn', id: 'refresh-now', i18n: 'refresh.now' });
  const status = h('span', { class: 'muted', id: 'refresh-status', role: 'status', 'aria-live': 'polite' });
  const element = h('div', { class: 'toolbar refresh-bar' },
    h('label', { class: 'inline-field', for: 'refresh-interval' }, h('span', { i18n: 'refresh.every' }), interval),
    pause, now, status);

  function togglePause() {
    if (poller.paused) poller.resume();
    else {
      // A load under way is dropped: the view stays as it was when paused.
      poller.pause();
      label(status, 'refresh.paused');
    }
    pause.setAttribute('aria-pressed', String(poller.paused));
    label(pause, poller.paused ? 'refresh.resume' : 'refresh.pause');
  }

  interval.addEventListener('change', () => poller.every(Number(interval.value)));
  pause.addEventListener('click', togglePause);
  now.addEventListener('click', () => poller.now());

  const stamp = () => ({ time: formatTime(new Date()) });
  return {
    element,
    loaded() {
      label(status, poller.paused ? 'refresh.pausedAt' : 'refresh.updated', stamp());
    },
    failed() {
      label(status, 'refresh.failed', stamp());
    },
  };
}
