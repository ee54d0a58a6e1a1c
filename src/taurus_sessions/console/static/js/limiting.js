// Autonomous SQL limiting (TaurusDB's SetAutoSqlLimiting / ShowSqlAutoSqlLimiting /
// DeleteAutoSqlLimiting / ShowAutoSqlLimitingLog) on the chosen primary node: the rule as a form,
// what the limiter last saw as gauges and a state, the limits in force with their countdown, and the
// log as a table and a timeline. Refreshed through the shared poller while the tab is shown.
import { h, t, append, clear, label, modal, showError, formatTime, formatDuration, table } from './dom.js';
import { post, put, del, get, paths } from './api.js';
import { state, can, ACTIONS, isPrimary, primaryOf, currentInstance, setContext } from './state.js';
import { nodeContext } from './context.js';
import { createPoller } from './poller.js';
import { createRuleForm, ruleFacts, ruleSettings } from './limiting-form.js';
import { ruleGauges, timeline, timelineLegend, limitState, limitEnd } from './limiting-charts.js';

const REFRESH_SECONDS = 3;
const STATES = ['not_evaluated', 'outside_window', 'watching', 'conditions_met', 'limiting'];
const END_REASONS = {
  'the rule was changed': 'limit.reason.changed',
  'auto SQL limiting was switched off': 'limit.reason.switchedOff',
};

function stateBadge(rule) {
  const known = STATES.includes(rule.state);
  const badge = h('span', { class: `badge limit-state state-${known ? rule.state : 'other'}`, id: 'limit-state', dataset: { state: rule.state } });
  if (!known) badge.textContent = rule.state;
  else if (rule.state === 'conditions_met' && rule.conditions_since) label(badge, 'limit.state.conditions_met_since', { since: formatTime(rule.conditions_since) });
  else label(badge, `limit.state.${rule.state}`);
  return badge;
}

// "in 4m 05s", kept current by the view's clock.
function countdown(until) {
  return h('span', { class: 'countdown muted', dataset: { until: String(until) } });
}

function tickCountdowns(root) {
  const now = Date.now();
  for (const el of root.querySelectorAll('.countdown[data-until]')) {
    const left = (Number(el.dataset.until) - now) / 1000;
    label(el, left > 0 ? 'limit.left' : 'limit.ending', { left: formatDuration(left) });
  }
}

function patternCell(pattern, template) {
  return h('span', { class: 'pattern-cell' },
    h('code', { class: 'sql', text: pattern }),
    template ? h('span', { class: 'muted small template', text: template }) : null);
}

