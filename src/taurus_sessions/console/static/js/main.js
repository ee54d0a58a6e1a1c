// Entry point: language, sign-in and sign-out, instance and node choice, tabs.
import { h, clear, label, showError, errorText } from './dom.js';
import { t, applyI18n, getLanguage, setLanguage, onLanguageChange } from './i18n.js';
import { auth, signIn, signOut, get, paths, whenTokenGone } from './api.js';
import { state, setContext, rememberedContext, onContextChange, can, ACTIONS, nodeLabel, roleKey, currentNode } from './state.js';
import { createSessionsView } from './sessions.js';
import { createTasksView } from './tasks.js';
import { createAuditView } from './audit.js';
import { createIntelligentView } from './intelligent.js';
import { createDbUsersView } from './das-db-users.js';
import { createLimitingView } from './limiting.js';
import { loadLimits } from './limits.js';

const $ = (id) => document.getElementById(id);
const TABS = [
  { name: 'sessions', action: ACTIONS.list, create: createSessionsView },
  { name: 'tasks', action: ACTIONS.taskList, create: createTasksView },
  { name: 'intelligent', action: ACTIONS.showIntelligent, create: createIntelligentView },
  { name: 'limiting', action: ACTIONS.showSqlLimiting, create: createLimitingView },
  { name: 'audit', action: ACTIONS.audit, create: createAuditView },
  { name: 'dbusers', action: ACTIONS.dasListDbUsers, create: createDbUsersView },
];
const LAST_SIGNIN = 'taurus.console.lastSignIn';

let views = {};
let currentTab = null;
let expiryTimer = null;

// --- language -------------------------------------------------------------------------------------
function initLanguage() {
  const select = $('language');
  select.value = getLanguage();
  select.addEventListener('change', () => setLanguage(select.value));
  onLanguageChange(() => {
    select.value = getLanguage();
    refreshNodeOptions();
    for (const view of Object.values(views)) view.languageChanged();
  });
  applyI18n(document);
}

// --- sign-in --------------------------------------------------------------------------------------
function showSignIn(notice) {
  teardown();
  $('app-view').hidden = true;
  $('sign-out').hidden = true;
  $('whoami').hidden = true;
  $('signin-view').hidden = false;
  showError($('signin-error'), null);
  const noticeEl = $('signin-notice');
  if (notice) {
    clear(noticeEl);
    noticeEl.append(h('span', { i18n: notice.key }), notice.detail ? h('span', { class: 'muted', text: ` (${notice.detail})` }) : null);
    noticeEl.hidden = false;
  } else {
    noticeEl.hidden = true;
  }
  try {
    const last = JSON.parse(localStorage.getItem(LAST_SIGNIN) || 'null');
    if (last) {
      if (!$('signin-domain').value) $('signin-domain').value = last.domain || '';
      if (!$('signin-project').value) $('signin-project').value = last.project || '';
      if (!$('signin-user').value) $('signin-user').value = last.user || '';
    }
  } catch {
    // nothing remembered
  }
  $('signin-password').value = '';
  const first = ['signin-user', 'signin-password', 'signin-domain', 'signin-project'].map($).find((el) => !el.value) || $('signin-password');
  first.focus();
}

function initSignIn() {
  const form = $('signin-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = {
      user: $('signin-user').value.trim(),
      password: $('signin-password').value,
      domain: $('signin-domain').value.trim(),
      project: $('signin-project').value.trim(),
    };
    const errorEl = $('signin-error');
    const missing = Object.entries(values).filter(([, v]) => !v).map(([k]) => k);
    if (missing.length) {
      clear(errorEl);
      errorEl.append(h('span', { i18n: 'auth.missing' }));
      errorEl.hidden = false;
      $(`signin-${missing[0]}`).focus();
      return;
    }
    const button = $('signin-submit');
    button.disabled = true;
    showError(errorEl, null);
    try {
      const session = await signIn(values);
      localStorage.setItem(LAST_SIGNIN, JSON.stringify({ user: values.user, domain: values.domain, project: values.project }));
      $('signin-password').value = '';
      await enter(session);
    } catch (exc) {
      showError(errorEl, exc);
      $('signin-password').select();
    } finally {
      button.disabled = false;
    }
  });
  $('sign-out').addEventListener('click', async () => {
    await signOut();
    showSignIn(null);
  });
  whenTokenGone((error, expiredHere) => {
    showSignIn({ key: 'auth.expired', detail: expiredHere ? '' : errorText(error) });
  });
}

