// (ext) hearth's platform API under /hearth/v1: sites, rooms, heaters, boilers and boards; setpoints and
// schedules; telemetry history; fleet summary; energy, money and carbon; host statements; live events (SSE).
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiErrorSchema } from '../../protocol/errors.ts';
import {
  BoardsSchema,
  BoilerCreateSchema,
  BoilerPutSchema,
  BoilerSchema,
  BoilerSpecSchema,
  DEFAULT_CARBON_G_PER_KWH,
  DEFAULT_ONLINE_WITHIN_S,
  EVENT_TYPES,
  FleetQuerySchema,
  FleetPlacementsSchema,
  FleetQueueSchema,
  FleetTilesSchema,
  FLEET_TILE_FIELDS,
  FleetSummarySchema,
  HeaterCreateSchema,
  HeaterPutSchema,
  HeaterSchema,
  HeaterSpecSchema,
  IdParams,
  LIVE_SAMPLE_FIELDS,
  MeSchema,
  PLACED_STATES,
  PlacementsQuerySchema,
  RangeQuerySchema,
  RoomCreateSchema,
  RoomPutSchema,
  RoomSchema,
  RoomSpecSchema,
  ScheduleSchema,
  SetpointBodySchema,
  SiteCreateSchema,
  SiteEnergySchema,
  SitePutSchema,
  SiteSchema,
  SiteSpecSchema,
  StatementListSchema,
  StatementParams,
  StatementSchema,
  TelemetryBatchSchema,
  TelemetryHistorySchema,
  TelemetryQuerySchema,
  UsageSchema,
  TaskBillSchema,
  minutesOf,
  monthOf,
  monthRange,
  type Boards,
  type Boiler,
  type FleetPlacements,
  type FleetQueue,
  type FleetSummary,
  type FleetTiles,
  type Heater,
  type LiveEvent,
  type LiveSample,
  type Me,
  type Placement,
  type TelemetryBatch,
  type RoomTelemetryBatch,
  type Room,
  type RoomSpec,
  type Sample,
  type ScheduleEntry,
  type Site,
  type SiteEnergy,
  type SiteSpec,
  type Statement,
  type TelemetryHistory,
  type Usage,
  type Billed,
  type TaskBill,
} from '../../protocol/platform.ts';
import { roomsFor, type EphemeralEvent, type EventHub, type RoomAudience } from '../events.ts';
import { SYSTEM, type Account, type ChargeTotals, type NewRegistryRow, type TaskState, type NewStoreEvent, type RegistryKind, type RegistryRow, type Store, type StoreEvent, type TelemetrySample } from '../store/types.ts';
import { callerOf, iso, type ApiContext } from './context.ts';
import { UuidParams } from '../../protocol/common.ts';
import { HttpError, invalid, notFound } from './http-error.ts';
import { compileBody } from './validation.ts';
import { withSetpoint } from './setpoint.ts';
import { OVERFLOW_DEVICE } from '../fleet/link.ts';

/** What the platform routes take as plugin options. */
export interface PlatformOptions extends ApiContext {
  /** Live-change hub: SSE streams subscribe to it; the routes' own writes are announced through it. */
  events: EventHub;
}

const isRoomSpec = compileBody(RoomSpecSchema);
const isSiteSpec = compileBody(SiteSpecSchema);
const isHeaterSpec = compileBody(HeaterSpecSchema);
const isBoilerSpec = compileBody(BoilerSpecSchema);

/** Default history window of telemetry queries, ms (24 h). */
const DEFAULT_HISTORY_MS = 86_400_000;
/** Default most raw telemetry samples answered. */
const DEFAULT_RAW_LIMIT = 10_000;
/** Narrowest bucket that downsamples, s. */
const MIN_BUCKET_S = 60;
/** Most active tasks whose instances `GET /fleet/queue` counts (the oldest first). */
const QUEUE_SAMPLE = 200;
/** Events read from the store per query by an SSE stream. */
const SSE_PAGE = 500;
/** Statements exist for years 0000–9999 (what `YYYY-MM` can name). */
const FIRST_MS = new Date(0).setUTCFullYear(0, 0, 1);
const END_MS = new Date(0).setUTCFullYear(10_000, 0, 1);

// ---------------------------------------------------------------------------------------------------------
// Who sees what

/** What the caller may see of the registry. */
interface Viewer {
  account: Account;
  operator: boolean;
  /** Rooms the caller lives in (residents). */
  roomIds: ReadonlySet<string>;
  /** The one device of a device account. */
  deviceId: string | undefined;
  /** Sites whose host (meter owner) the caller is. */
  hostSites: ReadonlySet<string>;
}

async function viewerOf(store: Store, req: FastifyRequest): Promise<Viewer> {
  return viewerOfAccount(store, callerOf(req).account);
}

async function viewerOfAccount(store: Store, account: Account): Promise<Viewer> {
  const operator = account.role === 'operator';
  const hostSites = operator ? [] : await store.listRegistry({ kind: 'site', accountId: account.id });
  return {
    account,
    operator,
    roomIds: new Set(Array.isArray(account.scope.roomIds) ? account.scope.roomIds : []),
    deviceId: account.scope.deviceId,
    hostSites: new Set(hostSites.map((s) => s.id)),
  };
}

/**
 * Whether the caller may read a registry row: operators everything; a site's host its site and all in it; a
 * resident their rooms and those rooms' heaters; a device account its device.
 */
function canSee(v: Viewer, row: RegistryRow): boolean {
  if (v.operator) return true;
  const inHostSite = row.siteId !== null && v.hostSites.has(row.siteId);
  switch (row.kind) {
    case 'site':
      return v.hostSites.has(row.id);
    case 'room':
      return v.roomIds.has(row.id) || inHostSite;
    case 'heater':
      return v.deviceId === row.id || (row.parentId !== null && v.roomIds.has(row.parentId)) || inHostSite;
    case 'boiler':
      return v.deviceId === row.id || inHostSite;
    case 'board':
      return false;
  }
}

/** 403 unless the caller is an operator. */
function operatorOnly(req: FastifyRequest): void {
  if (callerOf(req).account.role !== 'operator') throw new HttpError('FORBIDDEN', 'only an operator may change the registry');
}

/** False for text no row can hold (NUL, lone surrogates): such an id is simply not found (PostgreSQL would refuse NUL). */
function storable(text: string): boolean {
  return !text.includes('\u0000') && !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** The row with this id when it is of this kind. */
async function rowOf(store: Store, kind: RegistryKind, id: string): Promise<RegistryRow | undefined> {
  if (!storable(id)) return undefined;
  const row = await store.getRegistry(id);
  return row?.kind === kind ? row : undefined;
}

/** The row when it exists, is of this kind and the caller may see it; 404 otherwise. */
async function visibleRow(store: Store, v: Viewer, kind: RegistryKind, id: string): Promise<RegistryRow> {
  const row = await rowOf(store, kind, id);
  if (!row || !canSee(v, row)) throw notFound(`${kind} ${JSON.stringify(id)}`);
  return row;
}

// ---------------------------------------------------------------------------------------------------------
// Views

const base = (r: RegistryRow) => ({ id: r.id, name: r.name, spec: r.spec, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt) });
const siteView = (r: RegistryRow): Site => ({ ...base(r), accountId: r.accountId });
const roomView = (r: RegistryRow): Room => ({ ...base(r), siteId: r.siteId });
const heaterView = (r: RegistryRow): Heater => ({ ...base(r), siteId: r.siteId, roomId: r.parentId });
const boilerView = (r: RegistryRow): Boiler => ({ ...base(r), siteId: r.siteId });
const sampleView = (s: TelemetrySample): Sample => ({ time: iso(s.time), data: s.data });

