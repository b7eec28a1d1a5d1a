// Device-bus benchmark: simulated devices speaking the real protocol (each its own TCP connection: CONNECT with its
// enrolled secret, a persistent session and a retained offline last will, SUBSCRIBE to its commands, a retained
// online state, telemetry from protocol/device.ts at the agent's QoS) against raw aedes (the baseline: aedes with the
// embedded broker's tuning but no authentication, validation or frame guard, read by an MqttLink), the embedded
// broker (broker.ts) with the coordinator's in-process link (local-link.ts, as `hearth start` runs it), the embedded
// broker read by an MqttLink over loopback instead (`embedded-tcp`: the path before the in-process link, off by
// default) and Debian mosquitto (configured by mosquitto-config.ts, read by an MqttLink; skipped when absent); the
// link is drained every period and telemetry stored in the loop's batches. Also submit-to-running of an instance on
// an idle fleet (the platform, its live loop over the bus, a few in-process agents).
// One JSON line per figure, a summary last.
// Run: node --import tsx bench/devices.ts [--devices 10000] [--rates 10000,15000,22000,30000,40000] [--step 8]
//      [--retries 1] [--brokers raw,embedded,mosquitto] [--generators N] [--drain-ms 100] [--periods 0.5]
//      [--samples 40] [--agents 3] [--no-submit] [--store-rows 100000] [--cpu-prof DIR] [--step-prof DIR]
//      (or `hearth bench devices …`). `--brokers aedes-default` adds aedes exactly as it comes (slow ramp, crashes);
//      `embedded-tcp` the embedded broker with an MqttLink. `--step-prof DIR`: a CPU profile of the coordinator per
//      telemetry step (`{target}-{rate}-{attempt}.cpuprofile`, the step's publishing and settling only).
//
// Processes. The driver (this file, no role) starts a coordinator child (the broker for raw/embedded, the link, the
// SQLite store: one event loop, as `hearth start` runs them), device children, mosquitto when measured, and a
// platform child for submit-to-running. The devices never share the broker's event loop. Default split: on ≤ 2 cores
// one device process, else two. Each telemetry line gives what each side used (`coordinatorCores`, `devicesCores`,
// `mosquittoCores`), the coordinator's CPU per stored message (`coordinatorCpuUsPerMessage`: for raw and embedded
// the broker, link and store; for mosquitto the link and store, mosquitto's own in `mosquittoCores`) and, from /proc
// schedstat, how much of the step the coordinator's event loop ran (`coordinatorLoopBusy`) or waited for a CPU
// (`coordinatorLoopStarved`): on a shared machine that says whether a missed step was saturated or starved.
// Every side holds one socket per device: the driver refuses to start when the open-file limit is below that.
//
// The device generator. Real devices are separate machines; here thousands share a process and a core with the
// broker's neighbour, so the generator must be cheap per message without cutting protocol corners (10,000 mqtt.js
// clients took most of a core at 15,000 messages/s). Each device is a plain socket: its CONNECT, SUBSCRIBE and
// state PUBLISH are encoded by mqtt-packet (the library aedes and mqtt.js use) and each waits for the broker's
// CONNACK, SUBACK or PUBACK, failing on a refusal; everything the broker sends is parsed by mqtt-packet; commands
// are acknowledged (PUBACK) and idle devices ping within their keepalive. Telemetry PUBLISH packets (QoS 0, as the
// agent sends them) are written directly from the payload's JSON; a device process checks at start that
// mqtt-packet parses them back to the same topic, payload and QoS and that the payload passes the telemetry schema.
//
// Telemetry steps are open loop: the device processes publish at the offered rate, round-robin over every
// connected device, whatever the coordinator does. Ingest latency is the device's `at` (its clock at publish) to
// the drain that handed the report to the coordinator, so it includes up to one drain period (--drain-ms); the
// stored latency adds the SQLite write. A step is sustained when ≥ 99 % of what was published is stored and the
// ingest rate is ≥ 95 % of the offered rate; the ladder stops at the first step not sustained (after --retries).
// A target's figure is the highest ingest rate of a sustained step.
// Ratios: each target's sustained rate over raw aedes', and its coordinator CPU per message over raw's at the same
// offered rate (`cpuOverRaw`, steadier than throughput when neighbours load the machine).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { availableParallelism, loadavg, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Session as InspectorSession } from 'node:inspector/promises';
import { Aedes } from 'aedes';
import mqttPacket from 'mqtt-packet';
import type { DeviceReport } from '../src/protocol/device.ts';
import { CHANNEL_QOS, CHANNEL_RETAIN, deviceTopic, encodePayload } from '../src/protocol/mqtt.ts';
import { openStore } from '../src/coordinator/store/index.ts';
import { SYSTEM } from '../src/coordinator/store/types.ts';
import { enrolDevice } from '../src/coordinator/bus/enrol.ts';
import { AEDES_TUNING, indexRetained, startBroker, type DeviceBroker, type RetainedStore } from '../src/coordinator/bus/broker.ts';
import { MqttLink } from '../src/coordinator/bus/mqtt-link.ts';
import { LocalLink } from '../src/coordinator/bus/local-link.ts';
import type { BusLink } from '../src/coordinator/bus/link-inbox.ts';
import { renderMosquittoFiles } from '../src/coordinator/bus/mosquitto-config.ts';
import { startPlatform } from '../src/coordinator/server.ts';
import { Agent } from '../src/agent/agent.ts';
import { MqttTransport } from '../src/agent/mqtt-transport.ts';
import { HttpFiles } from '../src/agent/http-files.ts';
import { RoomTwin } from '../src/agent/room-twin.ts';

const ROLE_ENV = 'HEARTH_BENCH_DEVICES_ROLE';
const MOSQUITTO = '/usr/sbin/mosquitto';
/** Telemetry samples per store write: the live loop's batch (fleet/loop.ts). */
const TELEMETRY_BATCH = 5000;

type Target = 'raw' | 'aedes-default' | 'embedded' | 'embedded-tcp' | 'mosquitto';
const TARGETS: readonly Target[] = ['raw', 'aedes-default', 'embedded', 'embedded-tcp', 'mosquitto'];
interface Creds {
  id: string;
  secret: string;
}

/** What the coordinator measured over one telemetry step. */
interface StepStats {
  received: number;
  stored: number;
  firstAtMs: number;
  lastStoredMs: number;
  drainP50Ms: number;
  drainP99Ms: number;
  drainMaxMs: number;
  storedP99Ms: number;
  overflow: number;
  refusedPayload: number;
}

// ---------------------------------------------------------------------------------------------------------
// Messages

type ToCoordinator =
  | { type: 'enrol'; count: number }
  | { type: 'start'; target: Target; url?: string; coordinatorSecret?: string; drainMs: number }
  | { type: 'online' }
  | { type: 'reset'; profile?: string }
  | { type: 'settle' }
  | { type: 'stats' }
  | { type: 'cpu' }
  | { type: 'stop-target' }
  | { type: 'store-bench'; rows: number }
  | { type: 'quit' };
