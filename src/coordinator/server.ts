// The platform as one process: opens the data directory (store, blobs, seal key), makes sure an operator can log
// in, mounts the compute API, the hearth API and the S3 storage endpoint on one Fastify server, and listens.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, type ExtraPlugin } from './app.ts';
import { createSealKey, ensureBootstrapOperator, type BootstrapResult } from './auth/tokens.ts';
import { s3Plugin } from './s3/plugin.ts';
import { openStore } from './store/index.ts';
import type { RegistryRow, Store } from './store/types.ts';
import { FleetLoop, type FleetLoopHooks } from './fleet/loop.ts';
import { checkLoopOptions } from './fleet/loop-options.ts';
import { EventHub, InstanceStateFeed, RoomTelemetryAggregator, roomTelemetryView, withInstanceFeed, type HeaterPlace } from './events.ts';
import type { CarbonSource } from './accounting/carbon.ts';
import { EVENT_TYPES, type InstanceOutputPayload, type LiveSample, type TelemetryBatch } from '../protocol/platform.ts';
import { seedDemoSite } from './fleet/demo-site.ts';
import type { DeviceLink, LocalExecutor, LocalExecutorFactory } from './fleet/link.ts';
import { startBroker, type DeviceBroker } from './bus/broker.ts';
import { MqttLink } from './bus/mqtt-link.ts';
import { LocalLink } from './bus/local-link.ts';
import type { BusLink } from './bus/link-inbox.ts';
import { HomeAssistantBridge } from './bus/home-assistant.ts';
import type { PolicyName } from '../scheduler/index.ts';
import { DEFAULT_PRICES, type PriceTable } from './accounting/billing.ts';

/** Where the storage endpoint is mounted on the coordinator's origin. */
export const STORAGE_PREFIX = '/storage';

export interface PlatformOptions {
  /** TCP port (0: any free port). Default 8080. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1 (the platform is not exposed until an operator says so). */
  host?: string;
  /** Data directory: the SQLite file, the blobs, the seal key. Created if missing. Default ./data. */
  dataDir?: string;
  /** Store URL (`postgres://…` or a SQLite path/URL). Default: SQLite `hearth.db` in the data directory. */
  db?: string;
  /** Where HEARTH_BOOTSTRAP_TOKEN is read. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Now, ms since the epoch. Default Date.now. */
  clock?: () => number;
  /** Public base URL clients should use (e.g. behind a proxy); default http://host:port. */
  publicUrl?: string;
  /** Structured logs (Fastify's pino): true, false or pino options. Default false. */
  logger?: boolean | Record<string, unknown>;
  /** Grid carbon intensity for carbon facts (default: the constant DEFAULT_GRID_G_PER_KWH). */
  carbonSource?: CarbonSource;
  /** Further plugins (mounted beside the API). */
  plugins?: ExtraPlugin[];
  /**
   * The fleet: the live scheduling loop with a local executor standing in for agents (absent: API only).
   * Defaults: policy `hearth`, a 5 s period, the demo site seeded into an empty store.
   */
  fleet?: FleetOptions;
  /** Hook run once the store is open and the operator exists, before listening (e.g. to seed a demo fleet). */
  beforeListen?: (p: { store: Store; app: FastifyInstance; sealKey: Buffer; dataDir: string }) => Promise<void>;
}

/** How `startPlatform` runs the fleet. */
export interface FleetOptions {
  /**
   * The devices, one of:
   * - `executor`: a local executor standing in for agents, in this process (the CLI passes `localExecutor`);
   * - `bus`: real agents over MQTT — the embedded broker on `port` (default 1883), or an external broker at `url`
   *   (`mqtt://host:port`, where the coordinator logs in as `@coordinator` with `coordinatorSecret`).
   */
  executor?: LocalExecutorFactory;
  bus?: { port?: number; host?: string; url?: string; coordinatorSecret?: string };
  /**
   * Home Assistant MQTT discovery (embedded broker only: an external broker's ACL cannot confine a Home Assistant
   * login to its rooms' discovery configs). Default on, with the discovery prefix `homeassistant`; false: off.
   */
  homeAssistant?: { discoveryPrefix?: string } | false;
  policy?: PolicyName;
  /** Scheduling period, s (wall clock). Default 5. */
  periodS?: number;
  /** Shortest silence that makes a device offline (its work requeued), s: see FleetLoopOptions. Default 30. */
  offlineAfterS?: number;
  /** A checkpointing stop's grace between SIGTERM and SIGKILL, s; how long a checkpoint is awaited, s: see FleetLoopOptions. */
  checkpointGraceS?: number;
  checkpointTimeoutS?: number;
  /** Seed the demo site when the store has none. Default true. */
  demo?: boolean;
  /** Rooms of the demo site (1–6). Default 6. */
  demoRooms?: number;
  /** Prices per core-hour by scheduling type (billing). Default DEFAULT_PRICES. */
  prices?: PriceTable;
  hooks?: FleetLoopHooks;
}

