// What the console knows about the signed-in user: the session, their rights, the instances and
// the chosen instance and node. Views subscribe to context changes.
import { t } from './i18n.js';

export const state = {
  session: null,
  perms: {},
  instances: [],
  instanceId: null,
  nodeId: null,
};

const listeners = new Set();

export function onContextChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function setContext(instanceId, nodeId) {
  state.instanceId = instanceId;
  state.nodeId = nodeId;
  try {
    sessionStorage.setItem('taurus.console.context', JSON.stringify({ instanceId, nodeId }));
  } catch {
    // storage full or disabled: the choice is simply not remembered
  }
  for (const listener of listeners) listener();
}

export function rememberedContext() {
  try {
    return JSON.parse(sessionStorage.getItem('taurus.console.context') || 'null') || {};
  } catch {
    return {};
  }
}

export const can = (action) => Boolean(state.perms && state.perms[action]);

export const ACTIONS = {
  list: 'gaussdb:instance:listProcesses',
  kill: 'gaussdb:instance:deleteProcesses',
  taskCreate: 'gaussdb:killTask:create',
  taskList: 'gaussdb:killTask:list',
  taskStop: 'gaussdb:killTask:stop',
  audit: 'gaussdb:audit:list',
  instances: 'gaussdb:instance:list',
  modify: 'gaussdb:instance:modify',
  showIntelligent: 'gaussdb:instance:showIntelligentKillSession',
  executeIntelligent: 'gaussdb:instance:executeIntelligentKillSession',
  dasListDbUsers: 'das:clouddba:listDbUsers',
  dasManageDbUsers: 'das:clouddba:manageDbUsers',
  dasList: 'das:clouddba:listProcesses',
  dasKill: 'das:clouddba:killProcesses',
  setSqlLimiting: 'gaussdb:instance:setSqlFilterRules',
  showSqlLimiting: 'gaussdb:instance:getSqlFilterRule',
  deleteSqlLimiting: 'gaussdb:instance:deleteSqlFilterRules',
  realtime: 'gaussdb:instance:getRealtimeSession',
};

export function projectId() {
  return state.session && state.session.project.id;
}

export function currentInstance() {
  return state.instances.find((i) => i.id === state.instanceId) || null;
}

export function currentNode() {
  const inst = currentInstance();
  return (inst && inst.nodes.find((n) => n.id === state.nodeId)) || null;
}

export function isPrimary(node) {
  return node && (node.role === 'master' || node.type === 'master');
}

export function primaryOf(instance) {
  return (instance && instance.nodes.find(isPrimary)) || null;
}

export function roleKey(node) {
  return isPrimary(node) ? 'ctx.primary' : 'ctx.replica';
}

// "demo-primary (primary)"
export function nodeLabel(node) {
  if (!node) return '';
  return t('ctx.nodeOption', { name: node.name || node.id, role: t(roleKey(node)) });
}

export function findNode(nodeId) {
  for (const inst of state.instances) {
    const node = inst.nodes.find((n) => n.id === nodeId);
    if (node) return { instance: inst, node };
  }
  return null;
}

// The label of a node named by id in a task or an audit record; its id when no longer listed.
export function nodeNameOf(nodeId) {
  if (!nodeId) return '';
  const found = findNode(nodeId);
  return found ? nodeLabel(found.node) : nodeId;
}
