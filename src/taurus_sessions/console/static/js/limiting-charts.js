// What autonomous SQL limiting sees, drawn: a gauge per condition (the reading against its
// threshold) and a timeline of the limits it made. Sizes and places go through the CSSOM or SVG
// attributes, colours through classes: nothing a strict Content-Security-Policy refuses.
import { h, t, formatTime } from './dom.js';

// --- gauges -----------------------------------------------------------------------------------------
const pct = (value, scale) => `${Math.max(0, Math.min(100, (100 * value) / scale))}%`;

// A scale that leaves room above both the threshold and the reading: 1, 2, 2.5, 5 × 10^n.
function niceScale(limit) {
  const raw = Math.max(1, limit) * 1.25;
  const base = 10 ** Math.floor(Math.log10(raw));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * base >= raw) return step * base;
  }
  return 10 * base;
}

// {id, titleKey, value (null: no reading), threshold, scale, unit, condition: met|not_met|unknown, note}
export function gauge({ id, titleKey, value, threshold, scale, unit = '', condition, unknownKey }) {
  const known = condition !== 'unknown' && value !== null && value !== undefined;
  const shown = known ? `${formatNumber(value)}${unit}` : null;
  const wrap = h('div', { class: `gauge ${condition}`, id, dataset: { condition } });
  const reading = known
    ? h('span', { class: 'gauge-value', text: shown })
    : h('span', { class: 'gauge-value unknown', i18n: unknownKey || 'limit.unknown' });
  // Unknown is said once, as the reading; otherwise whether the condition holds.
  const conditionBadge = known ? h('span', { class: `badge cond-${condition}`, i18n: `limit.cond.${condition}` }) : null;
  const track = h('div', {
    class: 'gauge-track',
    role: 'img',
    attrI18n: {
      'aria-label': known
        ? ['limit.gaugeLabel', { name: t(titleKey), value: shown, threshold: `${threshold}${unit}` }]
        : ['limit.gaugeUnknown', { name: t(titleKey), threshold: `${threshold}${unit}` }],
    },
  },
  known ? h('span', { class: 'gauge-fill', style: { width: pct(value, scale) } }) : h('span', { class: 'gauge-none' }),
  h('span', { class: 'gauge-mark', style: { left: pct(threshold, scale) } }));
  const markLabel = h('span', {
    class: 'gauge-mark-label',
    style: { left: pct(threshold, scale) },
    'aria-hidden': 'true',
    i18n: ['limit.threshold', { value: `${threshold}${unit}` }],
  });
  if (threshold / scale > 0.8) markLabel.classList.add('flip'); // keep the label inside the card
  wrap.append(
    h('div', { class: 'gauge-head' }, h('span', { class: 'gauge-title', i18n: titleKey }), reading, conditionBadge),
    h('div', { class: 'gauge-body' }, markLabel, track),
    h('div', { class: 'gauge-scale', 'aria-hidden': 'true' }, h('span', { text: '0' }), h('span', { text: `${formatNumber(scale)}${unit}` })));
  return wrap;
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : Number(value).toFixed(1);
}

// The two gauges of a rule, joined by its condition ("and" / "or").
export function ruleGauges(rule) {
  const sessions = rule.active_sessions_now;
  let sessionsCondition = 'unknown';
  if (sessions !== null && sessions !== undefined) sessionsCondition = sessions >= rule.active_sessions ? 'met' : 'not_met';
  return h('div', { class: 'gauges' },
    gauge({
      id: 'limit-gauge-cpu',
      titleKey: 'limit.cpuNow',
      value: rule.cpu_usage_now,
      threshold: rule.cpu_usage,
      scale: 100,
      unit: '%',
      condition: rule.cpu_condition,
    }),
    h('div', { class: 'gauge-join', dataset: { condition: rule.condition } },
      h('span', { class: 'join-word', i18n: `limit.join.${rule.condition}` })),
    gauge({
      id: 'limit-gauge-sessions',
      titleKey: 'limit.sessionsNow',
      value: sessions,
      threshold: rule.active_sessions,
      scale: niceScale(Math.max(rule.active_sessions, sessions || 0)),
      condition: sessionsCondition,
      unknownKey: 'limit.noReading',
    }));
}

// --- the timeline -----------------------------------------------------------------------------------
const NS = 'http://www.w3.org/2000/svg';
const HOUR = 3600000;
const LANE = 24;
const BAR = 14;
const TOP = 22; // room for the "now" label
const AXIS = 22;
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].map((m) => m * 60000);

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(name, String(value));
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