type FromCoordinator =
  | { type: 'ready' }
  | { type: 'enrolled'; devices: Creds[]; ms: number }
  | { type: 'started'; url: string }
  | { type: 'online'; online: number; brokerClients: number | null }
  | { type: 'reset' }
  | { type: 'settled'; waitedMs: number }
  | { type: 'stats'; stats: StepStats }
  | { type: 'cpu'; us: number }
  | { type: 'stopped'; counters: unknown }
  | { type: 'store-bench'; rowsPerS: number; rows: number }
  | { type: 'quit' };

type ToDevices =
  | { type: 'init'; url: string; devices: Creds[]; concurrency: number; keepaliveS: number }
  | { type: 'connect' }
  | { type: 'publish'; perS: number; durationS: number }
  | { type: 'cpu' }
  | { type: 'end' };
type FromDevices =
  | { type: 'ready' }
  | { type: 'init' }
  | { type: 'connected'; connected: number; failed: number; ms: number; firstError: string | null }
  | { type: 'published'; count: number; ms: number; disconnects: number; connected: number; backpressured: number }
  | { type: 'cpu'; us: number }
  | { type: 'end' };

type FromPlatform = { type: 'submit'; result: SubmitResult };

interface SubmitResult {
  periodS: number;
  agents: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  minMs: number;
  meanMs: number;
  failed: number;
}

/** One child's IPC channel: each reply resolves the oldest wait for its type. */
class Peer<In extends { type: string }, Out extends { type: string }> {
  private readonly waiting: Array<{ type: string; resolve: (m: Out) => void; reject: (e: Error) => void }> = [];
  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    child.on('message', (m: Out) => {
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiting.splice(i, 1)[0].resolve(m);
    });
    child.on('exit', (code, signal) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`${name} exited (${code ?? signal}) while the driver waited for ${w.type}`));
    });
  }
  next<T extends Out['type']>(type: T): Promise<Extract<Out, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return reject(new Error(`${this.name} is gone`));
      this.waiting.push({ type, resolve: resolve as (m: Out) => void, reject });
    });
  }
  ask<T extends Out['type']>(m: In, reply: T): Promise<Extract<Out, { type: T }>> {
    const p = this.next(reply);
    this.child.send(m);
    return p;
  }
  exited(): Promise<void> {
    return new Promise((resolve) => (this.child.exitCode !== null || this.child.signalCode !== null ? resolve() : this.child.once('exit', () => resolve())));
  }
}