// ---------------------------------------------------------------------------------------------------------
// Checks beyond the schemas

/** Checks the coherence of a room's limits and schedule; 400 naming the field (under `prefix`). */
function checkRoomSpec(spec: RoomSpec, prefix = 'spec.'): void {
  if (spec.minC > spec.maxC) throw invalid(`${prefix}maxC`, `maxC (${spec.maxC}) must not be below minC (${spec.minC})`);
  if (spec.maxC > spec.safetyC) throw invalid(`${prefix}safetyC`, `safetyC (${spec.safetyC}) must not be below maxC (${spec.maxC})`);
  if (spec.setbackC > spec.safetyC) throw invalid(`${prefix}setbackC`, `setbackC (${spec.setbackC}) must not exceed safetyC (${spec.safetyC})`);
  checkComfort(spec, spec.comfortC, `${prefix}comfortC`);
  if (spec.schedule) checkSchedule(spec, spec.schedule.weekly, `${prefix}schedule.`);
}

/** 400 naming `field` unless `valueC` lies in the room's [minC, maxC]. */
function checkComfort(spec: Pick<RoomSpec, 'minC' | 'maxC'>, valueC: number, field: string): void {
  if (valueC < spec.minC || valueC > spec.maxC) throw invalid(field, `${field} must lie within the room's limits [${spec.minC}, ${spec.maxC}] °C, got ${valueC}`);
}

function checkSchedule(spec: Pick<RoomSpec, 'minC' | 'maxC'>, weekly: ScheduleEntry[], prefix: string): void {
  weekly.forEach((e, i) => {
    if (minutesOf(e.from) >= minutesOf(e.to)) throw invalid(`${prefix}weekly[${i}].to`, `weekly[${i}]: "to" (${e.to}) must be after "from" (${e.from})`);
    checkComfort(spec, e.setpointC, `${prefix}weekly[${i}].setpointC`);
  });
}

function checkBoilerSpec(spec: { setpointC: number; safetyC: number }): void {
  if (spec.setpointC > spec.safetyC) throw invalid('spec.setpointC', `setpointC (${spec.setpointC}) must not exceed safetyC (${spec.safetyC})`);
}

/** 400 naming `accountId` when it names no account. */
async function checkAccount(store: Store, accountId: string | null | undefined): Promise<void> {
  if (accountId === null || accountId === undefined) return;
  if (!storable(accountId) || !(await store.getAccount(accountId))) throw invalid('accountId', `no account ${JSON.stringify(accountId)}`);
}

/** A query time (ISO-8601) in ms since the epoch, or `fallback` when absent; 400 naming the field when unreadable. */
function timeOf(value: string | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw invalid(field, `${field} is not a readable time`);
  return ms;
}

function checkRange(from: number, to: number): void {
  if (!(from < to)) throw invalid('from', 'from must be before to');
}

// ---------------------------------------------------------------------------------------------------------
// Energy and money

/** Rounds to a multiple of 10^-digits (removes float noise from sums of money and energy). */
function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function meterOf(s: TelemetrySample | undefined): number | undefined {
  const v = s?.data.meterWh;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Electricity a device drew in [from, to), kWh, from its cumulative meter: the reading of its last sample before
 * `to` minus the reading of its last sample before `from` (or, when it has none, of its first sample in the
 * range). Ranges that tile time therefore add up exactly (no period is lost at month boundaries). A meter that
 * went backwards (device replaced) counts as 0.
 */
export async function deviceKWh(store: Store, deviceId: string, from: number, to: number): Promise<number> {
  const [end] = await store.latestTelemetry([deviceId], to);
  if (!end || end.time < from) return 0;
  const [before] = await store.latestTelemetry([deviceId], from);
  const start = before ?? (await store.readTelemetry(deviceId, { from, to, limit: 1 }))[0];
  const a = meterOf(start);
  const b = meterOf(end);
  if (a === undefined || b === undefined) return 0;
  return Math.max(0, b - a) / 1000;
}

/** The heaters and boilers of a site, by id. */
async function devicesOf(store: Store, siteId: string): Promise<RegistryRow[]> {
  return (await store.listRegistry({ siteId })).filter((r) => r.kind === 'heater' || r.kind === 'boiler');
}

/** Per-device and total energy (kWh), money owed to the host (€, to the cent) and carbon (kg) of a site. */
export async function siteEnergy(store: Store, site: RegistryRow, from: number, to: number): Promise<SiteEnergy> {
  const spec = isSiteSpec(site.spec) ? (site.spec as SiteSpec) : undefined;
  const tariff = spec?.tariffEURPerKWh ?? 0;
  const carbon = spec?.carbonGPerKWh ?? DEFAULT_CARBON_G_PER_KWH;
  const devices: SiteEnergy['devices'] = [];
  for (const d of await devicesOf(store, site.id)) {
    const kWh = round(await deviceKWh(store, d.id, from, to), 3);
    devices.push({ id: d.id, kind: d.kind, name: d.name, kWh, owedEUR: round(kWh * tariff, 2), carbonKg: round((kWh * carbon) / 1000, 3) });
  }
  return {
    siteId: site.id,
    from: iso(from),
    to: iso(to),
    tariffEURPerKWh: tariff,
    carbonGPerKWh: carbon,
    devices,
    totalKWh: round(devices.reduce((s, d) => s + d.kWh, 0), 3),
    totalOwedEUR: round(devices.reduce((s, d) => s + d.owedEUR, 0), 2),
    totalCarbonKg: round(devices.reduce((s, d) => s + d.carbonKg, 0), 3),
  };
}

/** Months (`YYYY-MM`, UTC) in which any of the devices has a sample, oldest first (skips from month to month). */
async function monthsWithData(store: Store, deviceIds: string[]): Promise<string[]> {
  const months = new Set<string>();
  for (const id of deviceIds) {
    let from = FIRST_MS;
    for (;;) {
      const [s] = await store.readTelemetry(id, { from, to: END_MS, limit: 1 });
      if (!s) break;
      const m = monthOf(s.time);
      months.add(m);
      from = monthRange(m).to;
    }
  }
  return [...months].sort();
}

// ---------------------------------------------------------------------------------------------------------
// Live events (SSE)

function liveView(e: StoreEvent): LiveEvent {
  return { id: e.id, type: e.type, accountId: e.accountId, payload: e.payload, at: iso(e.at) };
}

/** One SSE frame; the event name loses any line break (it would end the field). */
function frame(e: StoreEvent): string {
  return `id: ${e.id}\nevent: ${e.type.replace(/[\r\n]/g, ' ')}\ndata: ${JSON.stringify(liveView(e))}\n\n`;
}

/** Bytes an SSE stream may hold unsent before live-only events are dropped for it (they are superseded soon). */
const EPHEMERAL_BACKLOG_BYTES = 1 << 20;

/** One SSE frame of a live-only event: no id line, so the client's Last-Event-ID stays that of stored events. */
function ephemeralFrame(e: EphemeralEvent): string {
  return `event: ${e.type.replace(/[\r\n]/g, ' ')}\ndata: ${JSON.stringify({ id: null, type: e.type, accountId: e.accountId, payload: e.payload, at: iso(e.at) })}\n\n`;
}

/** Parses a Last-Event-ID: a non-negative integer, else undefined. */
function lastEventIdOf(header: string | string[] | undefined, query: number | undefined): number | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (h !== undefined && /^\s*\d{1,15}\s*$/.test(h)) return Number(h);
  return query;
}