// --- the console ----------------------------------------------------------------------------------
function teardown() {
  for (const view of Object.values(views)) view.destroy();
  views = {};
  currentTab = null;
  clearTimeout(expiryTimer);
  for (const tab of TABS) clear($(`panel-${tab.name}`));
  state.session = null;
  state.perms = {};
  state.instances = [];
}

async function enter(session) {
  teardown();
  state.session = session;
  $('signin-view').hidden = true;
  $('signin-notice').hidden = true;
  $('app-view').hidden = false;
  $('sign-out').hidden = false;
  const who = $('whoami');
  clear(who);
  who.append(h('span', { i18n: ['auth.who', { user: session.user.name, domain: session.user.domain, project: session.project.name }] }));
  who.hidden = false;
  const appError = $('app-error');
  showError(appError, null);
  // The token's own end: go back to sign-in when it comes, without waiting for a failed call.
  const left = Date.parse(session.expiresAt) - Date.now();
  if (Number.isFinite(left) && left > 0 && left < 2 ** 31) {
    expiryTimer = setTimeout(() => {
      auth.clear();
      showSignIn({ key: 'auth.expired', detail: '' });
    }, left);
  }
  try {
    const [perms, instances] = await Promise.all([
      get(paths.permissions(session.project.id)),
      get(paths.instances(session.project.id), { limit: 100 }),
    ]);
    state.perms = (perms && perms.actions) || {};
    state.instances = (instances && instances.instances) || [];
  } catch (exc) {
    if (exc.tokenGone) return;
    showError(appError, exc);
    return;
  }
  document.body.dataset.canKill = String(can(ACTIONS.kill));
  fillInstances();
  buildTabs();
}

function fillInstances() {
  const instSel = $('instance-select');
  clear(instSel);
  if (!state.instances.length) {
    instSel.append(h('option', { value: '', i18n: 'ctx.noInstances' }));
    instSel.disabled = true;
    fillNodes(null);
    return;
  }
  instSel.disabled = false;
  for (const inst of state.instances) {
    instSel.append(h('option', { value: inst.id, text: `${inst.name || inst.id} (${inst.id.slice(0, 8)}…)` }));
  }
  const remembered = rememberedContext();
  const inst = state.instances.find((i) => i.id === remembered.instanceId) || state.instances[0];
  instSel.value = inst.id;
  fillNodes(inst, remembered.nodeId);
}

function fillNodes(inst, preferred) {
  const nodeSel = $('node-select');
  clear(nodeSel);
  const nodes = inst ? [...inst.nodes] : [];
  // primary first, then replicas
  nodes.sort((a, b) => Number(roleKey(a) !== 'ctx.primary') - Number(roleKey(b) !== 'ctx.primary'));
  for (const node of nodes) nodeSel.append(h('option', { value: node.id, text: nodeLabel(node), dataset: { role: node.role } }));
  nodeSel.disabled = !nodes.length;
  const node = nodes.find((n) => n.id === preferred) || nodes[0] || null;
  if (node) nodeSel.value = node.id;
  setContext(inst ? inst.id : null, node ? node.id : null);
}

function refreshNodeOptions() {
  const nodeSel = $('node-select');
  for (const option of nodeSel.options) {
    const inst = state.instances.find((i) => i.id === state.instanceId);
    const node = inst && inst.nodes.find((n) => n.id === option.value);
    if (node) option.textContent = nodeLabel(node);
  }
  updateNodeBadge();
}

