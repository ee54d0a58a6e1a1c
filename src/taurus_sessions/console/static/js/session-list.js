// What one refresh of the session table asks the node: a page of sessions with their counts, and
// which sessions idle in a transaction (the list call only says so when asked by filter).
import { get, paths } from './api.js';
import { TEXT_FIELDS } from './filters.js';

const IDLE_PAGES = 5;
const IDLE_PAGE_SIZE = 100;

function filterQuery(filter) {
  const q = {};
  for (const name of TEXT_FIELDS) if (filter[name]) q[name] = filter[name];
  if (filter.min_time !== undefined) q.min_time = filter.min_time;
  if (filter.idle_in_trx) q.idle_in_trx = 'true';
  return q;
}

// The ids of the matching sessions idle in a transaction, up to a few pages of them.
async function idleIds(ctx, filter) {
  const ids = new Set();
  const base = { ...filterQuery(filter), idle_in_trx: 'true', limit: IDLE_PAGE_SIZE };
  for (let page = 0; page < IDLE_PAGES; page += 1) {
    const data = await get(paths.processes(ctx.projectId, ctx.instanceId, ctx.nodeId), { ...base, offset: page * IDLE_PAGE_SIZE });
    for (const p of data.processes || []) ids.add(p.id);
    if ((page + 1) * IDLE_PAGE_SIZE >= (data.total_count || 0)) break;
  }
  return ids;
}

// view: {filter, offset, limit, sort, order} -> {list: the API's answer, idle: Set of ids}
export async function fetchSessions(ctx, { filter, offset, limit, sort, order }) {
  const query = { ...filterQuery(filter), offset, limit, sort, order, stats: 'true' };
  const [list, idle] = await Promise.all([
    get(paths.processes(ctx.projectId, ctx.instanceId, ctx.nodeId), query),
    // Filtered to idle-in-transaction sessions already: every listed one is.
    filter.idle_in_trx ? null : idleIds(ctx, filter),
  ]);
  return { list, idle: idle || new Set((list.processes || []).map((p) => p.id)) };
}