export function createLimitingView(panel) {
  const canSet = can(ACTIONS.setSqlLimiting) && can(ACTIONS.kill);
  const canDelete = can(ACTIONS.deleteSqlLimiting);
  // What is drawn: the node it is about, its rule (null: none), the log, and the last snapshots.
  const st = { nodeId: null, rule: null, logs: [], loaded: false, drawn: {} };
  let loads = 0;
  let clock = null;

  const poller = createPoller(load, { seconds: REFRESH_SECONDS });
  const nodeName = h('span', { class: 'muted', id: 'limit-node' });
  const refresh = h('button', { type: 'button', class: 'btn', id: 'limit-refresh', i18n: 'common.refresh', onclick: () => poller.now() });
  const status = h('span', { class: 'muted', id: 'limit-status', role: 'status', 'aria-live': 'polite' });
  const toolbar = h('div', { class: 'toolbar' }, refresh, status);
  const error = h('div', { class: 'banner error', id: 'limit-error', role: 'alert', hidden: true });
  const notice = h('p', { class: 'banner info', id: 'limit-notice', role: 'status', hidden: true });
  const minuteWarning = h('p', { class: 'banner warn', id: 'limit-minute-warning', hidden: true });
  const toPrimary = h('button', { type: 'button', class: 'btn', id: 'limit-to-primary', i18n: 'limit.toPrimary', onclick: goToPrimary });
  const replica = h('div', { class: 'banner info', id: 'limit-replica', hidden: true },
    h('span', { i18n: 'limit.primaryOnly' }), ' ', toPrimary);
  const off = h('p', { class: 'banner info', id: 'limit-off-note', hidden: true });

  // what the limiter sees
  const stateBox = h('span', { class: 'state-box' });
  const evaluated = h('span', { class: 'muted small', id: 'limit-evaluated' });
  const stateLine = h('div', { class: 'limit-state-line' }, h('span', { i18n: 'limit.stateLabel' }), stateBox, evaluated);
  const gauges = h('div', { id: 'limit-gauges' });
  const note = h('p', { class: 'note', id: 'limit-note', hidden: true });
  const seen = h('section', { class: 'card limit-seen', id: 'limit-seen', 'aria-labelledby': 'limit-seen-title', hidden: true },
    h('h3', { id: 'limit-seen-title', i18n: 'limit.seenTitle' }), stateLine, gauges, note);

  // the rule
  const form = canSet ? createRuleForm({ onSave: save, onSwitchOff: canDelete ? confirmSwitchOff : null }) : null;
  const facts = h('div', { id: 'limit-facts-box' });
  const offOnly = !canSet && canDelete
    ? h('div', { class: 'toolbar' }, h('button', { type: 'button', class: 'btn danger-outline', id: 'limit-switch-off', i18n: 'limit.switchOff', onclick: (e) => confirmSwitchOff(e.currentTarget) }))
    : null;
  const ruleBox = h('div', { class: 'limit-rule' }, form ? form.element : facts, offOnly);

  const active = h('div', { id: 'limit-active' });
  const activeSection = h('section', { class: 'limit-section', id: 'limit-active-section', 'aria-labelledby': 'limit-active-title', hidden: true },
    h('h3', { id: 'limit-active-title', i18n: 'limit.activeTitle' }), active);
  const chart = h('div', { class: 'timeline-box', id: 'limit-timeline' });
  const log = h('div', { id: 'limit-log' });
  const logSection = h('section', { class: 'limit-section', id: 'limit-log-section', 'aria-labelledby': 'limit-log-title', hidden: true },
    h('h3', { id: 'limit-log-title', i18n: 'limit.logTitle' }),
    h('p', { class: 'muted small', i18n: 'limit.logExplain' }),
    chart, timelineLegend(), log);
  const top = h('div', { class: 'limit-top' }, seen, ruleBox);

  append(panel, [
    h('h2', { class: 'panel-title' }, h('span', { i18n: 'limit.title' }), ' ', nodeName),
    h('p', { class: 'muted', i18n: 'limit.explain' }),
    toolbar,
    error, notice, minuteWarning, replica, off, top, activeSection, logSection]);

  // --- loading -------------------------------------------------------------------------------------
  async function load(current) {
    const ctx = nodeContext();
    if (!ctx) return;
    if (!isPrimary(ctx.node)) {
      // Limiting applies to primaries only: nothing to ask for.
      st.nodeId = ctx.nodeId;
      render();
      return;
    }
    try {
      const [shown, logged] = await Promise.all([
        post(paths.sqlLimiting(ctx.projectId, ctx.instanceId), { node_ids: [ctx.nodeId] }),
        get(paths.sqlLimitingLog(ctx.projectId, ctx.instanceId, ctx.nodeId)),
      ]);
      if (!current()) return;
      const fresh = st.nodeId !== ctx.nodeId;
      st.nodeId = ctx.nodeId;
      st.rule = ((shown && shown.auto_sql_limiting_rules) || []).find((r) => r.node_id === ctx.nodeId) || null;
      st.logs = (logged && logged.logs) || [];
      st.loaded = true;
      showError(error, null);
      render({ fresh });
      loads += 1;
      panel.dataset.loaded = String(loads);
      label(status, 'refresh.updated', { time: formatTime(new Date()) });
    } catch (exc) {
      if (!current()) return;
      showError(error, exc);
      label(status, 'refresh.failed', { time: formatTime(new Date()) });
    }
  }

  // --- drawing -------------------------------------------------------------------------------------
  // A part is redrawn only when what it shows changed (focus and countdowns stay put otherwise).
  function changed(part, value) {
    const snapshot = JSON.stringify(value);
    if (st.drawn[part] === snapshot) return false;
    st.drawn[part] = snapshot;
    return true;
  }

  function render({ fresh = false } = {}) {
    const ctx = nodeContext();
    nodeName.textContent = ctx ? `— ${ctx.nodeLabel}` : '';
    const onReplica = Boolean(ctx) && !isPrimary(ctx.node);
    const primary = primaryOf(currentInstance());
    replica.hidden = !onReplica;
    toolbar.hidden = onReplica;
    toPrimary.hidden = !primary;
    panel.dataset.node = onReplica ? 'replica' : 'primary';
    const ready = !onReplica && st.loaded;
    const rule = ready ? st.rule : null;
    panel.dataset.enabled = String(Boolean(rule));
    off.hidden = !ready || Boolean(rule);
    if (!off.hidden) label(off, canSet ? 'limit.offCanSet' : 'limit.off');
    top.hidden = !ready;
    top.classList.toggle('single', !rule);
    seen.hidden = !rule;
    activeSection.hidden = !rule;
    logSection.hidden = !ready;
    minuteWarning.hidden = !rule || rule.minute_seconds === 60;
    if (rule && rule.minute_seconds !== 60) label(minuteWarning, 'limit.minuteWarning', { n: rule.minute_seconds });
    if (!ready) return;
    if (rule) drawSeen(rule);
    drawRule(rule, fresh);
    if (rule) drawActive(rule);
    drawLog();
    tickCountdowns(panel);
  }

  function drawSeen(rule) {
    const { active_limits: _limits, evaluated_at: _at, ...view } = rule;
    if (changed('seen', view)) {
      clear(stateBox).append(stateBadge(rule));
      clear(gauges).append(ruleGauges(rule),
        h('p', { class: 'muted small', id: 'limit-cpu-source', dataset: { source: rule.cpu_source } },
          h('span', { i18n: ['limit.cpuSource', { source: t(`limit.source.${rule.cpu_source}`) }] })));
      // The service's note is in English: the one it always gives without a CPU source is translated.
      const never = rule.condition === 'and' && rule.cpu_condition === 'unknown';
      append(clear(note), [
        rule.cpu_source === 'none' ? h('span', { i18n: 'limit.noCpuSource' }) : h('span', { text: rule.note || '' }),
        never ? h('strong', { class: 'never', i18n: 'limit.andNeverFires' }) : null]);
      note.hidden = !rule.note && !never;
      note.classList.toggle('warn', never);
    }
    if (rule.evaluated_at) label(evaluated, 'limit.evaluatedAt', { time: formatTime(rule.evaluated_at) });
    else label(evaluated, 'limit.notEvaluated');
  }

  function drawRule(rule, fresh) {
    if (form) {
      form.show(rule, { force: fresh });
      return;
    }
    if (changed('facts', rule && ruleSettings(rule))) append(clear(facts), [rule ? ruleFacts(rule) : null]);
    if (offOnly) offOnly.hidden = !rule;
  }

  function templateOf(limit) {
    const entry = st.logs.find((e) => e.pattern === limit.pattern && e.create_at === limit.create_at);
    return entry ? entry.template : '';
  }

  function drawActive(rule) {
    const limits = rule.active_limits || [];
    if (!changed('active', [limits, st.logs.length])) return;
    clear(active).append(table([
      { label: 'limit.pattern', get: (l) => patternCell(l.pattern, templateOf(l)) },
      { label: 'limit.maxConcurrency', get: (l) => l.max_concurrency, class: 'num' },
      { label: 'limit.since', get: (l) => formatTime(l.create_at) },
      { label: 'limit.until', get: (l) => h('span', { class: 'until' }, formatTime(l.expire_at), ' ', countdown(l.expire_at)) },
      { label: 'limit.stopped', get: (l) => l.stopped, class: 'num' },
    ], limits, {
      empty: 'limit.noActive',
      className: 'grid limit-active-table',
      rowData: (l) => ({ pattern: l.pattern, createAt: String(l.create_at) }),
    }));
  }

  function drawLog() {
    const now = Date.now();
    const width = Math.max(320, Math.floor(chart.clientWidth || panel.clientWidth || 900));
    const titleId = 'limit-log-title';
    clear(chart).append(timeline(st.logs, { now, width, titleId }));
    if (!changed('log', st.logs.map((e) => [e, limitState(e, now)]))) return;
    clear(log).append(table([
      { label: 'limit.pattern', get: (e) => patternCell(e.pattern, e.template) },
      { label: 'limit.sqlType', get: (e) => e.sql_type },
      { label: 'limit.maxConcurrency', get: (e) => e.max_concurrency, class: 'num' },
      { label: 'limit.sessionsThen', get: (e) => e.sessions, class: 'num' },
      { label: 'limit.since', get: (e) => formatTime(e.create_at) },
      { label: 'limit.ended', get: (e) => formatTime(limitEnd(e)) },
      { label: 'limit.outcome', get: (e) => outcome(e, now) },
      { label: 'limit.stopped', get: (e) => e.stopped, class: 'num' },
    ], st.logs, {
      empty: 'limit.noLog',
      className: 'grid limit-log-table',
      rowData: (e) => ({ pattern: e.pattern, createAt: String(e.create_at), state: limitState(e, now) }),
    }));
  }

  function outcome(entry, now) {
    const which = limitState(entry, now);
    const badge = h('span', { class: `badge limit-${which}`, i18n: `limit.outcome.${which}` });
    if (which === 'in-force') return h('span', null, badge, ' ', countdown(entry.expire_at));
    if (which === 'ended-early' && entry.end_reason) {
      // the service's two reasons are translated; any other is shown as it came
      const known = END_REASONS[entry.end_reason];
      const why = known ? h('span', { class: 'muted small', i18n: known }) : h('span', { class: 'muted small', text: entry.end_reason });
      return h('span', null, badge, ' ', why);
    }
    return badge;
  }

  // --- what the user asks for ----------------------------------------------------------------------
  function goToPrimary() {
    const primary = primaryOf(currentInstance());
    if (primary) setContext(state.instanceId, primary.id);
  }

  async function save(settings, button) {
    const ctx = nodeContext();
    if (!ctx) return;
    const wasOn = Boolean(st.rule);
    button.disabled = true;
    showError(error, null);
    notice.hidden = true;
    try {
      const answer = await put(paths.sqlLimiting(ctx.projectId, ctx.instanceId), {
        auto_sql_limiting_rules: [{ node_id: ctx.nodeId, ...settings }],
      });
      form.saved(settings);
      label(notice, wasOn ? 'limit.saved' : 'limit.switchedOn', { job: answer && answer.job_id });
      notice.dataset.jobId = (answer && answer.job_id) || '';
      notice.hidden = false;
      poller.now();
    } catch (exc) {
      showError(error, exc);
    } finally {
      button.disabled = false;
    }
  }

  function confirmSwitchOff(opener) {
    const ctx = nodeContext();
    if (!ctx) return;
    const limits = (st.rule && st.rule.active_limits) || [];
    const dlg = modal({ title: 'limit.offTitle', className: 'limit-off-dialog' });
    const dlgError = h('div', { class: 'banner error', role: 'alert', hidden: true });
    append(dlg.body, [dlgError,
      h('p', null, h('span', { i18n: 'limit.offText' }), ' ', h('strong', { text: ctx.nodeLabel })),
      h('p', { i18n: limits.length ? ['limit.offLimits', { n: limits.length }] : 'limit.offNoLimits' })]);
    const cancel = h('button', { type: 'button', class: 'btn', i18n: 'common.cancel', onclick: () => dlg.close() });
    const go = h('button', { type: 'button', class: 'btn danger', id: 'limit-off-confirm', i18n: 'limit.switchOff' });
    append(dlg.footer, [cancel, go]);
    go.addEventListener('click', async () => {
      go.disabled = true;
      if (opener) opener.disabled = true;
      try {
        await del(paths.sqlLimitingNode(ctx.projectId, ctx.instanceId, ctx.nodeId));
        dlg.close();
        label(notice, 'limit.switchedOff');
        notice.hidden = false;
        st.rule = null;
        if (form) form.show(null, { force: true });
        poller.now();
      } catch (exc) {
        showError(dlgError, exc);
        go.disabled = false;
      } finally {
        if (opener) opener.disabled = false;
      }
    });
    cancel.focus();
  }

  // --- the view's life -----------------------------------------------------------------------------
  function startClock() {
    clearInterval(clock);
    clock = setInterval(() => tickCountdowns(panel), 1000);
  }

  function reset() {
    st.nodeId = null;
    st.rule = null;
    st.logs = [];
    st.loaded = false;
    st.drawn = {};
    notice.hidden = true;
    showError(error, null);
    status.textContent = '';
    delete panel.dataset.loaded;
  }

  return {
    activate() {
      startClock();
      poller.start();
    },
    // Another tab is shown: nothing is asked for until this one is back.
    deactivate() {
      poller.stop();
      clearInterval(clock);
    },
    contextChanged() {
      reset();
      render();
      poller.now();
    },
    languageChanged() {
      st.drawn = {};
      if (st.loaded || st.nodeId) render();
    },
    destroy() {
      poller.stop();
      clearInterval(clock);
    },
  };
}