function updateNodeBadge() {
  const badge = $('node-badge');
  const node = currentNode();
  if (!node) {
    badge.hidden = true;
    return;
  }
  badge.hidden = false;
  badge.className = `badge role-${node.role}`;
  label(badge, roleKey(node));
}

function initContext() {
  $('instance-select').addEventListener('change', (event) => {
    const inst = state.instances.find((i) => i.id === event.target.value);
    fillNodes(inst || null);
  });
  $('node-select').addEventListener('change', (event) => {
    setContext(state.instanceId, event.target.value);
  });
  onContextChange(() => {
    // A view may choose the node itself (the limiting view's "go to the primary"): the list follows.
    const nodeSel = $('node-select');
    if (state.nodeId && nodeSel.value !== state.nodeId) nodeSel.value = state.nodeId;
    updateNodeBadge();
    for (const view of Object.values(views)) view.contextChanged();
  });
}

// --- tabs -----------------------------------------------------------------------------------------
function buildTabs() {
  const allowed = TABS.filter((tab) => can(tab.action));
  for (const tab of TABS) {
    const button = $(`tab-${tab.name}`);
    const ok = allowed.includes(tab);
    button.hidden = !ok;
    $(`panel-${tab.name}`).hidden = true;
    if (ok) {
      views[tab.name] = tab.create($(`panel-${tab.name}`));
      views[tab.name].contextChanged();
    }
  }
  if (!allowed.length) {
    showError($('app-error'), { message: t('ctx.noRights') });
    return;
  }
  let wanted = null;
  try {
    wanted = sessionStorage.getItem('taurus.console.tab');
  } catch {
    wanted = null;
  }
  selectTab((allowed.find((tab) => tab.name === wanted) || allowed[0]).name, false);
}

function selectTab(name, focus = true) {
  for (const tab of TABS) {
    const button = $(`tab-${tab.name}`);
    const selected = tab.name === name;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`panel-${tab.name}`).hidden = !selected;
  }
  if (currentTab && currentTab !== name && views[currentTab]) views[currentTab].deactivate();
  currentTab = name;
  try {
    sessionStorage.setItem('taurus.console.tab', name);
  } catch {
    // not remembered
  }
  if (views[name]) views[name].activate();
  if (focus) $(`tab-${name}`).focus();
}

function initTabs() {
  const list = document.querySelector('[role="tablist"]');
  list.addEventListener('click', (event) => {
    const button = event.target.closest('[role="tab"]');
    if (button) selectTab(button.dataset.tab);
  });
  list.addEventListener('keydown', (event) => {
    const visible = [...list.querySelectorAll('[role="tab"]')].filter((b) => !b.hidden);
    const index = visible.findIndex((b) => b.dataset.tab === currentTab);
    let next = null;
    if (event.key === 'ArrowRight') next = visible[(index + 1) % visible.length];
    else if (event.key === 'ArrowLeft') next = visible[(index - 1 + visible.length) % visible.length];
    else if (event.key === 'Home') next = visible[0];
    else if (event.key === 'End') next = visible[visible.length - 1];
    if (next) {
      event.preventDefault();
      selectTab(next.dataset.tab);
    }
  });
}

// --- boot -----------------------------------------------------------------------------------------
async function boot() {
  await loadLimits();
  initLanguage();
  initSignIn();
  initContext();
  initTabs();
  $('boot').hidden = true;
  document.body.dataset.ready = 'true';
  const { session, expired } = auth.read();
  if (session) enter(session);
  else {
    if (expired) auth.clear();
    showSignIn(expired ? { key: 'auth.expired', detail: '' } : null);
  }
}

window.addEventListener('error', (event) => {
  const el = $('app-error') && !$('app-view').hidden ? $('app-error') : $('signin-error');
  if (el) showError(el, { code: t('error.scriptCode'), message: event.message });
});
window.addEventListener('unhandledrejection', (event) => {
  const reason = event.reason;
  if (reason && reason.name === 'AbortError') return;
  const el = !$('app-view').hidden ? $('app-error') : $('signin-error');
  if (el) showError(el, reason && reason.message !== undefined ? reason : { message: String(reason) });
});

boot();