const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** The p-quantile (0–1) of a sorted array; NaN when empty. */
function quantile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** A growable Float64Array of samples. */
class Samples {
  #a = new Float64Array(1 << 16);
  #n = 0;
  push(x: number): void {
    if (this.#n === this.#a.length) {
      const b = new Float64Array(this.#a.length * 2);
      b.set(this.#a);
      this.#a = b;
    }
    this.#a[this.#n++] = x;
  }
  get length(): number {
    return this.#n;
  }
  sorted(): Float64Array {
    return this.#a.slice(0, this.#n).sort();
  }
  clear(): void {
    this.#n = 0;
  }
}

function send<M>(m: M): void {
  process.send?.(m);
}

// ---------------------------------------------------------------------------------------------------------
// Coordinator child: broker (raw aedes or the embedded one), the MqttLink, the store

async function coordinator(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-devices-'));
  const store = await openStore(`sqlite:${join(dir, 'hearth.db')}`);
  let ids: string[] = [];

  type Running = {
    link: BusLink;
    close: () => Promise<void>;
    counters: () => unknown;
    clients: () => number | null;
    timer: NodeJS.Timeout;
    draining: Promise<void> | null;
    refusedPayload: () => number;
  };
  let running: Running | undefined;
  let logLines = 0;
  const log = (line: string): void => {
    // Refusals are not expected in a healthy run; print the first few so a misconfiguration shows.
    if (++logLines <= 5) console.error(`[coordinator] ${line}`);
  };

  // One step's measurements.
  const drainLat = new Samples();
  const storedLat = new Samples();
  let received = 0;
  let stored = 0;
  let firstAtMs = Infinity;
  let lastDrainWithDataMs = 0;
  let lastStoredMs = 0;
  let overflowAtReset = 0;
  let refusedAtReset = 0;
  let profiling: { session: InspectorSession; path: string } | undefined;

  /** One round of the live loop's ingest: drain, then append the telemetry in batches of TELEMETRY_BATCH. */
  const drainOnce = async (r: Running): Promise<void> => {
    const inbox = r.link.drain();
    const n = inbox.reports.length;
    if (n === 0) return;
    const now = Date.now();
    lastDrainWithDataMs = now;
    received += n;
    const samples: Array<{ deviceId: string; time: number; data: Record<string, unknown> }> = [];
    for (const rep of inbox.reports) {
      drainLat.push(now - rep.at);
      if (rep.at < firstAtMs) firstAtMs = rep.at;
      samples.push({ deviceId: rep.deviceId, time: rep.at, data: { ...rep } });
    }
    for (let k = 0; k < samples.length; k += TELEMETRY_BATCH) {
      const batch = samples.slice(k, k + TELEMETRY_BATCH);
      try {
        stored += await store.appendTelemetry(batch);
      } catch (e) {
        console.error(`[coordinator] telemetry not stored: ${(e as Error).message}`);
      }
      const done = Date.now();
      lastStoredMs = done;
      for (const s of batch) storedLat.push(done - s.time);
    }
  };

  const handlers: { [K in ToCoordinator['type']]: (m: Extract<ToCoordinator, { type: K }>) => Promise<void> | void } = {
    enrol: async (m) => {
      const t0 = performance.now();
      const devices: Creds[] = [];
      const width = String(m.count).length;
      for (let k = 1; k <= m.count; k++) {
        const id = `bench-${String(k).padStart(width, '0')}`;
        const { secret } = await enrolDevice(store, id);
        devices.push({ id, secret });
      }
      ids = devices.map((d) => d.id);
      send<FromCoordinator>({ type: 'enrolled', devices, ms: Math.round(performance.now() - t0) });
    },
    start: async (m) => {
      let url: string;
      let password: string;
      let close: () => Promise<void>;
      let counters: () => unknown = () => null;
      let clients: () => number | null = () => null;
      let refusedPayload = (): number => 0;
      let local: DeviceBroker | undefined;
      if (m.target === 'embedded' || m.target === 'embedded-tcp') {
        const broker = await startBroker({ store, port: 0, log });
        // embedded: the in-process link, as `hearth start` runs it; embedded-tcp: an MqttLink over loopback (the
        // path before the in-process link, what an external broker still needs).
        if (m.target === 'embedded') local = broker;
        url = broker.url;
        password = broker.coordinator.password;
        close = () => broker.close();
        counters = () => broker.counters;
        clients = () => broker.connectedClients();
        refusedPayload = () => broker.counters.refused.payload;
      } else if (m.target === 'raw' || m.target === 'aedes-default') {
        // The baseline (raw): aedes with the embedded broker's tuning but none of its checks (every client and
        // publish allowed, no payload validation, no frame guard). aedes-default: aedes exactly as it comes.
        const aedes = await Aedes.createBroker(m.target === 'raw' ? { ...AEDES_TUNING } : {});
        if (m.target === 'raw') indexRetained((aedes as unknown as { persistence: RetainedStore }).persistence);
        const sockets = new Set<Socket>();
        const server: Server = createServer((socket) => {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.setNoDelay(true);
          aedes.handle(socket);
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
        const addr = server.address();
        url = `mqtt://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
        password = 'unused';
        close = async () => {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          await new Promise<void>((resolve) => aedes.close(() => resolve()));
          for (const s of sockets) s.destroy();
          await closed;
        };
        clients = () => aedes.connectedClients;
      } else {
        if (m.url === undefined || m.coordinatorSecret === undefined) throw new Error('mosquitto: url and coordinator secret required');
        url = m.url;
        password = m.coordinatorSecret;
        close = () => Promise.resolve();
      }
      // A clean session: nothing left over from another target's run. The queue bound is the link's default.
      const link = local ? await LocalLink.attach(local, { log }) : await MqttLink.connect({ url, password, clean: true, log });
      const r: Running = {
        link,
        close,
        counters,
        clients,
        draining: null,
        refusedPayload,
        timer: setInterval(() => {
          // Rounds never overlap (the loop's own guard).
          r.draining ??= drainOnce(r).finally(() => (r.draining = null));
        }, m.drainMs),
      };
      running = r;
      send<FromCoordinator>({ type: 'started', url });
    },
    online: () => {
      const r = running;
      const online = r ? ids.reduce((n, id) => n + (r.link.online(id) ? 1 : 0), 0) : 0;
      send<FromCoordinator>({ type: 'online', online, brokerClients: r ? r.clients() : null });
    },
    reset: async (m) => {
      if (running?.draining) await running.draining;
      if (running) await drainOnce(running);
      if (m.profile !== undefined) {
        // This step only (publishing and settling), written at 'stats'.
        profiling = { session: new InspectorSession(), path: m.profile };
        profiling.session.connect();
        await profiling.session.post('Profiler.enable');
        await profiling.session.post('Profiler.setSamplingInterval', { interval: 500 });
        await profiling.session.post('Profiler.start');
      }
      drainLat.clear();
      storedLat.clear();
      received = 0;
      stored = 0;
      firstAtMs = Infinity;
      lastDrainWithDataMs = 0;
      lastStoredMs = 0;
      overflowAtReset = running?.link.counters.dropped.overflow ?? 0;
      refusedAtReset = running?.refusedPayload() ?? 0;
      send<FromCoordinator>({ type: 'reset' });
    },
    settle: async () => {
      // Until a full second passes with nothing drained (at most 60 s).
      const t0 = performance.now();
      while (performance.now() - t0 < 60_000) {
        await new Promise((r) => setTimeout(r, 200));
        if (Date.now() - lastDrainWithDataMs > 1000 && !running?.draining) break;
      }
      send<FromCoordinator>({ type: 'settled', waitedMs: Math.round(performance.now() - t0) });
    },
    stats: async () => {
      if (profiling) {
        const { profile } = await profiling.session.post('Profiler.stop');
        writeFileSync(profiling.path, JSON.stringify(profile));
        profiling.session.disconnect();
        profiling = undefined;
      }
      const d = drainLat.sorted();
      const s = storedLat.sorted();
      send<FromCoordinator>({
        type: 'stats',
        stats: {
          received,
          stored,
          firstAtMs,
          lastStoredMs,
          drainP50Ms: quantile(d, 0.5),
          drainP99Ms: quantile(d, 0.99),
          drainMaxMs: d.length ? d[d.length - 1] : NaN,
          storedP99Ms: quantile(s, 0.99),
          overflow: (running?.link.counters.dropped.overflow ?? 0) - overflowAtReset,
          refusedPayload: (running?.refusedPayload() ?? 0) - refusedAtReset,
        },
      });
    },
    cpu: () => {
      const u = process.cpuUsage();
      send<FromCoordinator>({ type: 'cpu', us: u.user + u.system });
    },
    'stop-target': async () => {
      const r = running;
      running = undefined;
      let counters: unknown = null;
      if (r) {
        clearInterval(r.timer);
        if (r.draining) await r.draining;
        counters = { link: r.link.counters, broker: r.counters() };
        await r.link.close();
        await r.close();
      }
      send<FromCoordinator>({ type: 'stopped', counters });
    },
    'store-bench': async (m) => {
      // The store alone: the same samples, appended in the loop's batches, with no bus in front.
      const report: DeviceReport = { deviceId: 'x', at: 0, airC: 20.5, setpointC: 21, bodyC: 45, outdoorC: 3, powerW: 500, computeW: 450, fillerW: 0, boosterW: 50, busyBoards: 2, level: 7, meterWh: 1234.5 };
      const base = Date.now() + 86_400_000;
      const rows = Array.from({ length: m.rows }, (_, k) => {
        const deviceId = ids.length ? ids[k % ids.length] : `store-${k % 10_000}`;
        const at = base + k;
        const data: Record<string, unknown> = { ...report, deviceId, at };
        return { deviceId, time: at, data };
      });
      const t0 = performance.now();
      let n = 0;
      for (let k = 0; k < rows.length; k += TELEMETRY_BATCH) n += await store.appendTelemetry(rows.slice(k, k + TELEMETRY_BATCH));
      const s = (performance.now() - t0) / 1000;
      send<FromCoordinator>({ type: 'store-bench', rowsPerS: round(n / s), rows: n });
    },
    quit: async () => {
      if (running) await handlers['stop-target']({ type: 'stop-target' });
      await store.close();
      rmSync(dir, { recursive: true, force: true });
      send<FromCoordinator>({ type: 'quit' });
      process.disconnect();
      process.exitCode = 0;
    },
  };
  process.on('message', (m: ToCoordinator) => {
    void Promise.resolve()
      .then(() => (handlers[m.type] as (m: ToCoordinator) => Promise<void> | void)(m))
      .catch((e: unknown) => {
        console.error(`[coordinator] ${m.type} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        process.exit(1);
      });
  });
  process.once('disconnect', () => {
    if (existsSync(dir)) void store.close().finally(() => rmSync(dir, { recursive: true, force: true }));
  });
  send<FromCoordinator>({ type: 'ready' });
}

// ---------------------------------------------------------------------------------------------------------
// Device child: many simulated devices, each its own TCP connection speaking MQTT 3.1.1

/**
 * A QoS 0 PUBLISH (no retain, no dup) as one latin1 string: fixed header 0x30, remaining length, the topic with its
 * two-byte length, the payload (ASCII JSON). What mqtt-packet's generate() writes for the same packet, without its
 * allocations; checked against mqtt-packet's parser when a device process starts.
 */
function publishQos0(topicField: string, payload: string): string {
  let n = topicField.length + payload.length;
  let header = '\x30';
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    header += String.fromCharCode(b);
  } while (n > 0);
  return header + topicField + payload;
}

/** A topic as a PUBLISH carries it (two-byte length, then the bytes), as a latin1 string. */
function topicField(topic: string): string {
  return String.fromCharCode(topic.length >> 8, topic.length & 0xff) + topic;
}

/** One device's telemetry now, valid against protocol/device.ts (checked with encodePayload at start). */
function telemetryJson(id: string, at: number, meterWh: number): string {
  const report: DeviceReport = {
    deviceId: id,
    at,
    airC: 19 + Math.random() * 2,
    setpointC: 20,
    bodyC: 40 + Math.random() * 10,
    outdoorC: 4,
    powerW: 480,
    computeW: 430,
    fillerW: 0,
    boosterW: 50,
    busyBoards: 2,
    level: 7,
    meterWh,
  };
  return JSON.stringify(report);
}

/**
 * Checks at start that what the generator writes is what the protocol says: the telemetry valid for its schema and
 * the hand-built PUBLISH read back by mqtt-packet as the same topic, payload and QoS.
 * @throws when either is not
 */
function checkGenerator(id: string): void {
  const json = telemetryJson(id, Date.now(), 1234.5);
  const payload = encodePayload('telemetry', JSON.parse(json) as DeviceReport);
  const topic = deviceTopic(id, 'telemetry');
  for (const body of [json, json + ' '.repeat(200)]) {
    const bytes = Buffer.from(publishQos0(topicField(topic), body), 'latin1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const got: mqttPacket.Packet[] = [];
    parser.on('packet', (p) => got.push(p));
    parser.on('error', (e) => {
      throw e;
    });
    parser.parse(bytes);
    const p = got[0] as mqttPacket.IPublishPacket | undefined;
    if (got.length !== 1 || p?.cmd !== 'publish' || p.topic !== topic || p.qos !== 0 || p.retain || Buffer.compare(p.payload as Buffer, Buffer.from(body)) !== 0) {
      throw new Error(`generator: PUBLISH does not parse back (${JSON.stringify(got)})`);
    }
  }
  if (payload.toString() !== json) throw new Error('generator: telemetry changed by encodePayload');
}

/**
 * Many devices in one process, each with its own socket and the real protocol, but none of a general-purpose
 * client's per-message machinery (10,000 mqtt.js clients took most of a core): CONNECT with the device's enrolled
 * secret, a persistent session and its offline last will (retained, QoS 1), SUBSCRIBE to its commands, its retained
 * online state at QoS 1 — each step waits for the broker's CONNACK, SUBACK or PUBACK and fails on a refusal. Then
 * telemetry at the agent's QoS (0), PINGREQ when idle for half the keepalive, PUBACK for any command the broker
 * sends. Everything the broker sends is read by mqtt-packet's parser; telemetry PUBLISH packets are written directly
 * (checkGenerator).
 */
function devices(): void {
  interface Dev {
    id: string;
    secret: string;
    /** The telemetry topic as a PUBLISH carries it. */
    topic: string;
    socket: Socket | null;
    lastAt: number;
    lastSentMs: number;
    meterWh: number;
  }
  let port = 0;
  let host = '127.0.0.1';
  let concurrency = 200;
  let keepaliveS = 15;
  let devs: Dev[] = [];
  let disconnects = 0;
  let firstError: string | null = null;
  let pinger: NodeJS.Timeout | undefined;
  /** Writes that found the socket's buffer full (the broker not reading). */
  let backpressured = 0;
  const PINGREQ = Buffer.from([0xc0, 0x00]);

  /** One device's life as the agent's transport does it: CONNECT with a will, SUBSCRIBE to its commands, state online. */
  const connectOne = (d: Dev): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = new Socket();
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      let settled = false;
      const fail = (why: string): void => {
        firstError ??= `${d.id}: ${why}`;
        if (settled) return;
        settled = true;
        socket.destroy();
        resolve(false);
      };
      const write = (packet: mqttPacket.Packet): void => {
        d.lastSentMs = performance.now();
        socket.write(mqttPacket.generate(packet, { protocolVersion: 4 }));
      };
      const timer = setTimeout(() => fail('no answer within 60 s'), 60_000);
      parser.on('error', (e: Error) => fail(`protocol error from the broker: ${e.message}`));
      parser.on('packet', (p: mqttPacket.Packet) => {
        switch (p.cmd) {
          case 'connack':
            if (p.returnCode !== 0) return fail(`CONNACK ${p.returnCode}`);
            write({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: deviceTopic(d.id, 'commands'), qos: 1 }] });
            return;
          case 'suback':
            if (p.granted[0] !== 1 && p.granted[0] !== 0) return fail(`SUBACK ${JSON.stringify(p.granted[0])}`);
            write({
              cmd: 'publish',
              messageId: 2,
              topic: deviceTopic(d.id, 'state'),
              payload: encodePayload('state', { status: 'online', agentVersion: 'bench', at: Date.now() }),
              qos: CHANNEL_QOS.state,
              retain: CHANNEL_RETAIN.state,
              dup: false,
            });
            return;
          case 'puback':
            if (p.messageId === 2 && !settled) {
              settled = true;
              clearTimeout(timer);
              d.socket = socket;
              resolve(true);
            }
            return;
          case 'publish':
            // A command (or anything else the broker routes to the device): acknowledged as the agent does.
            if (p.qos === 1 && p.messageId !== undefined) write({ cmd: 'puback', messageId: p.messageId });
            return;
          case 'pingresp':
            return;
          // What a broker never sends a client.
          case 'auth':
          case 'connect':
          case 'disconnect':
          case 'pingreq':
          case 'pubcomp':
          case 'pubrec':
          case 'pubrel':
          case 'subscribe':
          case 'unsuback':
          case 'unsubscribe':
            return fail(`unexpected ${p.cmd} from the broker`);
        }
      });
      socket.on('data', (chunk: Buffer) => parser.parse(chunk));
      socket.on('error', (e) => fail(e.message));
      socket.on('close', () => {
        clearTimeout(timer);
        if (settled && d.socket === socket) {
          disconnects++;
          d.socket = null;
        } else if (!settled) fail('closed before it was up');
      });
      socket.setNoDelay(true);
      socket.connect(port, host, () => {
        write({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: d.id,
          username: d.id,
          password: Buffer.from(d.secret),
          clean: false,
          keepalive: keepaliveS,
          will: { topic: deviceTopic(d.id, 'state'), payload: encodePayload('state', { status: 'offline', agentVersion: 'bench' }), qos: 1, retain: true },
        });
      });
    });

  const handlers: { [K in ToDevices['type']]: (m: Extract<ToDevices, { type: K }>) => Promise<void> | void } = {
    init: (m) => {
      const u = new URL(m.url);
      host = u.hostname;
      port = Number(u.port || 1883);
      concurrency = m.concurrency;
      keepaliveS = m.keepaliveS;
      devs = m.devices.map((c) => ({ id: c.id, secret: c.secret, topic: topicField(deviceTopic(c.id, 'telemetry')), socket: null, lastAt: 0, lastSentMs: 0, meterWh: 1000 * Math.random() }));
      if (devs.length > 0) checkGenerator(devs[0].id);
      // Keepalive: a device that sent nothing for half its keepalive pings (the broker drops it after 1.5 ×).
      pinger = setInterval(
        () => {
          const now = performance.now();
          for (const d of devs) {
            if (d.socket !== null && now - d.lastSentMs > (keepaliveS * 1000) / 2) {
              d.lastSentMs = now;
              d.socket.write(PINGREQ);
            }
          }
        },
        (keepaliveS * 1000) / 4,
      );
      send<FromDevices>({ type: 'init' });
    },
    connect: async () => {
      const t0 = performance.now();
      let next = 0;
      let connected = 0;
      let failed = 0;
      const worker = async (): Promise<void> => {
        while (next < devs.length) {
          const d = devs[next++];
          if (await connectOne(d)) connected++;
          else failed++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, devs.length) }, worker));
      send<FromDevices>({ type: 'connected', connected, failed, ms: Math.round(performance.now() - t0), firstError });
    },
    publish: async (m) => {
      const live = devs.filter((d) => d.socket !== null);
      const total = Math.round(m.perS * m.durationS);
      const disconnectsBefore = disconnects;
      let sent = 0;
      let rr = 0;
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const tick = performance.now();
          const due = Math.min(total, Math.floor((m.perS * (tick - t0)) / 1000));
          for (; sent < due && live.length > 0; sent++) {
            const d = live[rr++ % live.length];
            const socket = d.socket;
            if (socket === null) continue;
            const now = Date.now();
            // Strictly increasing per device: the store keys telemetry by (device, time).
            const at = now > d.lastAt ? now : d.lastAt + 1;
            d.lastAt = at;
            d.meterWh += 0.1;
            d.lastSentMs = tick;
            if (!socket.write(publishQos0(d.topic, telemetryJson(d.id, at, d.meterWh)), 'latin1')) backpressured++;
          }
          if (sent >= total || live.length === 0) {
            clearInterval(timer);
            resolve();
          }
        }, 2);
      });
      const ms = performance.now() - t0;
      send<FromDevices>({ type: 'published', count: sent, ms: Math.round(ms), disconnects: disconnects - disconnectsBefore, connected: devs.filter((d) => d.socket !== null).length, backpressured });
    },
    cpu: () => {
      const u = process.cpuUsage();
      send<FromDevices>({ type: 'cpu', us: u.user + u.system });
    },
    end: () => {
      clearInterval(pinger);
      // Dropped without DISCONNECT: each broker publishes the device's offline will, as when a heater loses power.
      for (const d of devs) {
        const s = d.socket;
        d.socket = null;
        s?.destroy();
      }
      send<FromDevices>({ type: 'end' });
      process.disconnect();
    },
  };
  process.on('message', (m: ToDevices) => {
    void Promise.resolve()
      .then(() => (handlers[m.type] as (m: ToDevices) => Promise<void> | void)(m))
      .catch((e: unknown) => {
        console.error(`[devices] ${m.type} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        process.exit(1);
      });
  });
  process.once('disconnect', () => setTimeout(() => process.exit(0), 200).unref());
  send<FromDevices>({ type: 'ready' });
}

// ---------------------------------------------------------------------------------------------------------
// Platform child: submit-to-running on an idle fleet

async function platformChild(): Promise<void> {
  const periodS = Number(process.env.HEARTH_BENCH_PERIOD_S);
  const samples = Number(process.env.HEARTH_BENCH_SAMPLES);
  const agentCount = Number(process.env.HEARTH_BENCH_AGENTS);
  const agentTickS = Number(process.env.HEARTH_BENCH_AGENT_TICK_S);
  const OPERATOR = `hth_bench_${randomBytes(16).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-submit-'));
  const quiet = (): undefined => undefined;
  const platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR }, fleet: { bus: { port: 0 }, periodS, demoRooms: agentCount } });
  const agents: Array<{ agent: Agent; transport: MqttTransport; timer: NodeJS.Timeout }> = [];
  try {
    const broker = platform.fleet!.broker!;
    for (let k = 1; k <= agentCount; k++) {
      const deviceId = `demo-heater-${k}`;
      const { secret } = await enrolDevice(platform.store, deviceId);
      const transport = await MqttTransport.connect({ url: broker.url, deviceId, secret, log: quiet });
      const agent = new Agent({
        deviceId,
        boards: 3,
        coresPerBoard: 4,
        workRoot: join(dir, `agent-${k}`),
        files: new HttpFiles({ baseUrl: platform.url, token: secret }),
        transport,
        clock: Date.now,
        room: new RoomTwin({ spec: 'dwelling-1974-1982', heaterMaxW: 495, initialC: 17 }),
        limits: { setpointC: 20, safetyC: 28 },
        onWarning: quiet,
      });
      const timer = setInterval(() => agent.tick(Date.now()), agentTickS * 1000);
      agents.push({ agent, transport, timer });
    }
    const api = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> => {
      const res = await fetch(platform.url + path, { method, headers: { authorization: token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined, text };
    };
    const customer = (await api('POST', '/hearth/v1/accounts', OPERATOR, { email: 'bench@example.com', credits: 1000 })).json as { token: string };
    // Until every agent's telemetry has reached the loop (online heaters).
    for (let k = 0; k < 200 && (platform.fleet!.loop.snapshot().filter((d) => d.online && d.id.startsWith('demo-heater-')).length < agentCount); k++) await sleep(50);
    const times: number[] = [];
    let failed = 0;
    for (let s = -2; s < samples; s++) {
      // Submissions at a random phase of the loop period (the first two are warm-ups, not counted).
      await sleep(Math.random() * periodS * 1000);
      const t0 = performance.now();
      const created = await api('POST', '/tasks', customer.token, { name: 'submit-to-running', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: 'sleep 0.2' }] });
      if (created.status !== 201) throw new Error(`POST /tasks: ${created.status} ${created.text}`);
      const uuid = (created.json as { uuid: string }).uuid;
      let ran = false;
      for (const deadline = t0 + 30_000; performance.now() < deadline; ) {
        const [inst] = await platform.store.listInstances(SYSTEM, { taskUuid: uuid });
        if (inst && inst.state !== 'queued' && inst.state !== 'dispatched') {
          ran = inst.state === 'running' || inst.state === 'success';
          break;
        }
        await sleep(2);
      }
      const ms = performance.now() - t0;
      if (s >= 0) {
        if (ran) times.push(ms);
        else failed++;
      }
      // The fleet is idle again before the next submission.
      for (let k = 0; k < 600; k++) {
        const t = (await api('GET', `/tasks/${uuid}`, customer.token)).json as { state: string };
        if (['Success', 'Failure', 'Cancelled'].includes(t.state)) break;
        await sleep(50);
      }
    }
    times.sort((a, b) => a - b);
    const result: SubmitResult = {
      periodS,
      agents: agentCount,
      samples: times.length,
      p50Ms: round(quantile(times, 0.5)),
      p99Ms: round(quantile(times, 0.99)),
      maxMs: round(times[times.length - 1] ?? NaN),
      minMs: round(times[0] ?? NaN),
      meanMs: round(times.reduce((a, b) => a + b, 0) / Math.max(1, times.length)),
      failed,
    };
    send<FromPlatform>({ type: 'submit', result });
  } finally {
    for (const a of agents) {
      clearInterval(a.timer);
      await a.agent.close();
      await a.transport.close();
    }
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
    process.disconnect?.();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------------------
// The driver

interface Options {
  devices: number;
  rates: number[];
  stepS: number;
  brokers: Target[];
  generators: number;
  concurrency: number;
  keepaliveS: number;
  drainMs: number;
  periods: number[];
  samples: number;
  agents: number;
  agentTickS: number;
  submit: boolean;
  retries: number;
  storeRows: number;
  cpuProfDir: string | undefined;
  stepProfDir: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '10000' },
      // 22,000: the goal (20,000 ingested) with room for the generator's timing.
      rates: { type: 'string', default: '10000,15000,22000,30000,40000' },
      step: { type: 'string', default: '8' },
      brokers: { type: 'string', default: 'raw,embedded,mosquitto' },
      generators: { type: 'string', default: String(availableParallelism() <= 2 ? 1 : 2) },
      concurrency: { type: 'string', default: '256' },
      keepalive: { type: 'string', default: '15' },
      'drain-ms': { type: 'string', default: '100' },
      periods: { type: 'string', default: '0.5' },
      samples: { type: 'string', default: '40' },
      agents: { type: 'string', default: '3' },
      'agent-tick': { type: 'string', default: '1' },
      'no-submit': { type: 'boolean', default: false },
      retries: { type: 'string', default: '1' },
      'store-rows': { type: 'string', default: '100000' },
      'cpu-prof': { type: 'string' },
      'step-prof': { type: 'string' },
    },
    strict: true,
  });
  const num = (flag: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${flag} must be a number ≥ ${min}, got ${v}`);
    return n;
  };
  const list = (flag: string, v: string, min: number): number[] => v.split(',').filter((s) => s.trim() !== '').map((s) => num(flag, s.trim(), min));
  const brokers = values.brokers.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const b of brokers) if (!(TARGETS as readonly string[]).includes(b)) throw new Error(`--brokers: unknown ${b}; known: ${TARGETS.join(', ')}`);
  return {
    devices: Math.round(num('devices', values.devices, 1)),
    rates: list('rates', values.rates, 1),
    stepS: num('step', values.step, 1),
    brokers: brokers as Target[],
    generators: Math.round(num('generators', values.generators, 1)),
    concurrency: Math.round(num('concurrency', values.concurrency, 1)),
    keepaliveS: Math.round(num('keepalive', values.keepalive, 5)),
    drainMs: num('drain-ms', values['drain-ms'], 10),
    periods: list('periods', values.periods, 0.05),
    samples: Math.round(num('samples', values.samples, 1)),
    agents: Math.round(num('agents', values.agents, 1)),
    agentTickS: num('agent-tick', values['agent-tick'], 0.05),
    submit: !values['no-submit'],
    retries: Math.round(num('retries', values.retries, 0)),
    storeRows: Math.round(num('store-rows', values['store-rows'], 0)),
    cpuProfDir: values['cpu-prof'],
    stepProfDir: values['step-prof'],
  };
}

/** The soft limit on open files of this process (children inherit it). */
function openFileLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m === null ? NaN : m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** CPU time of a process from /proc (user + system), µs; NaN when unreadable. */
function procCpuUs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime), in clock ticks (100 per second on Linux).
    return ((Number(f[11]) + Number(f[12])) / 100) * 1e6;
  } catch {
    return NaN;
  }
}

/**
 * The main thread of a process (its event loop) from /proc/PID/task/PID/schedstat: ns on a CPU and ns runnable but
 * waiting for one. On a shared machine the second says whether a slow step was starved rather than saturated.
 */
function mainThread(pid: number | undefined): { cpuNs: number; waitNs: number } {
  try {
    const [cpu, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return { cpuNs: cpu, waitNs: wait };
  } catch {
    return { cpuNs: NaN, waitNs: NaN };
  }
}

function forkRole<In extends { type: string }, Out extends { type: string }>(role: string, name: string, o: { cpuProfDir?: string; env?: Record<string, string> } = {}): Peer<In, Out> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    // One directory per child: the TypeScript loader's worker thread writes a profile of its own.
    execArgv: [...process.execArgv, ...(o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(o.cpuProfDir, name)] : [])],
    env: { ...process.env, ...o.env, [ROLE_ENV]: role },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Peer<In, Out>(child, name);
}

interface Mosquitto {
  url: string;
  pid: number | undefined;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts mosquitto on a free loopback port with the rendered files; resolves once it accepts connections. */
async function startMosquitto(devicesCreds: Creds[], coordinatorSecret: string): Promise<Mosquitto> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-mosquitto-'));
  // Started as root, mosquitto would switch to its own user, who cannot read these 0600 files: stay as we are.
  const files = renderMosquittoFiles(
    { devices: devicesCreds.map((d) => ({ deviceId: d.id, secret: d.secret })), coordinatorSecret },
    { port, passwordFile: join(dir, 'passwd'), aclFile: join(dir, 'acl'), user: userInfo().username },
  );
  // The connection log lines (two per device) would only fill the pipe.
  const conf = files.conf.replace('connection_messages true', 'connection_messages false');
  writeFileSync(join(dir, 'passwd'), files.passwords, { mode: 0o600 });
  writeFileSync(join(dir, 'acl'), files.acl, { mode: 0o600 });
  writeFileSync(join(dir, 'mosquitto.conf'), conf, { mode: 0o600 });
  const child = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    if (out.length < 20_000) out += d.toString();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let k = 0; ; k++) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`mosquitto exited: ${out}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) break;
    if (k > 500) {
      await stop();
      throw new Error(`mosquitto does not listen on ${port}: ${out}`);
    }
    await sleep(10);
  }
  return { url: `mqtt://127.0.0.1:${port}`, pid: child.pid, output: () => out, stop };
}