const pad = (n) => String(n).padStart(2, '0');
function clock(ms, withDate) {
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return withDate ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}` : time;
}

// Where a limit stands: still in force, over at its expiry, or ended early (rule changed or off).
export function limitState(entry, now) {
  if (entry.ended_at !== null && entry.ended_at !== undefined && entry.ended_at < entry.expire_at) return 'ended-early';
  return entry.expire_at > now ? 'in-force' : 'expired';
}

export const limitEnd = (entry) => (entry.ended_at !== null && entry.ended_at !== undefined ? Math.min(entry.ended_at, entry.expire_at) : entry.expire_at);

function shorten(text, chars) {
  return text.length <= chars ? text : `${text.slice(0, Math.max(1, chars - 1))}…`;
}

// The log drawn over time: a lane per limited pattern (the newest on top), a bar per limit from
// create_at to its end, over the span that covers the log and at least the last hour.
export function timeline(logs, { now, width, titleId }) {
  const labelWidth = width < 560 ? 110 : 200;
  const right = 14;
  const plot = Math.max(120, width - labelWidth - right);
  const earliest = Math.min(now - HOUR, ...logs.map((e) => e.create_at));
  const latest = Math.max(now, ...logs.map(limitEnd));
  const margin = (latest - earliest) * 0.02;
  const from = earliest;
  const to = latest + margin;
  const x = (ms) => labelWidth + ((ms - from) / (to - from)) * plot;

  const lanes = [];
  for (const entry of logs) { // newest first already
    if (!lanes.includes(entry.pattern)) lanes.push(entry.pattern);
  }
  const height = TOP + Math.max(1, lanes.length) * LANE + AXIS;
  const root = svg('svg', {
    class: 'timeline',
    id: 'limit-timeline-svg',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'group',
    'aria-labelledby': titleId,
  });
  root.append(svg('title', {}, document.createTextNode(t('limit.timelineLabel', { n: logs.length }))));

  // lanes and their patterns
  lanes.forEach((pattern, i) => {
    const y = TOP + i * LANE;
    root.append(
      svg('rect', { class: `tl-lane ${i % 2 ? 'odd' : 'even'}`, x: labelWidth, y, width: plot, height: LANE }),
      svg('text', { class: 'tl-pattern', x: labelWidth - 8, y: y + LANE / 2 + 4, 'text-anchor': 'end' },
        svg('title', {}, document.createTextNode(pattern)),
        document.createTextNode(shorten(pattern, Math.floor((labelWidth - 12) / 6.6)))));
  });
  if (!lanes.length) {
    root.append(svg('text', { class: 'tl-empty', x: labelWidth + plot / 2, y: TOP + LANE / 2 + 4, 'text-anchor': 'middle' },
      document.createTextNode(t('limit.noLog'))));
  }

  // the time axis: a tick per step, at most one per ~90 px
  const axisY = TOP + Math.max(1, lanes.length) * LANE;
  const step = STEPS.find((s) => ((to - from) / s) * 90 <= plot) || STEPS[STEPS.length - 1];
  const withDate = to - from > 20 * HOUR;
  const offset = new Date(from).getTimezoneOffset() * 60000; // ticks on local round times
  for (let tick = Math.ceil((from - offset) / step) * step + offset; tick <= to; tick += step) {
    const tx = x(tick);
    root.append(svg('line', { class: 'tl-grid', x1: tx, x2: tx, y1: TOP, y2: axisY + 4 }));
    // a label that would not fit beside the edges is left out (its grid line stays)
    const half = withDate ? 34 : 16;
    if (tx - half >= labelWidth - 12 && tx + half <= width - 2) {
      root.append(svg('text', { class: 'tl-tick', x: tx, y: axisY + 16, 'text-anchor': 'middle' }, document.createTextNode(clock(tick, withDate))));
    }
  }
  root.append(svg('line', { class: 'tl-axis', x1: labelWidth, x2: labelWidth + plot, y1: axisY, y2: axisY }));

  // the limits
  const bars = svg('g', { class: 'tl-bars' });
  for (const entry of logs) {
    const lane = lanes.indexOf(entry.pattern);
    const state = limitState(entry, now);
    const start = x(entry.create_at);
    const end = Math.max(start + 6, x(limitEnd(entry))); // a short limit stays visible
    const y = TOP + lane * LANE + (LANE - BAR) / 2;
    const text = t(`limit.barLabel.${state}`, {
      pattern: entry.pattern,
      from: formatTime(entry.create_at),
      to: formatTime(limitEnd(entry)),
      max: entry.max_concurrency,
      stopped: entry.stopped,
    });
    bars.append(svg('rect', {
      class: `tl-bar ${state}`,
      x: start,
      y,
      width: end - start,
      height: BAR,
      rx: 3,
      role: 'img',
      'aria-label': text,
      'data-create-at': entry.create_at,
      'data-state': state,
    }, svg('title', {}, document.createTextNode(text))));
    if (state === 'ended-early') {
      bars.append(svg('path', { class: 'tl-cut', d: `M${end - 1} ${y - 3} v${BAR + 6}`, 'aria-hidden': 'true' }));
    }
  }
  root.append(bars);

  // now
  const nx = x(now);
  root.append(
    svg('line', { class: 'tl-now', x1: nx, x2: nx, y1: TOP - 6, y2: axisY }),
    svg('text', { class: 'tl-now-label', x: nx, y: TOP - 9, 'text-anchor': nx > labelWidth + plot - 30 ? 'end' : 'middle' },
      document.createTextNode(t('limit.now'))));
  return root;
}

export function timelineLegend() {
  const item = (className, key) => h('span', { class: 'tl-key' }, h('span', { class: `swatch ${className}`, 'aria-hidden': 'true' }), h('span', { i18n: key }));
  return h('p', { class: 'tl-legend muted small' },
    item('in-force', 'limit.legend.inForce'),
    item('expired', 'limit.legend.expired'),
    item('ended-early', 'limit.legend.endedEarly'),
    item('now', 'limit.legend.now'));
}