/**
 * Serves one SSE stream: replays the caller's events after `afterId` from the store, then follows the hub. The
 * store is the only source: a wake-up from the hub (or a heartbeat) makes the stream read what is new there,
 * so events arrive once each, in id order, whatever path appended them. Each read first checks the caller's token
 * again: a stream ends once its token is revoked, its account gone or its role changed, and the rooms it is sent
 * follow the account's scope and hosted sites as they are now (at most a heartbeat late when nothing else happens).
 */
function serveStream(opts: PlatformOptions, req: FastifyRequest, reply: FastifyReply, viewer: Viewer, afterId: number, streams: Set<() => void>): void {
  const owner = viewer.operator ? SYSTEM : viewer.account.id;
  const visible = (e: StoreEvent): boolean => viewer.operator || e.accountId === viewer.account.id;
  const raw = reply.raw;
  reply.hijack();
  if (raw.destroyed || raw.writableEnded) return; // the client left while the stream was being set up
  let lastId = afterId;
  let closed = false;
  let reading = false;
  let again = false;

  const write = async (chunk: string): Promise<void> => {
    if (raw.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        raw.off('drain', done);
        raw.off('close', done);
        resolve();
      };
      raw.on('drain', done);
      raw.on('close', done);
    });
  };

  // Room figures: a resident gets its rooms', a site's host its sites' rooms' (operators have telemetry.batch).
  let audience: RoomAudience = { roomIds: viewer.roomIds, siteIds: viewer.hostSites };
  const tokenHash = req.caller?.token.hash;
  // The rooms are worked out again when the account's scope changed (seen at each read: the token lookup is cached)
  // and at each heartbeat (the sites it hosts live in the registry).
  let scopeSeen = JSON.stringify(viewer.account.scope);
  let sitesDue = false;
  /** The caller as the store says now: false when the stream must end. */
  const stillAllowed = async (): Promise<boolean> => {
    const found = tokenHash === undefined ? undefined : await opts.store.findTokenByHash(tokenHash);
    if (!found || found.account.id !== viewer.account.id || found.account.role !== viewer.account.role) return false;
    const scope = JSON.stringify(found.account.scope);
    if (!viewer.operator && (sitesDue || scope !== scopeSeen)) {
      scopeSeen = scope;
      sitesDue = false;
      const now = await viewerOfAccount(opts.store, found.account);
      audience = { roomIds: now.roomIds, siteIds: now.hostSites };
    }
    return true;
  };

  const pump = async (): Promise<void> => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        if (!(await stillAllowed())) {
          close();
          return;
        }
        for (;;) {
          const batch = await opts.store.readEvents(owner, { afterId: lastId, limit: SSE_PAGE });
          for (const e of batch) {
            if (closed) return;
            await write(frame(e));
            lastId = e.id;
          }
          if (batch.length < SSE_PAGE) break;
        }
      } while (again && !closed);
    } catch (err) {
      req.log.warn({ err }, 'event stream ended on a store error');
      close();
    } finally {
      reading = false;
    }
  };

  const unsubscribe = opts.events.subscribe((e) => {
    if (!closed && e.id > lastId && visible(e)) void pump();
  });
  const unsubscribeEphemeral = opts.events.subscribeEphemeral((e) => {
    if (closed || !(viewer.operator || (e.accountId !== null && e.accountId === viewer.account.id))) return;
    // A slow reader loses live-only frames rather than growing the buffer: the next period supersedes them.
    if (raw.writableLength > EPHEMERAL_BACKLOG_BYTES) return;
    raw.write(ephemeralFrame(e));
  });
  const unsubscribeRooms = viewer.operator
    ? () => undefined
    : opts.events.subscribeRooms((view) => {
        if (closed || raw.writableLength > EPHEMERAL_BACKLOG_BYTES) return;
        const rooms = roomsFor(view, audience);
        if (rooms.length === 0) return;
        const payload: RoomTelemetryBatch = { rooms };
        raw.write(ephemeralFrame({ type: EVENT_TYPES.roomTelemetry, accountId: viewer.account.id, payload, at: view.at }));
      });
  const heartbeat = setInterval(() => {
    if (closed) return;
    raw.write(': heartbeat\n\n');
    sitesDue = true;
    void pump(); // also catches events appended without the hub
  }, opts.events.heartbeatMs);
  heartbeat.unref();

  function close(): void {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    unsubscribeEphemeral();
    unsubscribeRooms();
    streams.delete(close);
    if (!raw.writableEnded) raw.end();
  }
  streams.add(close);
  raw.on('close', close);
  raw.on('error', close);

  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    // The connection ends with the stream (a long-lived stream's socket is not worth keeping for reuse).
    connection: 'close',
    'x-accel-buffering': 'no',
  });
  raw.write('retry: 3000\n\n');
  void pump();
}

// ---------------------------------------------------------------------------------------------------------
// Routes

/** Platform routes (mounted under /hearth/v1). */
/** The ledger's totals per type as the API gives them: core-hours, and euros summed in whole micro-euros. */
function billedOf(charges: readonly ChargeTotals[]): Billed {
  const billed: Billed = { coreHours: 0, eur: 0, byType: [] };
  let micro = 0;
  for (const c of charges) {
    const coreHours = c.coreSeconds / 3600;
    billed.byType.push({ schedulingType: c.schedulingType, charges: c.charges, coreHours, eur: c.chargedEUR });
    billed.coreHours += coreHours;
    micro += Math.round(c.chargedEUR * 1e6);
  }
  // Summed in whole micro-euros (the unit credits are kept in): no float residue in the total.
  billed.eur = micro / 1e6;
  return billed;
}

