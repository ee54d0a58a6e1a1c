// The lock-wait view of one session: what it waits for, who holds the lock, and a kill-blocker action.
import { h, clear, modal, showError, definitionList, formatDuration } from './dom.js';
import { get, paths } from './api.js';
import { killSessions, statementCell } from './kill.js';

export function lockWaitDialog({ pid, ctx, canKill, onKilled }) {
  const d = modal({ title: ['lock.title', { id: pid }], className: 'lock-dialog wide' });
  const status = h('p', { class: 'status', role: 'status', i18n: 'lock.loading' });
  const error = h('p', { class: 'banner error', role: 'alert', hidden: true });
  const content = h('div', { class: 'lock-content' });
  d.body.append(h('p', { class: 'muted' }, h('span', { i18n: 'kill.onNode' }), ' ', h('strong', { text: ctx.nodeLabel })), status, error, content);
  const refresh = h('button', { type: 'button', class: 'btn', id: 'lock-refresh', i18n: 'common.refresh' });
  const close = h('button', { type: 'button', class: 'btn', i18n: 'common.close', onclick: () => d.close() });
  d.footer.append(refresh, close);
  let killButton = null;

  async function load() {
    showError(error, null);
    status.hidden = false;
    if (killButton) killButton.remove();
    killButton = null;
    try {
      const data = await get(paths.lockWait(ctx.projectId, ctx.instanceId, ctx.nodeId), { pid });
      if (!d.open) return;
      clear(content);
      const cause = (data && data.abnormal_root_cause) || {};
      if (cause.abnormal_type !== 'LOCK_WAIT' || !cause.lock_root_cause) {
        status.hidden = true;
        content.append(h('p', { class: 'banner info', id: 'lock-none', i18n: ['lock.none', { id: pid }] }));
        return;
      }
      status.hidden = true;
      const c = cause.lock_root_cause;
      const lockName = [c.lock_db, c.lock_table].filter(Boolean).join('.');
      const sqlList = Array.isArray(c.blocker_current_sql) ? c.blocker_current_sql : (c.blocker_current_sql ? [c.blocker_current_sql] : []);
      content.append(
        h('p', { class: 'banner warn', id: 'lock-summary', i18n: ['lock.summary', { id: c.locked_pid ?? pid, blocker: c.blocker_pid, seconds: c.wait_seconds ?? '?' }] }),
        h('div', { class: 'lock-grid' },
          h('section', { class: 'card', 'aria-labelledby': 'lock-h-waiter' },
            h('h3', { id: 'lock-h-waiter', i18n: 'lock.waiter' }),
            definitionList([
              ['lock.pid', c.locked_pid],
              ['lock.waited', c.wait_seconds === undefined || c.wait_seconds === null ? '' : formatDuration(c.wait_seconds)],
              ['lock.statement', statementCell(c.locked_sql, 200)],
            ])),
          h('section', { class: 'card', 'aria-labelledby': 'lock-h-lock' },
            h('h3', { id: 'lock-h-lock', i18n: 'lock.lock' }),
            definitionList([
              ['lock.table', lockName],
              ['lock.index', c.lock_index],
              ['lock.mode', c.lock_mode],
              ['lock.data', c.lock_data],
            ])),
          h('section', { class: 'card blocker', id: 'lock-blocker', 'aria-labelledby': 'lock-h-blocker' },
            h('h3', { id: 'lock-h-blocker', i18n: 'lock.blocker' }),
            definitionList([
              ['lock.pid', h('strong', { id: 'lock-blocker-pid', text: c.blocker_pid ?? '' })],
              c.blocker_user !== undefined ? ['lock.user', c.blocker_user] : null,
              ['lock.host', c.blocker_host],
              ['lock.command', c.blocker_command],
              ['lock.trxState', c.blocker_state],
              ['lock.trxAge', c.blocker_age === undefined || c.blocker_age === null ? '' : formatDuration(c.blocker_age)],
              ['lock.rowsLocked', c.blocker_rows_locked],
              ['lock.rowsModified', c.blocker_rows_modified],
              ['lock.threadId', c.blocker_thread_id],
              ['lock.currentSql', sqlList.length ? h('div', null, sqlList.map((s) => h('div', null, statementCell(s, 200)))) : ''],
            ]))));
      const chain = Array.isArray(c.blocking_chain) ? c.blocking_chain : [];
      const root = chain.length > 2 ? chain[chain.length - 1] : null;
      if (root !== null) {
        content.append(h('p', { class: 'banner info', id: 'lock-chain' },
          h('span', { i18n: ['lock.chain', { chain: chain.join(' → '), root }] })));
      }
      if (canKill && c.blocker_pid !== undefined && c.blocker_pid !== null) {
        // The guard expects the blocker as shown here: its user and host.
        const blocker = { id: c.blocker_pid, user: c.blocker_user || undefined, host: c.blocker_host || undefined };
        const killThem = (targets) => killSessions({
          targets, mode: 'connection', ctx, onDone: () => { load(); if (onKilled) onKilled(); },
        });
        killButton = h('span', { class: 'row-actions' });
        if (root !== null && root !== c.blocker_pid) {
          killButton.append(h('button', {
            type: 'button', class: 'btn danger-outline', id: 'lock-kill-root',
            i18n: ['lock.killRoot', { id: root }], onclick: () => killThem([{ id: root }]),
          }), ' ');
        }
        killButton.append(h('button', {
          type: 'button', class: 'btn danger', id: 'lock-kill-blocker',
          i18n: ['lock.killBlocker', { id: c.blocker_pid }], onclick: () => killThem([blocker]),
        }));
        d.footer.prepend(killButton);
      }
    } catch (exc) {
      status.hidden = true;
      showError(error, exc);
    }
  }
  refresh.addEventListener('click', load);
  load();
  return d;
}