export interface Platform {
  /** Base URL of the API (and of the storage endpoint under {@link STORAGE_PREFIX}). */
  url: string;
  port: number;
  app: FastifyInstance;
  store: Store;
  dataDir: string;
  sealKey: Buffer;
  bootstrap: BootstrapResult;
  /** The live-change hub behind `GET /hearth/v1/events` (publish or broadcast through it to reach the streams). */
  events: EventHub;
  /** The live loop and the local executor (absent with `fleet: false`). */
  fleet?: { loop: FleetLoop; link: DeviceLink; executor?: LocalExecutor; broker?: DeviceBroker; homeAssistant?: HomeAssistantBridge; tick(): Promise<void> };
  /** Stops listening, then closes the store. Idempotent. */
  close(): Promise<void>;
}

/**
 * Reads the key that seals API tokens for SigV4 (`seal.key` in the data directory, 0600), creating it on first
 * start. The key never enters the database: a stolen database alone does not reveal a usable secret.
 */
export function loadSealKey(dataDir: string): Buffer {
  const path = join(dataDir, 'seal.key');
  if (existsSync(path)) {
    const hex = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error(`${path}: not a 32-byte hex key (delete it only if no token needs SigV4)`);
    return Buffer.from(hex, 'hex');
  }
  const key = createSealKey();
  writeFileSync(path, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return key;
}

/** Opens the data directory and its store (migrations applied), and the seal key. */
export async function openDataDir(dataDir: string, db?: string): Promise<{ dir: string; store: Store; sealKey: Buffer }> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const sealKey = loadSealKey(dir);
  const store = await openStore(db ?? `sqlite:${join(dir, 'hearth.db')}`);
  return { dir, store, sealKey };
}