async function drive(): Promise<void> {
  const o = options();
  const emit = (x: Record<string, unknown>): void => console.log(JSON.stringify({ bench: 'devices', ...x }));
  const note = (line: string): void => console.error(`[bench devices] ${line}`);
  const fdLimit = openFileLimit();
  // Each side holds one socket per device (the coordinator or mosquitto all of them, each device process its share).
  const fdNeeded = o.devices + 512;
  if (fdLimit < fdNeeded) throw new Error(`open-file limit ${fdLimit} < ${fdNeeded} needed for ${o.devices} devices: raise it (ulimit -n ${Math.max(65536, fdNeeded)}) and run again`);
  const cores = availableParallelism();
  if (o.stepProfDir !== undefined) mkdirSync(o.stepProfDir, { recursive: true });
  const loadStart = round(loadavg()[0], 2);
  const summary: Record<string, unknown> = {};
  let met = 0;
  let goals = 0;
  const goal = (ok: boolean): boolean => {
    goals++;
    if (ok) met++;
    return ok;
  };

  const coord = forkRole<ToCoordinator, FromCoordinator>('coordinator', 'coordinator', { cpuProfDir: o.cpuProfDir });
  try {
    await coord.next('ready');
    let enrolled: Extract<FromCoordinator, { type: 'enrolled' }> = { type: 'enrolled', devices: [], ms: 0 };
    if (o.brokers.length > 0) {
      note(`enrolling ${o.devices} devices…`);
      enrolled = await coord.ask({ type: 'enrol', count: o.devices }, 'enrolled');
      emit({ figure: 'enrolment', devices: o.devices, ms: enrolled.ms, perS: round(o.devices / (enrolled.ms / 1000)) });
    }

    if (o.storeRows > 0) {
      const sb = await coord.ask({ type: 'store-bench', rows: o.storeRows }, 'store-bench');
      summary.storeRowsPerS = sb.rowsPerS;
      emit({ figure: 'store-telemetry', rows: sb.rows, batch: TELEMETRY_BATCH, rowsPerS: sb.rowsPerS, note: 'appendTelemetry alone (SQLite, WAL), the ceiling of any ingest below' });
    }

    const perBroker: Record<string, unknown> = {};
    let rawSustained = NaN;
    const rawCpuByRate = new Map<number, number>();
    for (const target of o.brokers) {
      let mosq: Mosquitto | undefined;
      const coordinatorSecret = randomBytes(24).toString('base64url');
      if (target === 'mosquitto') {
        if (!existsSync(MOSQUITTO)) {
          emit({ figure: 'skipped', target, reason: `${MOSQUITTO} not installed (apt-get install mosquitto)` });
          continue;
        }
        mosq = await startMosquitto(enrolled.devices, coordinatorSecret);
      }
      const gens: Array<Peer<ToDevices, FromDevices>> = [];
      try {
        const started = await coord.ask({ type: 'start', target, url: mosq?.url, coordinatorSecret, drainMs: o.drainMs }, 'started');
        for (let g = 0; g < o.generators; g++) gens.push(forkRole<ToDevices, FromDevices>('devices', `devices-${g}`));
        await Promise.all(gens.map((p) => p.next('ready')));
        const share = (g: number): Creds[] => enrolled.devices.filter((_, k) => k % o.generators === g);
        await Promise.all(gens.map((p, g) => p.ask({ type: 'init', url: started.url, devices: share(g), concurrency: Math.ceil(o.concurrency / o.generators), keepaliveS: o.keepaliveS }, 'init')));

        // Ramp: every device connects, subscribes to its commands and announces itself online.
        note(`${target}: connecting ${o.devices} devices…`);
        const t0 = performance.now();
        const conns = await Promise.all(gens.map((p) => p.ask({ type: 'connect' }, 'connected')));
        const rampMs = performance.now() - t0;
        const connected = conns.reduce((n, c) => n + c.connected, 0);
        const failed = conns.reduce((n, c) => n + c.failed, 0);
        // The coordinator sees them online (their retained state through the broker).
        let online = await coord.ask({ type: 'online' }, 'online');
        for (let k = 0; k < 100 && online.online < connected; k++) {
          await sleep(100);
          online = await coord.ask({ type: 'online' }, 'online');
        }
        const baseline = target === 'raw' || target === 'aedes-default';
        const ok = baseline ? null : goal(online.online >= 10_000 && online.online === o.devices);
        emit({
          target,
          figure: 'connected-devices',
          target_devices: o.devices,
          connected,
          failed,
          onlineAtCoordinator: online.online,
          brokerClients: online.brokerClients,
          rampS: round(rampMs / 1000, 2),
          connectsPerS: round(connected / (rampMs / 1000)),
          firstError: conns.find((c) => c.firstError !== null)?.firstError ?? null,
          goal: baseline ? null : '10,000 connected devices',
          met: ok,
        });

        // Telemetry steps.
        const steps: Array<Record<string, unknown>> = [];
        // The highest ingest rate of a sustained step, its offered rate and p99.
        let sustained = 0;
        let sustainedOffered = 0;
        let sustainedP99: number | null = null;
        // A step that is not sustained runs again (up to --retries times): on a shared machine one unlucky window
        // (the coordinator waiting for a CPU) says little.
        for (let k = 0, attempt = 0; k < o.rates.length; ) {
          const rate = o.rates[k];
          await coord.ask({ type: 'reset', profile: o.stepProfDir === undefined ? undefined : join(o.stepProfDir, `${target}-${rate}-${attempt + 1}.cpuprofile`) }, 'reset');
          const cpuC0 = (await coord.ask({ type: 'cpu' }, 'cpu')).us;
          const cpuG0 = (await Promise.all(gens.map((p) => p.ask({ type: 'cpu' }, 'cpu')))).reduce((a, c) => a + c.us, 0);
          const cpuM0 = procCpuUs(mosq?.pid);
          const loop0 = mainThread(coord.child.pid);
          const wall0 = performance.now();
          const pubs = await Promise.all(gens.map((p) => p.ask({ type: 'publish', perS: rate / o.generators, durationS: o.stepS }, 'published')));
          const settled = await coord.ask({ type: 'settle' }, 'settled');
          const cpuC = (await coord.ask({ type: 'cpu' }, 'cpu')).us - cpuC0;
          const cpuG = (await Promise.all(gens.map((p) => p.ask({ type: 'cpu' }, 'cpu')))).reduce((a, c) => a + c.us, 0) - cpuG0;
          const cpuM = procCpuUs(mosq?.pid) - cpuM0;
          const loop1 = mainThread(coord.child.pid);
          const wallNs = (performance.now() - wall0) * 1e6;
          const s = (await coord.ask({ type: 'stats' }, 'stats')).stats;
          const published = pubs.reduce((n, p) => n + p.count, 0);
          const pubMs = Math.max(...pubs.map((p) => p.ms));
          const offeredPerS = published / (pubMs / 1000);
          // From the first publish to the last store, less one drain period (the wait the design puts on the last).
          const spanS = Math.max(pubMs, s.lastStoredMs - s.firstAtMs - o.drainMs) / 1000;
          const ingestedPerS = s.stored / spanS;
          const lost = published - s.stored;
          const isSustained = s.stored >= 0.99 * published && ingestedPerS >= 0.95 * offeredPerS;
          if (isSustained && ingestedPerS > sustained) {
            sustained = ingestedPerS;
            sustainedOffered = offeredPerS;
            sustainedP99 = s.drainP99Ms;
          }
          const wallS = spanS + settled.waitedMs / 1000;
          const line = {
            target,
            figure: 'telemetry',
            devices: online.online,
            offeredPerS: round(offeredPerS),
            published,
            received: s.received,
            stored: s.stored,
            lost,
            ingestedPerS: round(ingestedPerS),
            ingestP50Ms: s.drainP50Ms,
            ingestP99Ms: s.drainP99Ms,
            ingestMaxMs: s.drainMaxMs,
            storedP99Ms: s.storedP99Ms,
            drainMs: o.drainMs,
            linkOverflow: s.overflow,
            refusedPayloads: s.refusedPayload,
            disconnects: pubs.reduce((n, p) => n + p.disconnects, 0),
            generatorBackpressured: pubs.reduce((n, p) => n + p.backpressured, 0),
            stillConnected: pubs.reduce((n, p) => n + p.connected, 0),
            sustained: isSustained,
            attempt: attempt + 1,
            coordinatorCores: round(cpuC / 1e6 / wallS, 2),
            // The coordinator's event loop over the step (publishing and settling): share of the time on a CPU, and
            // waiting for one (busy + starved ≈ 1: it wanted a whole core).
            coordinatorLoopBusy: round((loop1.cpuNs - loop0.cpuNs) / wallNs, 2),
            coordinatorLoopStarved: round((loop1.waitNs - loop0.waitNs) / wallNs, 2),
            devicesCores: round(cpuG / 1e6 / wallS, 2),
            ...(mosq ? { mosquittoCores: round(cpuM / 1e6 / wallS, 2) } : {}),
            coordinatorCpuUsPerMessage: round(cpuC / Math.max(1, s.stored), 1),
            loadAvg1m: round(loadavg()[0], 2),
            // The coordinator's CPU per stored message over raw aedes' at the same offered rate: steadier than
            // throughput on a shared machine (for mosquitto, the coordinator holds only the link and the store).
            cpuOverRaw: rawCpuByRate.has(rate) ? round(cpuC / Math.max(1, s.stored) / rawCpuByRate.get(rate)!, 2) : null,
          };
          if (target === 'raw') rawCpuByRate.set(rate, cpuC / Math.max(1, s.stored));
          steps.push(line);
          emit(line);
          if (isSustained) {
            k++;
            attempt = 0;
          } else if (attempt++ >= o.retries) break;
        }
        const telemetryOk = baseline ? null : goal(sustained >= 20_000);
        if (target === 'raw') rawSustained = sustained;
        const line = {
          target,
          figure: 'telemetry-sustained',
          devices: online.online,
          sustainedPerS: round(sustained),
          offeredPerS: round(sustainedOffered),
          ingestP99Ms: sustainedP99,
          drainMs: o.drainMs,
          ratioToRaw: round(sustained / rawSustained, 3),
          goal: baseline ? null : '≥ 20,000 telemetry messages/s ingested',
          met: telemetryOk,
        };
        emit(line);
        perBroker[target] = { connected: online.online, sustainedPerS: round(sustained), offeredPerS: round(sustainedOffered), ingestP99Ms: sustainedP99, rampS: round(rampMs / 1000, 2) };
      } catch (e) {
        // A crash is a figure too (aedes-default dies of a stack overflow when 10,000 devices leave at once).
        emit({ target, figure: 'error', message: e instanceof Error ? e.message : String(e) });
        perBroker[target] = { error: e instanceof Error ? e.message : String(e) };
      } finally {
        await Promise.all(gens.map((p) => p.ask({ type: 'end' }, 'end').catch(() => undefined)));
        await Promise.all(gens.map((p) => p.exited()));
        try {
          const stopped = await coord.ask({ type: 'stop-target' }, 'stopped');
          if (stopped.counters) note(`${target}: counters ${JSON.stringify(stopped.counters)}`);
        } catch (e) {
          emit({ target, figure: 'error', message: `stopping: ${e instanceof Error ? e.message : String(e)}` });
          perBroker[target] = { ...(perBroker[target] as object), crashedOnStop: true };
        }
        await mosq?.stop();
      }
      if (coord.child.exitCode !== null || coord.child.signalCode !== null) {
        note('the coordinator died: no further target can run');
        break;
      }
    }
    summary.brokers = perBroker;
  } finally {
    await coord.ask({ type: 'quit' }, 'quit').catch(() => undefined);
    await coord.exited();
  }

  if (o.submit) {
    const submit: SubmitResult[] = [];
    for (const periodS of o.periods) {
      note(`submit-to-running: loop period ${periodS} s, ${o.samples} samples…`);
      const p = forkRole<never, FromPlatform>('platform', `platform-${periodS}`, {
        cpuProfDir: o.cpuProfDir,
        env: { HEARTH_BENCH_PERIOD_S: String(periodS), HEARTH_BENCH_SAMPLES: String(o.samples), HEARTH_BENCH_AGENTS: String(o.agents), HEARTH_BENCH_AGENT_TICK_S: String(o.agentTickS) },
      });
      const r = (await p.next('submit')).result;
      await p.exited();
      const ok = goal(r.p99Ms < 2000 && r.failed === 0);
      submit.push(r);
      emit({ figure: 'submit-to-running', ...r, agentTickS: o.agentTickS, p99OverPeriod: round(r.p99Ms / (periodS * 1000), 2), goal: 'p99 < 2 s', met: ok });
    }
    summary.submitToRunning = submit.map((r) => ({ periodS: r.periodS, p50Ms: r.p50Ms, p99Ms: r.p99Ms }));
  }
  emit({
    figure: 'summary',
    cores: cores,
    node: process.version,
    devices: o.devices,
    generators: o.generators,
    drainMs: o.drainMs,
    stepS: o.stepS,
    openFileLimit: fdLimit,
    loadAvg1m: { start: loadStart, end: round(loadavg()[0], 2) },
    ...summary,
    goalsMet: `${met}/${goals}`,
  });
}

const role = process.env[ROLE_ENV];
if (role === 'coordinator') await coordinator();
else if (role === 'devices') devices();
else if (role === 'platform') await platformChild();
else await drive();
