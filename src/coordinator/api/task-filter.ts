// Qarnot selector filters (`{field, operator, value}` leaves under `And`) and orderings, mapped onto the store's
// task filter. What the store cannot express (Or, NotEqual…) is a 400 naming `filter`.
import { TASK_STATES, type TaskStateName } from '../../protocol/task-state.ts';
import type { Filter } from '../../protocol/tasks.ts';
import type { TaskFilter, TaskOrderBy } from '../store/types.ts';
import { invalid } from './http-error.ts';

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

function strings(v: unknown, path: string): string[] {
  const xs = asList(v);
  if (xs.length === 0 || xs.length > 1000 || !xs.every((x) => typeof x === 'string')) throw invalid(`${path}.value`, 'expected a string or a list of strings');
  return xs.map(String);
}

function dateMs(v: unknown, path: string): number {
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw invalid(`${path}.value`, 'expected a date-time');
  return ms;
}

/** The store filter a selector asks for. @throws HttpError VALIDATION naming `filter…` */
export function taskFilterOf(filter: Filter | null | undefined): TaskFilter {
  const out: TaskFilter = {};
  if (!filter) return out;
  const visit = (f: unknown, path: string, depth: number): void => {
    if (depth > 8 || f === null || typeof f !== 'object' || Array.isArray(f)) throw invalid(path, 'expected a filter object');
    const node = f as Record<string, unknown>;
    const op = typeof node.operator === 'string' ? node.operator.toLowerCase() : '';
    if (op === 'and') {
      if (!Array.isArray(node.filters)) throw invalid(`${path}.filters`, 'And needs a list of filters');
      node.filters.forEach((g, i) => visit(g, `${path}.filters[${i}]`, depth + 1));
      return;
    }
    const field = typeof node.field === 'string' ? node.field.toLowerCase() : '';
    const value = node.value;
    const eq = op === 'equal' || op === 'in';
    if (field === 'state' && eq) {
      const states = strings(value, path);
      const bad = states.find((s) => !(TASK_STATES as readonly string[]).includes(s));
      if (bad !== undefined) throw invalid(`${path}.value`, `unknown state ${JSON.stringify(bad)}`);
      out.states = [...(out.states ?? []), ...(states as TaskStateName[])];
    } else if (field === 'tags' && (op === 'equal' || op === 'contains')) {
      out.tagsAll = [...(out.tagsAll ?? []), ...strings(value, path)];
    } else if (field === 'tags' && op === 'in') {
      out.tagsAny = [...(out.tagsAny ?? []), ...strings(value, path)];
    } else if (field === 'uuid' && eq) {
      out.uuids = [...(out.uuids ?? []), ...strings(value, path)];
    } else if (field === 'name' && op === 'equal') {
      out.name = strings(value, path)[0];
    } else if (field === 'shortname' && op === 'equal') {
      out.shortname = strings(value, path)[0];
    } else if (field === 'jobuuid' && op === 'equal') {
      out.jobUuid = strings(value, path)[0];
    } else if (field === 'creationdate' && (op === 'greaterthan' || op === 'greaterthanorequal')) {
      out.createdFrom = dateMs(value, path) + (op === 'greaterthan' ? 1 : 0);
    } else if (field === 'creationdate' && (op === 'lessthan' || op === 'lessthanorequal')) {
      out.createdBefore = dateMs(value, path) + (op === 'lessthanorequal' ? 1 : 0);
    } else {
      throw invalid(path, `unsupported filter ${JSON.stringify(node.field ?? null)} ${JSON.stringify(node.operator)}: hearth understands And of State/Uuid (Equal, In), Tags (Equal, Contains, In), Name/Shortname/JobUuid (Equal), CreationDate (GreaterThan…, LessThan…)`);
    }
  };
  visit(filter, 'filter', 0);
  return out;
}

const ORDER: Record<string, TaskOrderBy> = {
  creationdate: 'creationDate',
  name: 'name',
  shortname: 'shortname',
  state: 'state',
  statetransitiontime: 'stateTransitionTime',
  lastmodified: 'stateTransitionTime',
};

/** The store ordering of `orderBy` / `orderType` (`Ascending`/`Descending`, `asc`/`desc`). */
export function taskOrderOf(orderBy: string | null | undefined, orderType: string | null | undefined): { orderBy: TaskOrderBy; order: 'asc' | 'desc' } {
  const by = orderBy ? ORDER[orderBy.toLowerCase()] : 'creationDate';
  if (!by) throw invalid('orderBy', `cannot order by ${JSON.stringify(orderBy)}: use one of CreationDate, Name, Shortname, State, StateTransitionTime`);
  const t = (orderType ?? 'ascending').toLowerCase();
  if (t !== 'ascending' && t !== 'asc' && t !== 'descending' && t !== 'desc') throw invalid('orderType', 'orderType is Ascending or Descending');
  return { orderBy: by, order: t.startsWith('asc') ? 'asc' : 'desc' };
}