/** Starts the platform and resolves once it listens. */
export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const host = options.host ?? '127.0.0.1';
  const { dir, store, sealKey } = await openDataDir(options.dataDir ?? './data', options.db);
  let app: FastifyInstance | undefined;
  let fleet: Awaited<ReturnType<typeof startFleet>> | undefined;
  try {
    const bootstrap = await ensureBootstrapOperator(store, { env: options.env ?? process.env, sealKey });
    let base = options.publicUrl?.replace(/\/+$/, '');
    const events = new EventHub();
    app = await buildApp({
      events,
      blobDir: join(dir, 'blobs'),
      carbon: options.carbonSource ? { source: options.carbonSource } : undefined,
      store,
      clock: options.clock,
      sealKey,
      logger: options.logger ?? false,
      storageUrl: (req) => `${base ?? `${req.protocol}://${req.host}`}${STORAGE_PREFIX}`,
      plugins: [{ plugin: s3Plugin, options: { prefix: STORAGE_PREFIX, store, blobDir: join(dir, 'blobs'), sealKey, clock: options.clock } }, ...(options.plugins ?? [])],
    });
    if (options.beforeListen) await options.beforeListen({ store, app, sealKey, dataDir: dir });
    fleet = options.fleet === undefined ? undefined : await startFleet(store, dir, options.fleet, options.clock ?? Date.now, events, (m) => app?.log.warn(m));
    await app.listen({ port: options.port ?? 8080, host });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : (options.port ?? 8080);
    base ??= `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    let closed: Promise<void> | undefined;
    const listening = app;
    return {
      url: base,
      port,
      app: listening,
      store,
      dataDir: dir,
      sealKey,
      bootstrap,
      events,
      fleet: fleet && { loop: fleet.loop, link: fleet.link, executor: fleet.executor, broker: fleet.broker, homeAssistant: fleet.homeAssistant, tick: fleet.tick },
      close: () =>
        (closed ??= (async () => {
          try {
            await fleet?.stop();
            await listening.close();
          } finally {
            await store.close();
          }
        })()),
    };
  } catch (e) {
    await fleet?.stop().catch(() => undefined);
    if (app) await app.close().catch(() => undefined);
    await store.close();
    throw e;
  }
}

/** Seeds the demo site if asked, then runs executor steps and loop ticks on a wall-clock timer. */
async function startFleet(
  store: Store,
  dataDir: string,
  o: FleetOptions,
  clock: () => number,
  events: EventHub,
  warn: (m: string) => void,
): Promise<{ loop: FleetLoop; link: DeviceLink; executor?: LocalExecutor; broker?: DeviceBroker; homeAssistant?: HomeAssistantBridge; tick: () => Promise<void>; stop: () => Promise<void> }> {
  const periodS = o.periodS ?? 5;
  // Settings checked before a broker or an executor starts (the loop checks them again).
  checkLoopOptions({ periodS, offlineAfterS: o.offlineAfterS, checkpointGraceS: o.checkpointGraceS, checkpointTimeoutS: o.checkpointTimeoutS });
  if (o.demo !== false) await seedDemoSite(store, { rooms: o.demoRooms });
  let executor: LocalExecutor | undefined;
  let broker: DeviceBroker | undefined;
  let mqtt: BusLink | undefined;
  let homeAssistant: HomeAssistantBridge | undefined;
  let link: DeviceLink;
  if (o.executor) {
    executor = o.executor({ store, dataDir, stepS: Math.min(10, periodS), warn });
    link = executor;
  } else {
    const bus = o.bus ?? {};
    const discoveryPrefix = o.homeAssistant === false ? undefined : o.homeAssistant?.discoveryPrefix;
    if (bus.url === undefined) broker = await startBroker({ store, port: bus.port ?? 1883, host: bus.host, log: warn, discoveryPrefix });
    const password = broker ? broker.coordinator.password : bus.coordinatorSecret;
    if (!password) throw new Error('an external MQTT broker needs the coordinator secret (HEARTH_MQTT_SECRET)');
    try {
      // The embedded broker hands messages over in process; an external one is reached over MQTT.
      mqtt = broker ? await LocalLink.attach(broker, { log: warn }) : await MqttLink.connect({ url: bus.url!, password, log: warn });
      if (broker && o.homeAssistant !== false) {
        homeAssistant = await HomeAssistantBridge.connect({ url: broker.url, password, store, events, discoveryPrefix, onlineWithinS: Math.max(o.offlineAfterS ?? 30, 3 * periodS), log: warn });
      }
    } catch (e) {
      await mqtt?.close();
      await broker?.close();
      throw e;
    }
    link = mqtt;
  }
  // Task state changes go to the live event stream (GET /hearth/v1/events) of the task's owner.
  const onTaskState: FleetLoopHooks['onTaskState'] = async (e) => {
    await events.publish(store, { type: EVENT_TYPES.taskState, accountId: e.accountId, payload: { uuid: e.taskUuid, state: e.state }, at: e.at });
  };
  // Instances' output goes live to the owner's streams (and operators'): one live-only event per stored chunk.
  const onOutput: FleetLoopHooks['onOutput'] = (out) => {
    const payload: InstanceOutputPayload = { taskUuid: out.taskUuid, instanceId: out.instanceId, attempt: out.attempt, stream: out.stream, text: out.text, at: out.at };
    events.broadcast({ type: EVENT_TYPES.instanceOutput, accountId: out.accountId, payload, at: out.at });
  };
  // Telemetry goes to the operators' live streams as one live-only event per tick, the latest sample per device
  // (bounded: at most one entry per device per period, never stored in the event log).
  const live = new Map<string, LiveSample>();
  const onTelemetry: FleetLoopHooks['onTelemetry'] = async (r) => {
    live.set(r.deviceId, {
      deviceId: r.deviceId,
      time: r.at,
      airC: r.airC,
      setpointC: r.setpointC,
      powerW: r.powerW,
      computeW: r.computeW,
      fillerW: r.fillerW,
      boosterW: r.boosterW,
      busyBoards: r.busyBoards,
    });
    await o.hooks?.onTelemetry?.(r);
  };
  const flushTelemetry = (now: number): void => {
    if (live.size === 0) return;
    // The heat each room or tank asked for in the round just run (the loop's thermostats, not the device's figure).
    for (const s of live.values()) {
      const requestW = loop.heatRequestW(s.deviceId);
      if (requestW !== undefined && Number.isFinite(requestW)) s.requestW = requestW;
    }
    const batch: TelemetryBatch = { samples: [...live.values()] };
    live.clear();
    events.broadcast({ type: EVENT_TYPES.telemetryBatch, accountId: null, payload: batch, at: now });
    // The same period's figures per room, for the residents' and hosts' streams (each sees only its rooms).
    const rooms = roomFigures.update(batch.samples, (id) => places.get(id), (roomId) => heatersByRoom.get(roomId) ?? []);
    if (rooms.length > 0) events.broadcastRooms(roomTelemetryView(rooms, now));
  };
  // Where each heater is (room, site), from the registry: reloaded after a registry event, or when a device reports
  // that the index does not know (rows written straight to the store), at most once per period.
  const places = new Map<string, HeaterPlace>();
  const heatersByRoom = new Map<string, string[]>();
  const nonRoomDevices = new Set<string>();
  const roomFigures = new RoomTelemetryAggregator();
  let placesStale = true;
  const stopRegistryWatch = events.subscribe((e) => {
    if (e.type === EVENT_TYPES.registry) placesStale = true;
    // A revoked Home Assistant login may not keep the connections it opened with its password.
    if (e.type === EVENT_TYPES.integrationRevoked && broker) {
      const username = (e.payload as { username?: unknown } | null)?.username;
      if (typeof username === 'string') void broker.disconnectLogin(username).catch((err: unknown) => warn(`login ${username} not disconnected: ${(err as Error).message}`));
    }
  });
  const loadPlaces = async (): Promise<void> => {
    const unknown = [...live.keys()].some((id) => !places.has(id) && !nonRoomDevices.has(id));
    if (!placesStale && !unknown) return;
    placesStale = false;
    const rows: RegistryRow[] = await store.listRegistry();
    places.clear();
    heatersByRoom.clear();
    nonRoomDevices.clear();
    for (const r of rows) {
      if (r.kind === 'heater' && r.parentId !== null) {
        places.set(r.id, { roomId: r.parentId, siteId: r.siteId });
        const list = heatersByRoom.get(r.parentId);
        if (list) list.push(r.id);
        else heatersByRoom.set(r.parentId, [r.id]);
      } else if (r.kind === 'heater' || r.kind === 'boiler') nonRoomDevices.add(r.id);
    }
    for (const id of live.keys()) if (!places.has(id)) roomFigures.forget(id);
  };
  // Instance changes the loop applies are recorded (the store the loop sees is wrapped) and published once per
  // period after the tick, to the task's owner: `instance.state`, coalesced (see InstanceStateFeed).
  const instanceFeed = new InstanceStateFeed({ onError: (err) => warn(`instance events not published: ${(err as Error).message}`) });
  // Agents outlive a coordinator restart: the loop adopts what they still run; the local executor's work died with it.
  const loop = new FleetLoop({
    store: withInstanceFeed(store, instanceFeed),
    link,
    policy: o.policy,
    periodS,
    offlineAfterS: o.offlineAfterS,
    checkpointGraceS: o.checkpointGraceS,
    checkpointTimeoutS: o.checkpointTimeoutS,
    requeueInFlightAtStart: executor !== undefined,
    // Billing follows the work really done: each report's wall time × cores × clock ratio, at the task's price,
    // charged in the transaction that applies the report (the charges ledger).
    prices: o.prices ?? DEFAULT_PRICES,
    hooks: { onWarning: warn, onTaskState, onOutput, ...o.hooks, onTelemetry },
  });
  let running: Promise<void> | undefined;
  const tick = (): Promise<void> =>
    (running ??= (async () => {
      try {
        const now = clock();
        if (executor) {
          await executor.syncDevices(now);
          executor.step(now);
        }
        await loop.tick(now);
        await instanceFeed.flush(store, events);
        await loadPlaces().catch((err: unknown) => warn(`room index not reloaded: ${(err as Error).message}`));
        flushTelemetry(now);
        // Home Assistant's entities follow, at most once per period and only what changed.
        await homeAssistant?.sync(now);
      } catch (e) {
        warn(`fleet tick failed: ${(e as Error).message}`);
      } finally {
        running = undefined;
      }
    })());
  await tick();
  const timer = setInterval(() => void tick(), periodS * 1000);
  timer.unref();
  return {
    loop,
    link,
    executor,
    broker,
    homeAssistant,
    tick,
    stop: async () => {
      clearInterval(timer);
      stopRegistryWatch();
      await running;
      await executor?.close();
      await homeAssistant?.close();
      await mqtt?.close();
      await broker?.close();
    },
  };
}