export const platformRoutes: FastifyPluginAsync<PlatformOptions> = (baseApp, opts) => {
  const app = baseApp.withTypeProvider<TypeBoxTypeProvider>();
  const { store, events } = opts;
  const tags = ['hearth'];
  const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema, 409: ApiErrorSchema };
  const streams = new Set<() => void>();
  // The handlers build their answers to the typed schemas; plain JSON.stringify serializes them. (Compiling a
  // fast-json-stringify serializer per route and status would add about a second to every start, for routes
  // that are not hot.) The schemas still document the answers in the OpenAPI description.
  baseApp.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // The latest live sample of each device, from the telemetry batches broadcast through the hub (what
  // `GET /fleet/latest` answers without a store read per device).
  const liveLatest = new Map<string, LiveSample>();
  const stopLatest = events.subscribeEphemeral((e) => {
    if (e.type !== EVENT_TYPES.telemetryBatch) return;
    for (const s of (e.payload as TelemetryBatch).samples) liveLatest.set(s.deviceId, s);
  });
  baseApp.addHook('preClose', (done) => {
    stopLatest();
    for (const close of [...streams]) close();
    done();
  });

  /** Runs a registry write with its event in one transaction, then wakes the live streams. */
  const writeWithEvent = async <T>(fn: (tx: Store) => Promise<{ result: T; event: NewStoreEvent }>): Promise<T> => {
    const { result, stored } = await store.transaction(async (tx) => {
      const { result, event } = await fn(tx);
      return { result, stored: await tx.appendEvent(event) };
    });
    events.notify(stored);
    return result;
  };
  const registryEvent = (op: 'upsert' | 'delete', kind: RegistryKind, id: string): NewStoreEvent => ({ type: EVENT_TYPES.registry, accountId: null, payload: { op, kind, id } });

  /** Creates a row; 409 naming `id` when the id is taken (by a row of any kind, or by the overflow datacenter). */
  const create = (row: NewRegistryRow): Promise<RegistryRow> =>
    writeWithEvent(async (tx) => {
      if (row.id === OVERFLOW_DEVICE) throw new HttpError('CONFLICT', `id ${JSON.stringify(row.id)} is reserved for the overflow datacenter's executor`, 'id');
      if (await tx.getRegistry(row.id)) throw new HttpError('CONFLICT', `id ${JSON.stringify(row.id)} is taken`, 'id');
      return { result: await tx.upsertRegistry(row), event: registryEvent('upsert', row.kind, row.id) };
    });

  /** Replaces a row of this kind (404 when absent) with what `next` makes of the current one. */
  const replace = (kind: RegistryKind, id: string, next: (cur: RegistryRow, tx: Store) => Promise<NewRegistryRow> | NewRegistryRow): Promise<RegistryRow> =>
    writeWithEvent(async (tx) => {
      const cur = await rowOf(tx, kind, id);
      if (!cur) throw notFound(`${kind} ${JSON.stringify(id)}`);
      return { result: await tx.upsertRegistry(await next(cur, tx)), event: registryEvent('upsert', kind, id) };
    });

  /** Deletes a row of this kind (404 when absent), refusing with 409 while `blockers` finds dependants. */
  const remove = (kind: RegistryKind, id: string, blockers: (tx: Store) => Promise<string | undefined>, alsoDelete: (tx: Store) => Promise<string[]> = () => Promise.resolve([])): Promise<void> =>
    writeWithEvent(async (tx) => {
      if (!(await rowOf(tx, kind, id))) throw notFound(`${kind} ${JSON.stringify(id)}`);
      const blocker = await blockers(tx);
      if (blocker !== undefined) throw new HttpError('CONFLICT', `the ${kind} still has ${blocker}: delete them first`, blocker);
      for (const child of await alsoDelete(tx)) await tx.deleteRegistry(child);
      await tx.deleteRegistry(id);
      return { result: undefined, event: registryEvent('delete', kind, id) };
    });

  const listVisible = async (req: FastifyRequest, kind: RegistryKind, filter: { siteId?: string; parentId?: string } = {}): Promise<RegistryRow[]> => {
    const v = await viewerOf(store, req);
    if (!v.operator && v.hostSites.size === 0 && v.roomIds.size === 0 && v.deviceId === undefined) return [];
    return (await store.listRegistry({ kind, ...filter })).filter((r) => canSee(v, r));
  };

  // --- who am I

  app.get('/me', { schema: { tags, summary: '(ext) Who the token is: account, role, scope and the sites it hosts', response: { 200: MeSchema, ...errors } } }, async (req): Promise<Me> => {
    const v = await viewerOf(store, req);
    const scope: Me['scope'] = {};
    if (Array.isArray(v.account.scope.roomIds)) scope.roomIds = [...v.account.scope.roomIds];
    if (v.account.scope.deviceId !== undefined) scope.deviceId = v.account.scope.deviceId;
    return { id: v.account.id, email: v.account.email, role: v.account.role, scope, hostSiteIds: [...v.hostSites] };
  });

  // --- sites

  app.get('/sites', { schema: { tags, summary: '(ext) Sites the caller may see', response: { 200: Type.Array(SiteSchema), ...errors } } }, async (req) =>
    (await listVisible(req, 'site')).map(siteView),
  );

  app.post(
    '/sites',
    { schema: { tags, summary: '(ext) Create a site (operator)', body: SiteCreateSchema, response: { 201: SiteSchema, ...errors } } },
    async (req, reply) => {
      operatorOnly(req);
      await checkAccount(store, req.body.accountId);
      const row = await create({ id: req.body.id ?? randomUUID(), kind: 'site', name: req.body.name, accountId: req.body.accountId ?? null, spec: req.body.spec });
      return reply.code(201).send(siteView(row));
    },
  );

  app.get('/sites/:id', { schema: { tags, params: IdParams, response: { 200: SiteSchema, ...errors } } }, async (req) =>
    siteView(await visibleRow(store, await viewerOf(store, req), 'site', req.params.id)),
  );

  app.put(
    '/sites/:id',
    { schema: { tags, summary: '(ext) Replace a site (operator); an absent accountId keeps the host', params: IdParams, body: SitePutSchema, response: { 200: SiteSchema, ...errors } } },
    async (req) => {
      operatorOnly(req);
      await checkAccount(store, req.body.accountId);
      const row = await replace('site', req.params.id, (cur) => ({
        id: cur.id,
        kind: 'site',
        name: req.body.name,
        accountId: req.body.accountId === undefined ? cur.accountId : req.body.accountId,
        spec: req.body.spec,
      }));
      return siteView(row);
    },
  );

  app.delete('/sites/:id', { schema: { tags, summary: '(ext) Delete an empty site (operator)', params: IdParams, response: { 204: Type.Null(), ...errors } } }, async (req, reply) => {
    operatorOnly(req);
    await remove('site', req.params.id, async (tx) => {
      const inside = await tx.listRegistry({ siteId: req.params.id });
      const first = inside.find((r) => r.kind === 'room') ?? inside[0];
      return first ? `${first.kind}s` : undefined;
    });
    return reply.code(204).send(null);
  });

  app.get('/sites/:id/rooms', { schema: { tags, params: IdParams, response: { 200: Type.Array(RoomSchema), ...errors } } }, async (req) => {
    const v = await viewerOf(store, req);
    const site = await rowOf(store, 'site', req.params.id);
    const rooms = site ? (await store.listRegistry({ kind: 'room', siteId: site.id })).filter((r) => canSee(v, r)) : [];
    if (!site || (!canSee(v, site) && rooms.length === 0)) throw notFound(`site ${JSON.stringify(req.params.id)}`);
    return rooms.map(roomView);
  });

  app.get('/sites/:id/boilers', { schema: { tags, params: IdParams, response: { 200: Type.Array(BoilerSchema), ...errors } } }, async (req) => {
    const v = await viewerOf(store, req);
    const site = await rowOf(store, 'site', req.params.id);
    const boilers = site ? (await store.listRegistry({ kind: 'boiler', siteId: site.id })).filter((r) => canSee(v, r)) : [];
    if (!site || (!canSee(v, site) && boilers.length === 0)) throw notFound(`site ${JSON.stringify(req.params.id)}`);
    return boilers.map(boilerView);
  });

  // --- rooms

  app.get('/rooms', { schema: { tags, summary: '(ext) Rooms the caller may see', response: { 200: Type.Array(RoomSchema), ...errors } } }, async (req) =>
    (await listVisible(req, 'room')).map(roomView),
  );

  app.post('/rooms', { schema: { tags, summary: '(ext) Create a room (operator)', body: RoomCreateSchema, response: { 201: RoomSchema, ...errors } } }, async (req, reply) => {
    operatorOnly(req);
    checkRoomSpec(req.body.spec);
    if (!(await rowOf(store, 'site', req.body.siteId))) throw invalid('siteId', `no site ${JSON.stringify(req.body.siteId)}`);
    const row = await create({ id: req.body.id ?? randomUUID(), kind: 'room', siteId: req.body.siteId, parentId: null, name: req.body.name, spec: req.body.spec });
    return reply.code(201).send(roomView(row));
  });

  app.get('/rooms/:id', { schema: { tags, params: IdParams, response: { 200: RoomSchema, ...errors } } }, async (req) =>
    roomView(await visibleRow(store, await viewerOf(store, req), 'room', req.params.id)),
  );

  app.put('/rooms/:id', { schema: { tags, summary: '(ext) Replace a room (operator)', params: IdParams, body: RoomPutSchema, response: { 200: RoomSchema, ...errors } } }, async (req) => {
    operatorOnly(req);
    checkRoomSpec(req.body.spec);
    const row = await replace('room', req.params.id, (cur) => ({ id: cur.id, kind: 'room', siteId: cur.siteId, parentId: cur.parentId, accountId: cur.accountId, name: req.body.name, spec: req.body.spec }));
    return roomView(row);
  });

  app.delete('/rooms/:id', { schema: { tags, summary: '(ext) Delete a room without heaters (operator)', params: IdParams, response: { 204: Type.Null(), ...errors } } }, async (req, reply) => {
    operatorOnly(req);
    await remove('room', req.params.id, async (tx) => ((await tx.listRegistry({ parentId: req.params.id })).length > 0 ? 'heaters' : undefined));
    return reply.code(204).send(null);
  });

  app.get('/rooms/:id/heaters', { schema: { tags, params: IdParams, response: { 200: Type.Array(HeaterSchema), ...errors } } }, async (req) => {
    const v = await viewerOf(store, req);
    const room = await visibleRow(store, v, 'room', req.params.id);
    return (await store.listRegistry({ kind: 'heater', parentId: room.id })).map(heaterView);
  });

  /** Changes a room's spec on behalf of an operator or of a resident of the room; announces it. */
  const changeRoom = async (req: FastifyRequest, id: string, change: (spec: RoomSpec) => RoomSpec, payload: Record<string, unknown>): Promise<RegistryRow> => {
    const v = await viewerOf(store, req);
    const room = await visibleRow(store, v, 'room', id);
    const resident = v.account.role === 'resident' && v.roomIds.has(room.id);
    if (!v.operator && !resident) throw new HttpError('FORBIDDEN', 'only an operator or a resident of the room may change its setpoint');
    return writeWithEvent(async (tx) => {
      const cur = await rowOf(tx, 'room', id);
      if (!cur) throw notFound(`room ${JSON.stringify(id)}`);
      if (!isRoomSpec(cur.spec)) throw new HttpError('INVALID_STATE', 'the room has no valid spec: an operator must PUT it first');
      const spec = change(cur.spec as RoomSpec);
      const result = await tx.upsertRegistry({ id: cur.id, kind: 'room', siteId: cur.siteId, parentId: cur.parentId, accountId: cur.accountId, name: cur.name, spec });
      const event: NewStoreEvent = {
        type: EVENT_TYPES.setpoint,
        accountId: v.operator ? null : v.account.id,
        payload: { roomId: cur.id, siteId: cur.siteId, ...payload, by: v.account.id },
      };
      return { result, event };
    });
  };

  app.put(
    '/rooms/:id/setpoint',
    { schema: { tags, summary: '(ext) Set a room\'s comfort setpoint (operator or its resident), within [minC, maxC]', params: IdParams, body: SetpointBodySchema, response: { 200: RoomSchema, ...errors } } },
    async (req) => {
      const { comfortC } = req.body;
      const row = await changeRoom(req, req.params.id, (spec) => withSetpoint(spec, comfortC), { comfortC });
      return roomView(row);
    },
  );

  app.put(
    '/rooms/:id/schedule',
    { schema: { tags, summary: '(ext) Set a room\'s weekly schedule (operator or its resident)', params: IdParams, body: ScheduleSchema, response: { 200: RoomSchema, ...errors } } },
    async (req) => {
      const schedule = { weekly: req.body.weekly };
      const row = await changeRoom(req, req.params.id, (spec) => {
        checkSchedule(spec, schedule.weekly, '');
        return { ...spec, schedule };
      }, { schedule });
      return roomView(row);
    },
  );

  // --- heaters and boilers

  app.get('/heaters', { schema: { tags, summary: '(ext) Heaters the caller may see', response: { 200: Type.Array(HeaterSchema), ...errors } } }, async (req) =>
    (await listVisible(req, 'heater')).map(heaterView),
  );

  /** The room a heater goes into; 400 naming `roomId` when there is none. */
  const roomFor = async (tx: Store, roomId: string): Promise<RegistryRow> => {
    const room = await rowOf(tx, 'room', roomId);
    if (!room) throw invalid('roomId', `no room ${JSON.stringify(roomId)}`);
    return room;
  };

  app.post('/heaters', { schema: { tags, summary: '(ext) Create a heater in a room (operator)', body: HeaterCreateSchema, response: { 201: HeaterSchema, ...errors } } }, async (req, reply) => {
    operatorOnly(req);
    const room = await roomFor(store, req.body.roomId);
    const row = await create({ id: req.body.id ?? randomUUID(), kind: 'heater', siteId: room.siteId, parentId: room.id, name: req.body.name, spec: req.body.spec });
    return reply.code(201).send(heaterView(row));
  });

  app.get('/heaters/:id', { schema: { tags, params: IdParams, response: { 200: HeaterSchema, ...errors } } }, async (req) =>
    heaterView(await visibleRow(store, await viewerOf(store, req), 'heater', req.params.id)),
  );

  app.put('/heaters/:id', { schema: { tags, summary: '(ext) Replace or move a heater (operator)', params: IdParams, body: HeaterPutSchema, response: { 200: HeaterSchema, ...errors } } }, async (req) => {
    operatorOnly(req);
    const row = await replace('heater', req.params.id, async (cur, tx) => {
      const room = req.body.roomId === undefined ? undefined : await roomFor(tx, req.body.roomId);
      return { id: cur.id, kind: 'heater', siteId: room ? room.siteId : cur.siteId, parentId: room ? room.id : cur.parentId, accountId: cur.accountId, name: req.body.name, spec: req.body.spec };
    });
    return heaterView(row);
  });

  const childBoards = async (tx: Store, id: string): Promise<string[]> => (await tx.listRegistry({ parentId: id, kind: 'board' })).map((r) => r.id);

  app.delete('/heaters/:id', { schema: { tags, summary: '(ext) Delete a heater (operator; its history stays)', params: IdParams, response: { 204: Type.Null(), ...errors } } }, async (req, reply) => {
    operatorOnly(req);
    await remove('heater', req.params.id, () => Promise.resolve(undefined), (tx) => childBoards(tx, req.params.id));
    return reply.code(204).send(null);
  });

  app.get('/boilers', { schema: { tags, summary: '(ext) Boilers the caller may see', response: { 200: Type.Array(BoilerSchema), ...errors } } }, async (req) =>
    (await listVisible(req, 'boiler')).map(boilerView),
  );

  app.post('/boilers', { schema: { tags, summary: '(ext) Create a boiler in a site (operator)', body: BoilerCreateSchema, response: { 201: BoilerSchema, ...errors } } }, async (req, reply) => {
    operatorOnly(req);
    checkBoilerSpec(req.body.spec);
    if (!(await rowOf(store, 'site', req.body.siteId))) throw invalid('siteId', `no site ${JSON.stringify(req.body.siteId)}`);
    const row = await create({ id: req.body.id ?? randomUUID(), kind: 'boiler', siteId: req.body.siteId, parentId: null, name: req.body.name, spec: req.body.spec });
    return reply.code(201).send(boilerView(row));
  });

  app.get('/boilers/:id', { schema: { tags, params: IdParams, response: { 200: BoilerSchema, ...errors } } }, async (req) =>
    boilerView(await visibleRow(store, await viewerOf(store, req), 'boiler', req.params.id)),
  );

  app.put('/boilers/:id', { schema: { tags, summary: '(ext) Replace a boiler (operator)', params: IdParams, body: BoilerPutSchema, response: { 200: BoilerSchema, ...errors } } }, async (req) => {
    operatorOnly(req);
    checkBoilerSpec(req.body.spec);
    const row = await replace('boiler', req.params.id, (cur) => ({ id: cur.id, kind: 'boiler', siteId: cur.siteId, parentId: cur.parentId, accountId: cur.accountId, name: req.body.name, spec: req.body.spec }));
    return boilerView(row);
  });

  app.delete('/boilers/:id', { schema: { tags, summary: '(ext) Delete a boiler (operator; its history stays)', params: IdParams, response: { 204: Type.Null(), ...errors } } }, async (req, reply) => {
    operatorOnly(req);
    await remove('boiler', req.params.id, () => Promise.resolve(undefined), (tx) => childBoards(tx, req.params.id));
    return reply.code(204).send(null);
  });

  // --- boards and telemetry of a device

  for (const kind of ['heater', 'boiler'] as const) {
    const isSpec = kind === 'heater' ? isHeaterSpec : isBoilerSpec;

    app.get(`/${kind}s/:id/boards`, { schema: { tags, summary: `(ext) The boards of a ${kind} with its latest sample`, params: IdParams, response: { 200: BoardsSchema, ...errors } } }, async (req): Promise<Boards> => {
      const row = await visibleRow(store, await viewerOf(store, req), kind, req.params.id);
      const spec = isSpec(row.spec) ? (row.spec as { boards: number; coresPerBoard: number; memoryMBPerBoard: number; gpu: boolean; maxW: number }) : undefined;
      const [latest] = await store.latestTelemetry([row.id]);
      const busy = latest?.data.busyBoards;
      return {
        deviceId: row.id,
        kind,
        boards: spec
          ? Array.from({ length: spec.boards }, (_, index) => ({ index, cores: spec.coresPerBoard, memoryMB: spec.memoryMBPerBoard, gpu: spec.gpu, maxW: spec.maxW / spec.boards }))
          : [],
        busyBoards: typeof busy === 'number' && Number.isFinite(busy) ? busy : null,
        latest: latest ? sampleView(latest) : null,
      };
    });

    app.get(
      `/${kind}s/:id/telemetry`,
      {
        schema: {
          tags,
          summary: `(ext) A ${kind}'s telemetry history: raw samples, or mean/min/max per bucket when bucket ≥ 60 s`,
          params: IdParams,
          querystring: TelemetryQuerySchema,
          response: { 200: TelemetryHistorySchema, ...errors },
        },
      },
      async (req): Promise<TelemetryHistory> => {
        const row = await visibleRow(store, await viewerOf(store, req), kind, req.params.id);
        const to = timeOf(req.query.to, 'to', opts.clock());
        const from = timeOf(req.query.from, 'from', to - DEFAULT_HISTORY_MS);
        checkRange(from, to);
        const bucketS = req.query.bucket ?? 0;
        if (bucketS >= MIN_BUCKET_S) {
          const buckets = await store.readTelemetryDownsampled(row.id, { from, to, bucketMs: bucketS * 1000 });
          return { deviceId: row.id, from: iso(from), to: iso(to), bucketS, buckets: buckets.map((b) => ({ ...b, time: iso(b.time) })) };
        }
        const samples = await store.readTelemetry(row.id, { from, to, limit: req.query.limit ?? DEFAULT_RAW_LIMIT });
        return { deviceId: row.id, from: iso(from), to: iso(to), bucketS: null, samples: samples.map(sampleView) };
      },
    );
  }

  // --- fleet

  app.get(
    '/fleet',
    { schema: { tags, summary: '(ext) Fleet summary (operator): counts, devices online, power from each online device\'s latest sample', querystring: FleetQuerySchema, response: { 200: FleetSummarySchema, ...errors } } },
    async (req): Promise<FleetSummary> => {
      if (callerOf(req).account.role !== 'operator') throw new HttpError('FORBIDDEN', 'only an operator may see the fleet');
      const now = opts.clock();
      const onlineWithinS = req.query.onlineWithinS ?? DEFAULT_ONLINE_WITHIN_S;
      const rows = await store.listRegistry();
      const count = (k: RegistryKind): number => rows.filter((r) => r.kind === k).length;
      const devices = rows.filter((r) => r.kind === 'heater' || r.kind === 'boiler');
      const boards = devices.reduce((n, d) => {
        const b = (d.spec as { boards?: unknown } | null)?.boards;
        return n + (typeof b === 'number' && Number.isInteger(b) && b > 0 ? b : 0);
      }, 0);
      const latest = await store.latestTelemetry(devices.map((d) => d.id));
      const online = latest.filter((s) => s.time >= now - onlineWithinS * 1000);
      const sum = (field: string): number =>
        online.reduce((s, x) => {
          const v = x.data[field];
          return s + (typeof v === 'number' && Number.isFinite(v) ? v : 0);
        }, 0);
      const errs = online.flatMap((x) => {
        const { setpointC, airC } = x.data;
        return typeof setpointC === 'number' && typeof airC === 'number' && Number.isFinite(setpointC - airC) ? [Math.abs(setpointC - airC)] : [];
      });
      return {
        at: iso(now),
        sites: count('site'),
        rooms: count('room'),
        heaters: count('heater'),
        boilers: count('boiler'),
        boards,
        online: online.length,
        onlineWithinS,
        powerW: sum('powerW'),
        computeW: sum('computeW'),
        fillerW: sum('fillerW'),
        boosterW: sum('boosterW'),
        busyBoards: sum('busyBoards'),
        meanAbsSetpointErrorC: errs.length === 0 ? null : errs.reduce((a, b) => a + b, 0) / errs.length,
      };
    },
  );

  app.get(
    '/fleet/latest',
    { schema: { tags, summary: '(ext) The latest sample of every heater and boiler (operator): what the dashboard\'s tiles start from', response: { 200: TelemetryBatchSchema, ...errors } } },
    async (req): Promise<TelemetryBatch> => {
      if (callerOf(req).account.role !== 'operator') throw new HttpError('FORBIDDEN', 'only an operator may see the fleet');
      const devices = (await store.listRegistry()).filter((r) => r.kind === 'heater' || r.kind === 'boiler');
      // Devices that reported through this process since it started come from memory; the others from the store.
      const cached: LiveSample[] = [];
      const missing: string[] = [];
      for (const d of devices) {
        const c = liveLatest.get(d.id);
        if (c) cached.push(c);
        else missing.push(d.id);
      }
      const latest = missing.length === 0 ? [] : await store.latestTelemetry(missing);
      return {
        samples: cached.concat(latest.map((s) => {
          const out: LiveSample = { deviceId: s.deviceId, time: s.time };
          for (const f of LIVE_SAMPLE_FIELDS) {
            const v = s.data[f];
            if (typeof v === 'number' && Number.isFinite(v)) out[f] = v;
          }
          return out;
        })),
      };
    },
  );

  app.get(
    '/fleet/tiles',
    {
      schema: {
        tags,
        summary: '(ext) The dashboard\'s tile grid in columns (operator): sites (name, layout), each heater\'s and boiler\'s name, site, room and boards, and its latest figures rounded as shown; ETag',
        response: { 200: FleetTilesSchema, ...errors },
      },
    },
    async (req, reply) => {
      if (callerOf(req).account.role !== 'operator') throw new HttpError('FORBIDDEN', 'only an operator may see the fleet');
      // One registry read (sites, rooms, heaters, boilers); the latest samples from memory as for /fleet/latest,
      // the store for devices that have not reported through this process.
      const rows = await store.listRegistry();
      const sites: FleetTiles['sites'] = [];
      const siteIndex = new Map<string, number>();
      const roomName = new Map<string, string>();
      const heaters: RegistryRow[] = [];
      const boilers: RegistryRow[] = [];
      for (const r of rows) {
        if (r.kind === 'site') {
          siteIndex.set(r.id, sites.length);
          const at = (r.spec as SiteSpec | null)?.layout;
          sites.push({ id: r.id, name: r.name, layout: at && typeof at.x === 'number' && typeof at.y === 'number' ? { x: at.x, y: at.y } : null });
        } else if (r.kind === 'room') roomName.set(r.id, r.name);
        else if (r.kind === 'heater') heaters.push(r);
        else if (r.kind === 'boiler') boilers.push(r);
      }
      const devices = heaters.concat(boilers);
      const missing = devices.filter((d) => !liveLatest.has(d.id)).map((d) => d.id);
      const stored = new Map((missing.length === 0 ? [] : await store.latestTelemetry(missing)).map((s) => [s.deviceId, s]));
      const n = devices.length;
      const column = (): (number | null)[] => new Array<number | null>(n).fill(null);
      const latest: FleetTiles['latest'] = { time: column(), airC: column(), setpointC: column(), powerW: column(), computeW: column(), fillerW: column(), boosterW: column(), busyBoards: column(), requestW: column() };
      const out: FleetTiles = {
        sites,
        devices: { id: [], kind: [], name: [], site: [], roomName: [], boards: [] },
        latest,
      };
      devices.forEach((d, k) => {
        const heater = d.kind === 'heater';
        const b = (d.spec as { boards?: unknown } | null)?.boards;
        out.devices.id.push(d.id);
        out.devices.kind.push(heater ? 'heater' : 'boiler');
        out.devices.name.push(d.name);
        out.devices.site.push(d.siteId === null ? null : (siteIndex.get(d.siteId) ?? null));
        out.devices.roomName.push(heater ? ((d.parentId !== null && roomName.get(d.parentId)) || '') : 'hot water');
        out.devices.boards.push(typeof b === 'number' && Number.isInteger(b) && b > 0 ? b : 0);
        const live = liveLatest.get(d.id);
        const s = stored.get(d.id);
        const figures: Record<string, unknown> | undefined = live ?? s?.data;
        if (!figures) return;
        latest.time[k] = live ? live.time : (s?.time ?? null);
        for (const f of FLEET_TILE_FIELDS) {
          const v = figures[f];
          if (typeof v !== 'number' || !Number.isFinite(v) || (f === 'requestW' && !live)) continue;
          latest[f][k] = f === 'airC' || f === 'setpointC' ? Math.round(v * 100) / 100 : f === 'busyBoards' ? v : Math.round(v);
        }
      });
      const body = Buffer.from(JSON.stringify(out));
      // Revalidated on each load (the samples change every report); an unchanged fleet costs a 304.
      const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
      // Sent as built (a Buffer skips the serializer): the schema above documents it.
      const raw = reply as FastifyReply;
      void raw.header('etag', etag).header('cache-control', 'private, no-cache');
      if (String(req.headers['if-none-match'] ?? '').split(/\s*,\s*/).includes(etag)) return raw.code(304).send();
      return raw.header('content-type', 'application/json; charset=utf-8').send(body);
    },
  );

  app.get(
    '/fleet/queue',
    { schema: { tags, summary: '(ext) Queue, throughput and deadline risk of the compute side (operator)', response: { 200: FleetQueueSchema, ...errors } } },
    async (req): Promise<FleetQueue> => {
      if (callerOf(req).account.role !== 'operator') throw new HttpError('FORBIDDEN', 'only an operator may see the fleet');
      const now = opts.clock();
      const states: TaskState[] = ['Submitted', 'PartiallyDispatched', 'FullyDispatched', 'PartiallyExecuting', 'FullyExecuting', 'UploadingResults'];
      const activeTasks = await store.countTasks(SYSTEM, { states });
      const active = await store.listTasks(SYSTEM, { filter: { states }, orderBy: 'creationDate', order: 'asc', limit: QUEUE_SAMPLE });
      const out: FleetQueue = { at: iso(now), activeTasks, sampledTasks: active.items.length, queuedInstances: 0, runningInstances: 0, overflowInstances: 0, succeededLastHour: 0, failedLastHour: 0, deadlineMissed: 0, deadlineAtRisk: 0 };
      for (const t of active.items) {
        const by = (await store.summarizeInstances(SYSTEM, t.uuid))?.byState ?? {};
        const queued = by.queued ?? 0;
        out.queuedInstances += queued;
        out.runningInstances += (by.dispatched ?? 0) + (by.running ?? 0) + (by.paused ?? 0);
        out.overflowInstances += by.overflow ?? 0;
        if (t.deadline !== null) {
          // At risk: the deadline falls within one estimated instance run (two while instances still wait).
          const needMs = (t.estimatedInstanceDurationSec ?? 0) * 1000 * (queued > 0 ? 2 : 1);
          if (t.deadline < now) out.deadlineMissed++;
          else if (t.deadline < now + needMs) out.deadlineAtRisk++;
        }
      }
      const ended = await store.listTasks(SYSTEM, { filter: { states: ['Success', 'Failure'] }, orderBy: 'stateTransitionTime', order: 'desc', limit: 1000 });
      for (const t of ended.items) {
        if (t.stateTransitionTime < now - 3_600_000) continue;
        if (t.state === 'Success') out.succeededLastHour++;
        else out.failedLastHour++;
      }
      return out;
    },
  );

  app.get(
    '/fleet/placements',
    {
      schema: {
        tags,
        summary: '(ext) What runs where (operator): per device, the instances placed on its boards (task, instance, board, state, progress, owner); the overflow count',
        querystring: PlacementsQuerySchema,
        response: { 200: FleetPlacementsSchema, ...errors },
      },
    },
    async (req): Promise<FleetPlacements> => {
      if (callerOf(req).account.role !== 'operator') throw new HttpError('FORBIDDEN', 'only an operator may see what runs where');
      const { deviceId } = req.query;
      const states = [...PLACED_STATES];
      const [placed, overflowInstances] = await Promise.all([
        store.listInstances(SYSTEM, deviceId === undefined ? { states } : { states, heaterIds: [deviceId] }),
        deviceId === undefined ? store.countInstances(SYSTEM, { states: ['overflow'] }) : Promise.resolve(0),
      ]);
      const taskUuids = [...new Set(placed.map((i) => i.taskUuid))];
      const tasks = new Map<string, { name: string; accountId: string }>();
      for (let k = 0; k < taskUuids.length; k += 500) {
        const page = await store.listTasks(SYSTEM, { filter: { uuids: taskUuids.slice(k, k + 500) }, limit: 500 });
        for (const t of page.items) tasks.set(t.uuid, { name: t.name, accountId: t.accountId });
      }
      // The owners' emails in one query (per 500 accounts), not one read per instance or account.
      const emails = new Map((await store.getAccounts([...new Set([...tasks.values()].map((t) => t.accountId))])).map((a) => [a.id, a.email]));
      const registry = new Map((await store.listRegistry()).filter((r) => r.kind === 'heater' || r.kind === 'boiler').map((r) => [r.id, r]));
      const byDevice = new Map<string, Placement[]>();
      if (deviceId !== undefined) byDevice.set(deviceId, []);
      for (const i of placed) {
        if (i.heaterId === null) continue;
        const t = tasks.get(i.taskUuid);
        const list = byDevice.get(i.heaterId) ?? [];
        list.push({
          taskUuid: i.taskUuid,
          taskName: t?.name ?? '',
          instanceId: i.instanceId,
          boardIndex: i.boardIndex,
          state: i.state as Placement['state'],
          progress: i.progress,
          startedAt: i.startedAt === null ? null : iso(i.startedAt),
          accountId: t?.accountId ?? null,
          accountEmail: t ? (emails.get(t.accountId) ?? null) : null,
        });
        byDevice.set(i.heaterId, list);
      }
      const devices = [...byDevice.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([id, instances]) => {
          const row = registry.get(id);
          instances.sort((a, b) => (a.boardIndex ?? Infinity) - (b.boardIndex ?? Infinity) || (a.taskUuid < b.taskUuid ? -1 : a.taskUuid > b.taskUuid ? 1 : 0) || a.instanceId - b.instanceId);
          return { deviceId: id, kind: row ? (row.kind as 'heater' | 'boiler') : null, name: row?.name ?? null, instances };
        });
      return { at: iso(opts.clock()), devices, overflowInstances };
    },
  );

  // --- energy, money, carbon; host statements; usage

  app.get(
    '/sites/:id/energy',
    {
      schema: {
        tags,
        summary: '(ext) Electricity drawn per device and in total (kWh), owed to the host (€) and carbon (kg) over [from, to) (operator or host)',
        params: IdParams,
        querystring: RangeQuerySchema,
        response: { 200: SiteEnergySchema, ...errors },
      },
    },
    async (req) => {
      const site = await visibleRow(store, await viewerOf(store, req), 'site', req.params.id);
      const now = opts.clock();
      const to = timeOf(req.query.to, 'to', now);
      const from = timeOf(req.query.from, 'from', monthRange(monthOf(now)).from);
      checkRange(from, to);
      return siteEnergy(store, site, from, to);
    },
  );

  app.get(
    '/sites/:id/statements',
    { schema: { tags, summary: '(ext) Months with a statement for the site (operator or host)', params: IdParams, response: { 200: StatementListSchema, ...errors } } },
    async (req) => {
      const site = await visibleRow(store, await viewerOf(store, req), 'site', req.params.id);
      const months = await monthsWithData(store, (await devicesOf(store, site.id)).map((d) => d.id));
      return { site: { id: site.id, name: site.name }, months };
    },
  );

  app.get(
    '/sites/:id/statements/:month',
    { schema: { tags, summary: '(ext) The host\'s monthly statement (UTC month): kWh drawn and what hearth owes (operator or host)', params: StatementParams, response: { 200: StatementSchema, ...errors } } },
    async (req): Promise<Statement> => {
      const site = await visibleRow(store, await viewerOf(store, req), 'site', req.params.id);
      const { from, to } = monthRange(req.params.month);
      const energy = await siteEnergy(store, site, from, to);
      const host = site.accountId === null ? undefined : await store.getAccount(site.accountId);
      return {
        site: { id: site.id, name: site.name },
        month: req.params.month,
        from: iso(from),
        to: iso(to),
        host: host ? { id: host.id, email: host.email } : null,
        tariffEURPerKWh: energy.tariffEURPerKWh,
        devices: energy.devices.map((d) => ({ id: d.id, name: d.name, kWh: d.kWh, owedEUR: d.owedEUR })),
        totalKWh: energy.totalKWh,
        totalOwedEUR: energy.totalOwedEUR,
        residentPays: 0,
      };
    },
  );

  app.get(
    '/accounts/me/usage',
    {
      schema: {
        tags,
        summary: '(ext) The caller\'s compute: energy, GHz·s and CPU core-hours of its instance attempts ended (or, running, started) in [from, to), and what was billed for its reports in that range (core-hours, €)',
        querystring: RangeQuerySchema,
        response: { 200: UsageSchema, ...errors },
      },
    },
    async (req): Promise<Usage> => {
      const { account } = callerOf(req);
      const from = req.query.from === undefined ? undefined : timeOf(req.query.from, 'from', 0);
      const to = req.query.to === undefined ? undefined : timeOf(req.query.to, 'to', 0);
      if (from !== undefined && to !== undefined) checkRange(from, to);
      const [groups, charges] = await Promise.all([store.summarizeAttempts(account.id, { from, to }), store.summarizeCharges(account.id, { from, to })]);
      const billed = billedOf(charges);
      const out: Usage = { accountId: account.id, from: from === undefined ? null : iso(from), to: to === undefined ? null : iso(to), attempts: 0, energyWh: 0, ghzSeconds: 0, coreHours: 0, execTimeSec: 0, billed };
      for (const g of groups) {
        out.attempts += g.attempts;
        out.energyWh += g.energyWh;
        out.ghzSeconds += g.ghzSeconds;
        out.execTimeSec += g.execTimeSec;
      }
      // Execution time is the CPU time of the instances' processes, counted on every core they used: already
      // core-seconds (multiplying it by the board's cores counted a 4-core hour as 16).
      out.coreHours = out.execTimeSec / 3600;
      return out;
    },
  );

  app.get(
    '/tasks/:uuid/bill',
    {
      schema: {
        tags,
        summary: '(ext) What one of the caller\'s tasks was billed so far, from the charges ledger (core-hours, €, per scheduling type); still answered after the task is deleted',
        params: UuidParams,
        response: { 200: TaskBillSchema, ...errors },
      },
    },
    async (req): Promise<TaskBill> => {
      const { account } = callerOf(req);
      const taskUuid = req.params.uuid;
      const charges = await store.summarizeCharges(account.id, { taskUuid });
      // Never billed: a task of the caller's (not run yet) bills nothing; anything else is not found.
      if (charges.length === 0 && !(await store.getTask(account.id, taskUuid))) throw notFound(`task ${taskUuid}`);
      return { taskUuid, billed: billedOf(charges) };
    },
  );

  // --- live events

  app.get(
    '/events',
    {
      schema: {
        tags,
        summary: '(ext) Server-sent events of live changes the caller may see (operators: all); honours Last-Event-ID',
        querystring: Type.Object({ lastEventId: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })) }),
        response: { 400: ApiErrorSchema, 401: ApiErrorSchema },
      },
    },
    async (req, reply) => {
      const v = await viewerOf(store, req);
      const after = lastEventIdOf(req.headers['last-event-id'], req.query.lastEventId) ?? (await store.lastEventId());
      serveStream(opts, req, reply, v, after, streams);
    },
  );

  return Promise.resolve();
};
