// The device's brain: runs the coordinator's assignments as sandboxed processes (inputs through a local cache,
// results uploaded, output streamed), follows its power settings, keeps the room safe and comfortable on its own
// (local thermostat), accounts energy per attempt from measured CPU, and reports through an on-disk outbox so
// nothing is lost while the coordinator is unreachable. Transport-agnostic (MQTT or in-memory) and clock-injected:
// the owner calls tick(nowMs) every period.
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { BoardState, boardPowerW } from '../physics/board.ts';
import { createHeaterModel, type HeaterModel, type HeaterParams } from '../physics/heater.ts';
import type { Assignment, AttemptRef, DeviceCommand, DeviceReport, InstanceReport } from '../protocol/device.ts';
import { InputCache, InputSizeError, type InputRef } from './input-cache.ts';
import { Outbox } from './outbox.ts';
import type { RoomTwin } from './room-twin.ts';
import { expandCommand, sandboxCapabilities, startProcess, type RunHandle } from './runner.ts';
import { levelShare, powerFollowing } from './throttle.ts';
import { collectResults, createWorkDir, removeWorkDir, snapshotFiles, stageFile, type FileStamp } from './workdir.ts';
import { packCheckpoint, unpackCheckpoint } from './checkpoint.ts';
import { cleanStaleContainers, containerRuntime, containerRuntimeWhy, startContainer } from './container.ts';

// ---------------------------------------------------------------------------------------------------------------
// Seams

/** What the agent publishes: device telemetry or an instance report. */
export type ReportKind = 'telemetry' | 'instances';

/** The link to the coordinator (MQTT in production, in-memory in tests). */
export interface AgentTransport {
  /** True while reports can be delivered. */
  readonly connected: boolean;
  /**
   * Sends one report. Resolves when the coordinator's side acknowledged it (MQTT: PUBACK; QoS 0: written to the
   * socket); rejects when it was not delivered (the agent keeps it and sends it again later). Reject with an
   * {@link UndeliverableError} for a payload that can never be delivered (the agent then drops it). Must settle in
   * bounded time (a publish that never settles holds the replay, and close(), forever). Called in outbox order;
   * up to `publishWindow` calls may be in flight, and the transport must deliver them in call order.
   */
  publish(kind: ReportKind, payload: DeviceReport | InstanceReport): Promise<void>;
  /** Registers the receiver of the coordinator's commands (already validated against protocol/device.ts). */
  onCommand(fn: (command: DeviceCommand) => void): void;
  /** Registers the receiver of connection changes (true: connected again; the agent replays its outbox). */
  onConnectionChange(fn: (connected: boolean) => void): void;
}

/** A publish failure that retrying cannot fix (e.g. a payload over the bus's size limit): the report is dropped. */
export class UndeliverableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndeliverableError';
  }
}

/** How the agent reads an attempt's inputs and writes its results (HTTP to the coordinator, or in-memory in tests). */
export interface AgentFiles {
  /** The attempt's input objects (every object of the task's resource buckets). */
  listInputs(assignment: Assignment): Promise<InputRef[]>;
  /** The bytes of one input object, as listed. */
  download(assignment: Assignment, input: InputRef): Promise<Readable | NodeJS.ReadableStream>;
  /** Stores one result file under `key` in the task's result bucket (`size` bytes). */
  upload(assignment: Assignment, key: string, body: Readable, size: number): Promise<void>;
  /** Stores one snapshot file in `bucket` (absent: snapshots only reach the result bucket, through `upload`). */
  uploadSnapshot?(assignment: Assignment, bucket: string, key: string, body: Readable, size: number): Promise<void>;
  /** Stores the attempt's checkpoint archive (`size` bytes) on the coordinator (absent: this device cannot checkpoint). */
  uploadCheckpoint?(assignment: Assignment, body: Readable, size: number): Promise<void>;
  /**
   * The checkpoint archive of an earlier attempt (`assignment.restore.attempt`) of the same instance. Rejects with a
   * retryable {@link AgentFilesError} while it has not arrived yet, a non-retryable one when it never will.
   */
  downloadCheckpoint?(assignment: Assignment, fromAttempt: number): Promise<Readable | NodeJS.ReadableStream>;
}

/**
 * An error of an {@link AgentFiles} call. `retryable`: the coordinator could not be reached or answered 5xx/429
 * (the agent waits and tries again); otherwise the request itself was refused (404: the attempt is no longer
 * this device's) and the attempt fails.
 */
export class AgentFilesError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'AgentFilesError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Options

/** Construction of an {@link Agent}. */
export interface AgentOptions {
  deviceId: string;
  /** Boards of the heater or boiler (1–32). */
  boards: number;
  /** Cores of one board (an instance's utilisation is its CPU time over min(cores asked, this)). */
  coresPerBoard: number;
  /**
   * Memory of one board, MiB: an instance may use that much (its whole process group; a cgroup limit where this
   * machine allows one, runner.ts). Default: this machine's memory shared by the boards.
   */
  memoryPerBoardMB?: number;
  /** The agent's own directory: runs/ (working directories), cache/ (inputs), outbox/ (reports). */
  workRoot: string;
  files: AgentFiles;
  transport: AgentTransport;
  /** Now, ms since the epoch (report times, retry delays). tick() must be given times of the same clock. */
  clock: () => number;
  /** Hardware in the loop: the simulated room (or tank) this device heats. Without it and without `sensor`, the local thermostat is inert. */
  room?: RoomTwin;
  /** A real room sensor (°C), read every tick, when there is no room twin. */
  sensor?: () => { airC: number; bodyC: number };
  /** setpointC: comfort target (°C; the coordinator's setpoint command replaces it); safetyC: pause everything above it (°C). */
  limits: { setpointC: number; safetyC: number };
  /** Heater parameters (physics/heater.ts) beyond the board count: board power model, booster W. */
  heater?: Partial<Omit<HeaterParams, 'boards'>>;
  /** Outdoor temperature at a time (°C) for the room twin; default a constant 5 °C. */
  outdoorC?: (ms: number) => number;
  /**
   * How filler heat is made. 'accounted' (default with a room twin): the filler boards are booked at full board
   * power without burning CPU (the twin is heated by the booked power). 'process' (default without a twin: real
   * hardware): one busy-loop process per filler board, whose measured CPU gives its power.
   */
  fillerMode?: 'accounted' | 'process';
  /**
   * Run docker-batch instances (DOCKER_REPO set) in their image when this node has a working container runtime
   * (container.ts: podman or docker, HEARTH_CONTAINER_RUNTIME); otherwise, and by default, DOCKER_CMD runs in the
   * node's sandbox. Opt-in: a runtime that answers `info` may still be unable to start a container here.
   */
  containers?: boolean;
  /** Sandbox of instances (runner.ts): 'auto' (bubblewrap when it works here) or 'none'. Default 'auto'. */
  isolation?: 'auto' | 'none';
  /**
   * How instances and filler loops are held to the power level (runner.ts setCpuShare): 'auto' (a cgroup CPU quota
   * when this machine allows one, else a SIGSTOP/SIGCONT duty cycle) or 'signals' (always the duty cycle).
   */
  throttle?: 'auto' | 'signals';
  /** SIGTERM → SIGKILL grace of a checkpointing kill that names none, s. Default 10. */
  checkpointGraceS?: number;
  /** Give up uploading a checkpoint after retrying this long, ms (the coordinator restarts the instance from zero). Default 5 min. */
  checkpointUploadForMs?: number;
  /** Reports in flight at once while replaying (the transport keeps publish order). Default 16. */
  publishWindow?: number;
  /** Give up an input download or result upload after retrying this long, ms. Default 24 h. */
  retryForMs?: number;
  /** Cache size, bytes. Default 10 GiB. */
  cacheBytes?: number;
  /** Output kept per attempt, characters per stream (beyond it output is dropped with a note). Default 64 Mi. */
  maxOutputChars?: number;
  /** Told about what went wrong and was survived. */
  onWarning?: (message: string) => void;
}

/** Characters of stdout (and of stderr) per instance report: keeps every report far below the bus's 256 KiB limit. */
export const OUTPUT_CHUNK_CHARS = 16 * 1024;
/** The local thermostat's band around the setpoint, K: filler from setpoint − 0.5 until setpoint + 0.5. */
export const COMFORT_BAND_K = 0.5;
/** Paused instances resume once the room is this far below the safety limit, K. */
export const SAFETY_HYSTERESIS_K = 1;
const FINISHED_REMEMBERED = 4096;
/**
 * After a reconnection, instance reports acknowledged up to this long before the link dropped are sent again, ms.
 * The bus acknowledges a report once the broker has it, not once the coordinator has applied it (the live loop
 * drains its link once a period); a coordinator (with its embedded broker) that dies in between loses what it had
 * not applied. The coordinator applies each (attempt, seq) once, so a report that did arrive counts once.
 */
export const RESEND_WINDOW_MS = 120_000;
/** Most reports (and characters of output) kept for sending again. */
const RESEND_MAX_REPORTS = 4096;
const RESEND_MAX_CHARS = 8 * 1024 * 1024;

class KilledError extends Error {
  constructor() {
    super('killed');
  }
}

/** One attempt on this device. */
interface Run {
  a: Assignment;
  key: string;
  workDir: string | null;
  handle: RunHandle | null;
  /** Paused by a pause command / by the local safety limit. */
  byCoordinator: boolean;
  bySafety: boolean;
  /** The state last reported ('running' from the first report on). */
  reported: 'running' | 'paused' | null;
  killed: boolean;
  /** The process has ended (no more pause/resume reports). */
  exited: boolean;
  seq: number;
  stdout: string;
  stderr: string;
  outChars: { stdout: number; stderr: number };
  /** stdout since the last newline (progress regexes read whole lines). */
  partialLine: string;
  progress: number | undefined;
  progressRes: RegExp[];
  /** Usage since the last report. */
  energyWh: number;
  wallS: number;
  /** CPU seconds already reported / already accounted into energy. */
  cpuReportedS: number;
  lastCpuS: number;
  /** Energy and wall time are accounted up to this time, ms. */
  accruedMs: number;
  /** CPU share the attempt is held to now (throttle.ts levelShare of the level), and share × seconds since the last report. */
  share: number;
  shareS: number;
  /** Wakes a retry wait early (kill, reconnection). */
  wake: (() => void) | null;
  /** Stopping for a move (a kill with `checkpoint`): the working directory is uploaded once the process exits. */
  checkpointing: boolean;
  /** Waiting for or unpacking the checkpoint to restore (that time is not the attempt's: not accounted). */
  restoring: boolean;
  /** What became of the restore (shown in the attempt's info). */
  restoreInfo: Record<string, string | number>;
}

interface FillerProc {
  handle: RunHandle;
  lastCpuS: number;
}

const attemptKey = (r: AttemptRef): string => `${r.taskUuid}/${r.instanceId}/${r.attempt}`;

// ---------------------------------------------------------------------------------------------------------------

/**
 * See the file comment. Construction opens the outbox under `workRoot/outbox` (replaying what a previous run of the
 * agent left there once the transport is connected), kills processes a crashed predecessor left in
 * `workRoot/runs` and empties that directory.
 */
export class Agent {
  readonly deviceId: string;
  private readonly o: AgentOptions;
  private readonly model: HeaterModel;
  /** What one instance may use, MiB (AgentOptions.memoryPerBoardMB). */
  private readonly memoryPerBoardMB: number;
  private readonly clock: () => number;
  private readonly transport: AgentTransport;
  private readonly files: AgentFiles;
  private readonly outbox: Outbox;
  private readonly cache: InputCache;
  private readonly runsDir: string;
  private readonly warn: (m: string) => void;
  private readonly runs = new Map<string, Run>();
  private readonly finished = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private readonly sleepers = new Set<{ dueMs: number; resolve: () => void }>();
  private readonly fillerProcs = new Map<number, FillerProc>();
  private readonly fillerMode: 'accounted' | 'process';
  private readonly window: number;
  private readonly retryForMs: number;
  private readonly maxOutputChars: number;

  // Power settings from the coordinator.
  private level: number;
  private booster = 0;
  private coordinatorFiller: boolean[] = [];
  private resistiveW: number | null = null;
  private setpointC: number;
  private readonly safetyC: number;

  // Local thermostat.
  private safetyTripped = false;
  private localFiller = false;
  private airC: number;
  private bodyC: number;
  /** A room twin or a sensor says the temperature; without either the local thermostat is inert. */
  private readonly senses: boolean;

  // Accounting.
  private lastTickMs: number | null = null;
  private meterWh = 0;
  /** Energy of the instances accrued since the last tick, Wh (a run that ended mid-period counts too). */
  private intervalComputeWh = 0;
  private last = { powerW: 0, computeW: 0, fillerW: 0, boosterW: 0 };

  private pumping: Promise<void> | null = null;
  /** Instance reports acknowledged lately, oldest first (see {@link RESEND_WINDOW_MS}), and their output size. */
  private recentAcked: Array<{ ackedMs: number; chars: number; payload: InstanceReport }> = [];
  private recentChars = 0;
  /** Reports to send again, before the outbox, once connected (with when they were first acknowledged). */
  private resend: Array<{ ackedMs: number; payload: InstanceReport }> = [];
  private closed = false;
  private info: InstanceReport['info'] | null = null;

  constructor(options: AgentOptions) {
    this.o = options;
    this.deviceId = options.deviceId;
    this.clock = options.clock;
    this.transport = options.transport;
    this.files = options.files;
    this.warn = options.onWarning ?? (() => undefined);
    this.model = createHeaterModel({ ...(options.heater ?? {}), boards: options.boards });
    const mem = options.memoryPerBoardMB ?? Math.floor(totalmem() / 1048576 / Math.max(1, options.boards));
    if (!(Number.isFinite(mem) && mem >= 16)) throw new Error(`memoryPerBoardMB must be at least 16 MiB, got ${mem}`);
    this.memoryPerBoardMB = mem;
    this.level = this.model.board.levels - 1;
    this.setpointC = options.limits.setpointC;
    this.safetyC = options.limits.safetyC;
    this.airC = options.room?.airC ?? options.limits.setpointC;
    this.bodyC = options.room?.bodyC ?? options.limits.setpointC;
    this.senses = options.room !== undefined || options.sensor !== undefined;
    this.fillerMode = options.fillerMode ?? (options.room ? 'accounted' : 'process');
    this.window = Math.max(1, options.publishWindow ?? 16);
    this.retryForMs = options.retryForMs ?? 24 * 3600_000;
    this.maxOutputChars = options.maxOutputChars ?? 64 * 1024 * 1024;
    this.runsDir = join(options.workRoot, 'runs');
    this.cache = new InputCache(join(options.workRoot, 'cache'), options.cacheBytes);
    this.outbox = new Outbox(join(options.workRoot, 'outbox'), { onWarning: (m) => this.warn(m) });
    reapOrphans([this.runsDir, join(options.workRoot, 'filler')], this.warn);
    // Containers a crashed agent left behind (named after its pid) are removed, as its processes are.
    if (options.containers && containerRuntime() !== null) {
      void cleanStaleContainers().then(
        (gone) => gone.length > 0 && this.warn(`removed ${gone.length} container(s) a previous agent left: ${gone.join(', ')}`),
        (e: unknown) => this.warn(`stale containers not cleaned: ${(e as Error).message}`),
      );
    }
    this.transport.onCommand((c) => {
      try {
        this.handle(c);
      } catch (e) {
        this.warn(`command ${c.kind} failed: ${(e as Error).message}`);
      }
    });
    this.transport.onConnectionChange((up) => {
      if (!up) {
        this.linkDropped();
        return;
      }
      // Reconnected: wake transfers waiting to retry, send again what the coordinator may have missed, replay the outbox.
      for (const s of this.sleepers) s.resolve();
      this.pump();
    });
    if (this.outbox.size > 0) this.pump();
    this.warn(this.throttleDescription());
  }

  /** How this device holds its power level, one line (said once at start, and in each attempt's info). */
  private throttleDescription(): string {
    return this.o.throttle === 'signals' ? 'power following: duty cycle SIGSTOP/SIGCONT of the process group, 100 ms period (forced)' : powerFollowing().description;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Commands

  /** Applies one command of the coordinator. Unknown attempts are ignored (a late pause/kill of an attempt that ended). */
  handle(command: DeviceCommand): void {
    if (this.closed) return;
    switch (command.kind) {
      case 'start': {
        const a = command.assignment;
        const key = attemptKey(a);
        // At-least-once delivery: a start seen before is not run twice.
        if (this.runs.has(key) || this.finished.has(key)) return;
        const now = this.clock();
        const run: Run = {
          a,
          key,
          workDir: null,
          handle: null,
          byCoordinator: false,
          bySafety: this.safetyTripped,
          reported: null,
          killed: false,
          exited: false,
          seq: 0,
          stdout: '',
          stderr: '',
          outChars: { stdout: 0, stderr: 0 },
          partialLine: '',
          progress: undefined,
          progressRes: compileProgress(a.progressRegexes),
          energyWh: 0,
          wallS: 0,
          cpuReportedS: 0,
          lastCpuS: 0,
          accruedMs: now,
          share: levelShare(this.model.board, this.level),
          shareS: 0,
          wake: null,
          checkpointing: false,
          restoring: false,
          restoreInfo: {},
        };
        this.runs.set(key, run);
        this.stopFiller(a.boardIndex);
        this.track(this.execute(run));
        return;
      }
      case 'pause':
      case 'resume': {
        const run = this.runs.get(attemptKey(command.ref));
        if (!run) return;
        run.byCoordinator = command.kind === 'pause';
        this.applyPause(run);
        return;
      }
      case 'kill': {
        const run = this.runs.get(attemptKey(command.ref));
        if (!command.checkpoint) {
          if (run) this.killRun(run);
          return;
        }
        // Unknown (long over): nothing to say; the coordinator's wait for the checkpoint ends by its own timeout.
        if (!run || run.checkpointing || run.killed) return;
        this.accrue(run, this.clock());
        run.checkpointing = true;
        if (!run.handle || run.exited) {
          // Still staging its inputs, or its process already over: no state to save (execute's end reports so).
          this.killRun(run);
          return;
        }
        run.byCoordinator = false;
        run.bySafety = false;
        run.handle.terminate((command.checkpoint.graceS ?? this.o.checkpointGraceS ?? 10) * 1000);
        return;
      }
      case 'snapshot': {
        const run = this.runs.get(attemptKey(command.ref));
        if (!run?.workDir || !run.handle) return;
        const c = command;
        this.track(
          this.snapshot(run, c.bucket, c.prefix, { whitelist: c.whitelist, blacklist: c.blacklist }).catch((e: unknown) =>
            this.warn(`snapshot of ${run.key} failed: ${(e as Error).message}`),
          ),
        );
        return;
      }
      case 'power':
        // What ran so far ran at the previous level.
        for (const run of this.runs.values()) this.accrue(run, this.clock());
        this.level = Math.min(command.level, this.model.board.levels - 1);
        this.booster = command.booster;
        this.coordinatorFiller = command.filler.slice(0, this.model.boards);
        this.resistiveW = command.resistiveW;
        this.applyShares();
        return;
      case 'setpoint':
        this.setpointC = command.setpointC;
        return;
      default: {
        const never: never = command;
        this.warn(`unknown command ${JSON.stringify(never)}`);
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // The period

  /**
   * Advances the device to `nowMs` (same clock as `clock`): accounts the power drawn since the previous tick (the
   * instances' boards from their measured CPU, filler, booster) into the meter and the attempts, steps the room
   * twin with it, runs the local thermostat (safety pause/resume, filler when cold and idle), and sends a
   * DeviceReport and an InstanceReport per attempt that used something or printed something.
   */
  tick(nowMs: number): void {
    if (this.closed) return;
    const prev = this.lastTickMs;
    this.lastTickMs = nowMs;
    for (const s of [...this.sleepers]) if (nowMs >= s.dueMs) s.resolve();
    const dtS = prev === null ? 0 : (nowMs - prev) / 1000;
    if (dtS > 0) {
      for (const run of this.runs.values()) this.accrue(run, nowMs);
      const computeW = (this.intervalComputeWh * 3600) / dtS;
      this.intervalComputeWh = 0;
      const fillerW = this.fillerPowerW(dtS);
      const boosterW = this.boosterPowerW();
      const powerW = computeW + fillerW + boosterW;
      this.last = { powerW, computeW, fillerW, boosterW };
      this.meterWh += (powerW * dtS) / 3600;
      if (this.o.room) {
        const t = this.o.room.step(dtS, powerW, this.outdoorC(nowMs));
        this.airC = t.airC;
        this.bodyC = t.bodyC;
      }
    }
    if (!this.o.room && this.o.sensor) {
      try {
        const t = this.o.sensor();
        this.airC = t.airC;
        this.bodyC = t.bodyC;
      } catch (e) {
        this.warn(`room sensor failed: ${(e as Error).message}`);
      }
    }
    this.thermostat();
    if (this.fillerMode === 'process') this.reconcileFillerProcs();
    this.applyShares();
    if (prev !== null) {
      this.emit('telemetry', {
        deviceId: this.deviceId,
        at: nowMs,
        airC: round(this.airC, 3),
        setpointC: this.setpointC,
        bodyC: round(this.bodyC, 3),
        outdoorC: round(this.outdoorC(nowMs), 2),
        powerW: round(this.last.powerW, 2),
        computeW: round(this.last.computeW, 2),
        fillerW: round(this.last.fillerW, 2),
        boosterW: round(this.last.boosterW, 2),
        busyBoards: this.runs.size,
        level: this.level,
        meterWh: round(this.meterWh, 4),
      } satisfies DeviceReport);
    }
    // An attempt's first report is its 'running' state; until then its usage waits.
    for (const run of this.runs.values()) if (run.reported !== null) this.report(run, {}, nowMs);
    this.pump();
  }

  private outdoorC(ms: number): number {
    return this.o.outdoorC ? this.o.outdoorC(ms) : 5;
  }

  /**
   * The local thermostat: above the safety limit every instance is paused (whatever the coordinator says) and no
   * heat beyond idle is made, until the room is SAFETY_HYSTERESIS_K below it; below setpoint − 0.5 K with no work
   * assigned, the free boards run filler until setpoint + 0.5 K.
   */
  private thermostat(): void {
    if (!this.senses) {
      // Nothing to go by: report the setpoint as the room's temperature and leave heat to the coordinator.
      this.airC = this.setpointC;
      this.bodyC = this.setpointC;
      return;
    }
    if (!this.safetyTripped && this.airC > this.safetyC) {
      this.safetyTripped = true;
      this.warn(`room at ${this.airC.toFixed(2)} °C is above the safety limit ${this.safetyC} °C: pausing every instance`);
      for (const run of this.runs.values()) {
        run.bySafety = true;
        this.applyPause(run);
      }
    } else if (this.safetyTripped && this.airC <= this.safetyC - SAFETY_HYSTERESIS_K) {
      this.safetyTripped = false;
      for (const run of this.runs.values()) {
        run.bySafety = false;
        this.applyPause(run);
      }
    }
    if (this.airC < this.setpointC - COMFORT_BAND_K) this.localFiller = true;
    else if (this.airC >= this.setpointC + COMFORT_BAND_K) this.localFiller = false;
  }

  /**
   * Which boards make filler heat now: free boards the coordinator asked to fill (only while connected: a stale
   * order does not outlive the link; the local thermostat takes over), or the free boards when the local thermostat
   * wants heat and either no work is assigned or the coordinator is unreachable (then nobody else heats the room).
   * A board whose attempt's process has ended (its results waiting to upload) is free for filler. Nothing above the
   * safety limit or while a resistive set-point holds.
   */
  private fillerBoards(): boolean[] {
    const out = new Array<boolean>(this.model.boards).fill(false);
    if (this.safetyTripped || (this.resistiveW !== null && this.transport.connected)) return out;
    const busy = new Array<boolean>(this.model.boards).fill(false);
    for (const run of this.runs.values()) if (!run.exited && run.a.boardIndex < this.model.boards) busy[run.a.boardIndex] = true;
    const local = this.localFiller && (this.runs.size === 0 || !this.transport.connected);
    for (let b = 0; b < this.model.boards; b++) {
      out[b] = !busy[b] && (local || (this.transport.connected && this.coordinatorFiller[b] === true));
    }
    return out;
  }

  /**
   * Filler power over the last dtS, W: booked at full board power of the filler level, or measured from the busy
   * loops' CPU (throttled to the level's share, at the top clock: see {@link applyShares}). At the coordinator's
   * level while connected; at the top level while not (a stale level does not outlive the link: the local
   * thermostat needs the heater's full power to keep the room warm on its own).
   */
  private fillerPowerW(dtS: number): number {
    const bm = this.model.board;
    const top = bm.levels - 1;
    if (this.fillerMode === 'accounted') {
      const level = this.transport.connected ? this.level : top;
      const n = this.fillerBoards().filter(Boolean).length;
      return n * boardPowerW(bm, BoardState.active, level, 1);
    }
    let w = 0;
    for (const f of this.fillerProcs.values()) {
      const cpu = f.handle.cpuTimeS();
      const used = Math.max(0, cpu - f.lastCpuS);
      f.lastCpuS = Math.max(f.lastCpuS, cpu);
      w += boardPowerW(bm, BoardState.active, top, Math.min(1, used / dtS));
    }
    return w;
  }

  /** CPU share of the filler loops: the level's while connected, full while not (see {@link fillerPowerW}). */
  private fillerShare(): number {
    return this.transport.connected ? levelShare(this.model.board, this.level) : 1;
  }

  /** Cores an attempt's utilisation (and CPU quota) is counted over. */
  private runCores(run: Run): number {
    return Math.max(1, Math.min(run.a.cores, this.o.coresPerBoard));
  }

  /**
   * Holds every instance and filler loop to the CPU share of the power level (throttle.ts): this hardware runs at
   * its top clock, so level L is the share of full-speed CPU that draws L's power there. An instance's share
   * changes at once (accrued before, so what ran so far counts at the old share); a paused one stays paused.
   */
  private applyShares(): void {
    const share = levelShare(this.model.board, this.level);
    for (const run of this.runs.values()) {
      if (run.share !== share) {
        this.accrue(run, this.clock());
        run.share = share;
      }
      if (run.handle && !run.exited && !run.checkpointing) run.handle.setCpuShare(share, this.runCores(run));
    }
    const fs = this.fillerShare();
    for (const f of this.fillerProcs.values()) f.handle.setCpuShare(fs, 1);
  }

  /** Booster and resistive power, W: off above the safety limit and while disconnected (stale orders). */
  private boosterPowerW(): number {
    if (this.safetyTripped || !this.transport.connected) return 0;
    return this.booster * this.model.boosterW + (this.resistiveW ?? 0);
  }

  /** Process filler: one busy loop per filler board, started and stopped as the filler boards change. */
  private reconcileFillerProcs(): void {
    const want = this.fillerBoards();
    for (let b = 0; b < want.length; b++) {
      const have = this.fillerProcs.get(b);
      if (want[b] && !have) {
        const dir = join(this.o.workRoot, 'filler');
        this.track(
          mkdir(dir, { recursive: true }).then(() => {
            if (this.closed || this.fillerProcs.has(b) || !this.fillerBoards()[b]) return;
            const handle = startProcess({ command: 'while :; do :; done', env: {}, workDir: dir, isolation: 'none', throttle: this.o.throttle }, { stdout: () => undefined, stderr: () => undefined });
            handle.setCpuShare(this.fillerShare(), 1);
            this.fillerProcs.set(b, { handle, lastCpuS: 0 });
            void handle.done.then(() => {
              if (this.fillerProcs.get(b)?.handle === handle) this.fillerProcs.delete(b);
            });
          }),
        );
      } else if (!want[b] && have) {
        this.stopFiller(b);
      }
    }
  }

  private stopFiller(board: number): void {
    const f = this.fillerProcs.get(board);
    if (!f) return;
    this.fillerProcs.delete(board);
    f.handle.kill();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Accounting and reports

  /**
   * Books a run's board power from its last accrual to `nowMs`: measured CPU → utilisation → W at the top clock
   * (the throttle holds the level by CPU share, the clock does not change), and share × seconds for its clock ratio.
   */
  private accrue(run: Run, nowMs: number): void {
    const dtS = (nowMs - run.accruedMs) / 1000;
    if (!(dtS > 0)) return;
    run.accruedMs = nowMs;
    // Waiting for a checkpoint, or saving one after the process stopped: the instance is not computing here (the
    // attempt before or after it accounts that time), so none of it is booked to this attempt.
    if (run.restoring || (run.checkpointing && run.exited)) {
      run.lastCpuS = Math.max(run.lastCpuS, run.handle ? run.handle.cpuTimeS() : run.lastCpuS);
      return;
    }
    const bm = this.model.board;
    const cpu = run.handle ? run.handle.cpuTimeS() : run.lastCpuS;
    const used = Math.max(0, cpu - run.lastCpuS);
    run.lastCpuS = Math.max(run.lastCpuS, cpu);
    const cores = this.runCores(run);
    const paused = run.byCoordinator || run.bySafety;
    // Once its process has ended, a board making filler heat books its power as filler, not to the attempt.
    const filling = run.exited && this.fillerBoards()[run.a.boardIndex] === true;
    const w = filling ? 0 : paused || !run.handle ? bm.idleW : boardPowerW(bm, BoardState.active, bm.levels - 1, Math.min(1, used / (dtS * cores)));
    const wh = (w * dtS) / 3600;
    run.energyWh += wh;
    run.wallS += dtS;
    run.shareS += run.share * dtS;
    this.intervalComputeWh += wh;
  }

  /** Pauses or resumes a run's processes to match its flags, and reports the change once it has started. */
  private applyPause(run: Run): void {
    // A run stopping for a checkpoint must keep running until it has saved its state and exited.
    if (run.checkpointing) return;
    const paused = run.byCoordinator || run.bySafety;
    if (run.handle) {
      if (paused) run.handle.pause();
      else run.handle.resume();
    }
    if (run.reported !== null && !run.killed && !run.exited) {
      const state = paused ? 'paused' : 'running';
      if (run.reported !== state) this.report(run, { state });
    }
  }

  /**
   * Queues reports of a run: output beyond one chunk first (output only), then one with the usage since the
   * previous report, the rest of the output and `extra`. Nothing when there is nothing to say.
   */
  private report(run: Run, extra: Partial<InstanceReport>, nowMs = this.clock()): void {
    if (extra.state === 'running' || extra.state === 'paused') run.reported = extra.state;
    while (run.stdout.length > OUTPUT_CHUNK_CHARS || run.stderr.length > OUTPUT_CHUNK_CHARS) {
      const rep = this.base(run, nowMs);
      const out = cut(run.stdout, OUTPUT_CHUNK_CHARS);
      const err = cut(run.stderr, OUTPUT_CHUNK_CHARS);
      run.stdout = run.stdout.slice(out.length);
      run.stderr = run.stderr.slice(err.length);
      if (out) rep.stdout = out;
      if (err) rep.stderr = err;
      this.emit('instances', rep);
    }
    const cpu = run.handle ? run.handle.cpuTimeS() : run.lastCpuS;
    const execS = Math.max(0, Math.max(cpu, run.lastCpuS) - run.cpuReportedS);
    const hasUsage = run.energyWh > 0 || run.wallS > 0 || execS > 0;
    const hasOutput = run.stdout !== '' || run.stderr !== '';
    if (!hasUsage && !hasOutput && Object.keys(extra).length === 0) return;
    const rep: InstanceReport = { ...this.base(run, nowMs), ...extra };
    if (hasUsage) {
      // CPU seconds ran at the top clock; the clock ratio billed is the CPU share the attempt was held to, time-weighted.
      const bm = this.model.board;
      rep.add = { energyWh: run.energyWh, ghzSeconds: execS * bm.freqLevelsGHz[bm.levels - 1], execTimeSec: execS, wallTimeSec: run.wallS };
      rep.clockRatio = round(Math.min(1, Math.max(0, run.wallS > 0 ? run.shareS / run.wallS : run.share)), 6);
      run.energyWh = 0;
      run.wallS = 0;
      run.shareS = 0;
      run.cpuReportedS += execS;
    }
    if (run.progress !== undefined && rep.progress === undefined) rep.progress = run.progress;
    if (run.stdout !== '') rep.stdout = run.stdout;
    if (run.stderr !== '') rep.stderr = run.stderr;
    run.stdout = '';
    run.stderr = '';
    this.emit('instances', rep);
  }

  private base(run: Run, nowMs: number): InstanceReport {
    run.seq++;
    return { taskUuid: run.a.taskUuid, instanceId: run.a.instanceId, attempt: run.a.attempt, seq: run.seq, at: nowMs, deviceId: this.deviceId };
  }

  /** Output of a run, capped per stream (a note marks where the cap was reached). */
  private output(run: Run, stream: 'stdout' | 'stderr', chunk: string): void {
    const used = run.outChars[stream];
    if (used >= this.maxOutputChars) return;
    let text = chunk;
    if (used + text.length > this.maxOutputChars) text = `${text.slice(0, this.maxOutputChars - used)}\n[hearth: output beyond ${this.maxOutputChars} characters dropped]\n`;
    run.outChars[stream] = used + chunk.length;
    run[stream] += text;
    if (stream === 'stdout' && run.progressRes.length > 0) {
      const lines = (run.partialLine + chunk).split('\n');
      run.partialLine = (lines.pop() ?? '').slice(-4096);
      const p = readProgress(run.progressRes, lines.join('\n'));
      if (p !== undefined) run.progress = p;
    }
    // Keep memory bounded between ticks: a chatty process is reported as it speaks.
    if (run[stream].length > 8 * OUTPUT_CHUNK_CHARS) this.report(run, {});
  }

  /** Appends a report to the outbox and starts sending it. */
  private emit(kind: ReportKind, payload: DeviceReport | InstanceReport): void {
    try {
      this.outbox.append(kind, payload);
    } catch (e) {
      this.warn(`report lost: ${(e as Error).message}`);
      return;
    }
    this.pump();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Sending

  /** The link dropped: the instance reports acknowledged within the resend window go out again after the reconnection. */
  private linkDropped(): void {
    const since = this.clock() - RESEND_WINDOW_MS;
    for (const r of this.recentAcked) if (r.ackedMs >= since) this.resend.push({ ackedMs: r.ackedMs, payload: r.payload });
    if (this.resend.length > RESEND_MAX_REPORTS) this.resend.splice(0, this.resend.length - RESEND_MAX_REPORTS);
    this.recentAcked = [];
    this.recentChars = 0;
  }

  /**
   * Keeps an acknowledged instance report for the resend window (bounded in count and output size). A report sent
   * again keeps the time it was first acknowledged: links that keep dropping do not keep it forever.
   */
  private remember(payload: InstanceReport, ackedMs = this.clock()): void {
    const now = this.clock();
    const chars = (payload.stdout?.length ?? 0) + (payload.stderr?.length ?? 0) + 256;
    this.recentAcked.push({ ackedMs, chars, payload });
    this.recentChars += chars;
    let drop = 0;
    while (
      drop < this.recentAcked.length &&
      (this.recentAcked.length - drop > RESEND_MAX_REPORTS || this.recentChars > RESEND_MAX_CHARS || this.recentAcked[drop].ackedMs < now - RESEND_WINDOW_MS)
    ) {
      this.recentChars -= this.recentAcked[drop].chars;
      drop++;
    }
    if (drop > 0) this.recentAcked.splice(0, drop);
  }

  /** Sends the reports to send again (idempotent on the coordinator's side, so in any order); false when one failed. */
  private async resendAll(): Promise<boolean> {
    const batch = this.resend;
    this.resend = [];
    let ok = true;
    const inflight = new Set<Promise<void>>();
    for (const r of batch) {
      if (!ok || !this.transport.connected) {
        this.resend.push(r);
        continue;
      }
      const p: Promise<void> = Promise.resolve()
        .then(() => this.transport.publish('instances', r.payload))
        .then(
          () => this.remember(r.payload, r.ackedMs),
          (err: unknown) => {
            if (err instanceof UndeliverableError) return;
            ok = false;
            this.resend.push(r);
          },
        )
        .finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= this.window) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    return ok;
  }

  /** Sends what the outbox holds, in order, while connected (one pass at a time); first what goes out again. */
  private pump(): void {
    if (this.pumping !== null || this.closed || !this.transport.connected || (this.outbox.size === 0 && this.resend.length === 0)) return;
    this.pumping = this.pumpLoop()
      .catch((e: unknown) => {
        this.failedSinceTick = true;
        this.warn(`sending reports failed: ${(e as Error).message}`);
      })
      .finally(() => {
        this.pumping = null;
        if (!this.failedSinceTick) this.pump();
      });
  }

  /** Set when a publish failed while connected: the next try waits for the next tick or a reconnection. */
  private failedSinceTick = false;

  private async pumpLoop(): Promise<void> {
    this.failedSinceTick = false;
    while (this.transport.connected && !this.closed) {
      if (this.resend.length > 0 && !(await this.resendAll())) {
        this.failedSinceTick = true;
        return;
      }
      // On disk first (a crash then loses nothing); if the disk refuses, send from memory all the same.
      await this.outbox.durable().catch(() => undefined);
      const todo = this.outbox.pending();
      if (todo.length === 0) return;
      let failed = false;
      const inflight = new Set<Promise<void>>();
      for (const e of todo) {
        if (failed || !this.transport.connected) break;
        const p: Promise<void> = Promise.resolve()
          .then(() => this.transport.publish(e.kind as ReportKind, e.payload as DeviceReport | InstanceReport))
          .then(
            () => {
              this.outbox.ack(e.id);
              if (e.kind === 'instances') this.remember(e.payload as InstanceReport);
            },
            (err: unknown) => {
              if (err instanceof UndeliverableError) {
                this.warn(`report dropped: ${err.message}`);
                this.outbox.ack(e.id);
              } else {
                failed = true;
              }
            },
          )
          .finally(() => inflight.delete(p));
        inflight.add(p);
        if (inflight.size >= this.window) await Promise.race(inflight);
      }
      await Promise.all(inflight);
      if (failed) {
        this.failedSinceTick = true;
        return;
      }
    }
  }

  /**
   * Resolves once every report so far is on disk and, while connected, acknowledged (or a send failed).
   * @returns how many reports are still waiting in the outbox
   */
  async flush(): Promise<number> {
    await this.outbox.durable().catch((e: unknown) => this.warn((e as Error).message));
    for (;;) {
      this.failedSinceTick = false;
      this.pump();
      const p = this.pumping;
      if (p === null) break;
      await p;
      if (this.failedSinceTick || !this.transport.connected) break;
    }
    return this.outbox.size;
  }

  /** Resolves once every attempt started so far has ended (and its reports are queued). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  // -------------------------------------------------------------------------------------------------------------
  // One attempt, end to end

  private async execute(run: Run): Promise<void> {
    const a = run.a;
    try {
      run.workDir = await createWorkDir(this.runsDir, dirName(a));
      this.report(run, { state: 'running', phase: 'download' });
      await this.stageInputs(run, run.workDir);
      let staged = await snapshotFiles(run.workDir);
      // The checkpoint goes over the inputs (its files win); `staged` stays the inputs' stamps, so that what the
      // instance wrote on its earlier attempts is among its results.
      if (a.restore) staged = await this.restore(run, a.restore.attempt, a.restore.waitS, staged);
      if (run.killed) throw new KilledError();
      const image = this.imageOf(a);
      const limits = { memoryMB: this.memoryPerBoardMB, ...(a.wallTimeLimitS ? { wallTimeS: a.wallTimeLimitS } : {}) };
      const sinks = { stdout: (chunk: string) => this.output(run, 'stdout', chunk), stderr: (chunk: string) => this.output(run, 'stderr', chunk) };
      this.accrue(run, this.clock());
      if (image !== null) {
        // In the image: the working directory is mounted at DOCKER_WORKDIR (default /job); the image's own PATH applies.
        const inside = a.env.DOCKER_WORKDIR || '/job';
        const env = { ...a.env, TASK_PATH: inside, HOME: inside };
        run.handle = startContainer(
          { command: expandCommand(a.command, env), env, workDir: run.workDir, workDirInContainer: inside, image, network: false, throttle: this.o.throttle, limits },
          sinks,
        );
      } else {
        // HOME is the working directory too: a task never writes into the agent user's home.
        const env = { ...a.env, TASK_PATH: run.workDir, HOME: run.workDir };
        run.handle = startProcess(
          { command: expandCommand(a.command, env), env, workDir: run.workDir, isolation: this.o.isolation, throttle: this.o.throttle, limits },
          sinks,
        );
      }
      if (run.byCoordinator || run.bySafety) run.handle.pause();
      run.handle.setCpuShare(run.share, this.runCores(run));
      this.report(run, { state: run.byCoordinator || run.bySafety ? 'paused' : 'running', phase: 'execution' });
      const exit = await run.handle.done;
      // Up to its exit the board computed for the attempt (after it, filler heat there is booked as filler).
      this.accrue(run, this.clock());
      run.exited = true;
      run.lastCpuS = Math.max(run.lastCpuS, exit.cpuTimeS);
      if (run.partialLine !== '') {
        const p = readProgress(run.progressRes, run.partialLine);
        if (p !== undefined) run.progress = p;
      }
      if (run.killed) throw new KilledError();
      if (run.checkpointing) {
        await this.saveCheckpoint(run, run.workDir, staged, exit.code);
        return;
      }
      this.report(run, { phase: 'upload' });
      let results: Array<{ key: string; size: number }> = [];
      let uploadError: string | undefined;
      if (a.resultBucket) {
        try {
          results = await this.uploadResults(run, run.workDir, staged);
        } catch (e) {
          if (e instanceof KilledError) throw e;
          uploadError = `results not uploaded: ${(e as Error).message}`;
        }
      }
      const ok = exit.code === 0 && !exit.timedOut && uploadError === undefined;
      this.accrue(run, this.clock());
      this.report(run, {
        state: ok ? 'success' : 'failure',
        exitCode: exit.code,
        results,
        info: { ...this.instanceInfo(a, run.handle), ...(exit.memoryPeakMB !== null ? { memoryPeakMB: exit.memoryPeakMB } : {}) },
        ...(ok
          ? {}
          : {
              error:
                uploadError ??
                (exit.timedOut
                  ? 'wall-time limit reached'
                  : exit.outOfMemory
                    ? `out of memory: the instance went over the board's ${this.memoryPerBoardMB} MiB`
                    : exit.signal
                      ? `killed by ${exit.signal}`
                      : `exit code ${exit.code}`),
            }),
      });
    } catch (e) {
      this.accrue(run, this.clock());
      // A killed attempt sends what it used since its last report, without a state (the coordinator decided its fate);
      // one stopped for a checkpoint before or after its process ran says there is nothing to restore.
      if (run.killed) this.report(run, run.checkpointing ? { state: 'checkpointed', error: 'nothing to save: the process had not started or had already ended' } : {});
      else this.report(run, { state: 'failure', error: (e as Error).message.slice(0, 4000), ...(run.handle ? { info: this.instanceInfo(a, run.handle) } : {}) });
    } finally {
      this.runs.delete(run.key);
      this.finished.add(run.key);
      if (this.finished.size > FINISHED_REMEMBERED) this.finished.delete(this.finished.values().next().value as string);
      if (run.workDir) await removeWorkDir(run.workDir).catch((e: unknown) => this.warn(`cannot remove ${run.workDir}: ${(e as Error).message}`));
      this.pump();
    }
  }

  /** The image a docker-batch assignment runs in on this agent (repo:tag), or null: DOCKER_CMD in the sandbox. */
  private imageOf(a: Assignment): string | null {
    const repo = a.env.DOCKER_REPO;
    if (!this.o.containers || !repo || containerRuntime() === null) return null;
    return repo.includes(':') && !repo.slice(repo.lastIndexOf('/') + 1).includes(':') ? repo : `${repo}:${a.env.DOCKER_TAG || 'latest'}`;
  }

  /** Why an assignment's DOCKER_CMD ran in the node's sandbox rather than in its image (for the instance's info). */
  private runtimeLine(a: Assignment, handle: RunHandle | null): string {
    if (handle?.sandbox === 'container') return `container ${this.imageOf(a) ?? ''} (${containerRuntime()?.description ?? 'container runtime'})`;
    if (!a.env.DOCKER_REPO) return 'hearth agent (DOCKER_CMD in the node\'s sandbox)';
    if (!this.o.containers) return 'hearth agent (DOCKER_CMD in the node\'s sandbox: containers are not enabled on this agent)';
    return `hearth agent (DOCKER_CMD in the node's sandbox: no container runtime: ${containerRuntimeWhy()})`.slice(0, 1000);
  }

  private instanceInfo(a: Assignment, handle: RunHandle | null): NonNullable<InstanceReport['info']> {
    const caps = sandboxCapabilities();
    if (this.info === null) {
      this.info = {
        cpuModel: cpus()[0]?.model ?? 'unknown',
        ...(caps.degraded ? { degraded: caps.degraded.slice(0, 1000) } : {}),
      };
    }
    const run = this.runs.get(attemptKey(a));
    return {
      ...this.info,
      runtime: this.runtimeLine(a, handle),
      sandbox: handle?.sandbox === 'container' ? 'container' : handle?.sandbox === 'bwrap' ? 'bubblewrap' : 'process group', coreCount: a.cores, memoryLimitMB: this.memoryPerBoardMB, memoryLimit: caps.cgroupWritable ? 'cgroup (the instance)' : 'address space (per process)', powerFollowing: this.throttleDescription(), ...(run?.restoreInfo ?? {}) };
  }

  /** Downloads the attempt's inputs (through the cache) into `dir`. */
  private async stageInputs(run: Run, dir: string): Promise<void> {
    const a = run.a;
    const inputs = a.resourceBuckets.length === 0 ? [] : await this.retrying(run, 'listing inputs', () => this.files.listInputs(a));
    for (const input of inputs) {
      // Directory markers (keys ending with '/') are not files.
      if (input.key.endsWith('/') && input.size === 0) continue;
      await this.retrying(run, `downloading ${JSON.stringify(input.key)}`, () =>
        this.cache.with(a.accountId, input, () => this.files.download(a, input), (path) => stageFile(dir, input.key, createReadStream(path))),
      );
    }
  }

  /**
   * Restores the checkpoint of attempt `from` into the run's working directory (over its staged inputs), waiting up
   * to `waitS` for it to reach the coordinator. When there is none (never uploaded, lost, refused) or it cannot be
   * unpacked, the instance starts from zero in a freshly staged directory, and its info says why. Returns the
   * stamps of the staged inputs (new ones when the directory was staged again).
   */
  private async restore(run: Run, from: number, waitS: number, staged: Map<string, FileStamp>): Promise<Map<string, FileStamp>> {
    const a = run.a;
    const fromZero = (why: string): void => {
      run.restoreInfo = { checkpointRestore: `restarted from zero: ${why}`.slice(0, 1000) };
      this.warn(`${run.key}: ${run.restoreInfo.checkpointRestore}`);
    };
    const download = this.files.downloadCheckpoint?.bind(this.files);
    if (!download) {
      fromZero('this device cannot fetch checkpoints');
      return staged;
    }
    this.accrue(run, this.clock());
    run.restoring = true;
    const tmpDir = join(this.o.workRoot, 'checkpoints');
    const tmp = join(tmpDir, `${dirName(a)}.ckpt`);
    try {
      await mkdir(tmpDir, { recursive: true });
      const deadline = this.clock() + waitS * 1000;
      let delayMs = 500;
      for (;;) {
        if (run.killed) throw new KilledError();
        try {
          await pipeline(await download(a, from), createWriteStream(tmp, { mode: 0o600 }));
          break;
        } catch (e) {
          if (run.killed) throw new KilledError();
          const message = e instanceof Error ? e.message : String(e);
          if (!(e instanceof AgentFilesError && e.retryable)) {
            fromZero(`no checkpoint of attempt ${from} (${message})`);
            return staged;
          }
          const left = deadline - this.clock();
          if (left <= 0) {
            fromZero(`the checkpoint of attempt ${from} did not arrive within ${waitS} s (${message})`);
            return staged;
          }
          await this.sleep(run, Math.min(delayMs, left));
          delayMs = Math.min(delayMs * 2, 5000);
        }
      }
      const dir = run.workDir!;
      try {
        const n = await unpackCheckpoint(tmp, dir);
        run.restoreInfo = { checkpointRestoredFrom: from, checkpointFiles: n };
        return staged;
      } catch (e) {
        fromZero(`the checkpoint of attempt ${from} cannot be unpacked: ${(e as Error).message}`);
        // What was unpacked before the refusal goes: the instance starts over in a freshly staged directory.
        run.workDir = await createWorkDir(this.runsDir, dirName(a));
        await this.stageInputs(run, run.workDir);
        return snapshotFiles(run.workDir);
      }
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
      run.restoring = false;
      run.accruedMs = Math.max(run.accruedMs, this.clock());
    }
  }

  /**
   * Packs the files the stopped process left (changed since staging) and uploads them as the attempt's checkpoint,
   * then reports the attempt `checkpointed` — with the checkpoint, or with the reason there is none.
   */
  private async saveCheckpoint(run: Run, dir: string, staged: Map<string, FileStamp>, exitCode: number | null): Promise<void> {
    const a = run.a;
    this.report(run, { phase: 'checkpoint' });
    const upload = this.files.uploadCheckpoint?.bind(this.files);
    try {
      if (!upload) throw new Error('this device cannot upload checkpoints');
      const packed = await packCheckpoint(dir, staged);
      await this.retrying(run, 'uploading the checkpoint', () => upload(a, packed.stream(), packed.size), this.o.checkpointUploadForMs ?? 300_000);
      this.report(run, { state: 'checkpointed', exitCode, checkpoint: { size: packed.size, files: packed.files.length }, info: this.instanceInfo(a, run.handle) });
    } catch (e) {
      if (e instanceof KilledError) throw e;
      this.warn(`checkpoint of ${run.key} not saved: ${(e as Error).message}`);
      this.report(run, { state: 'checkpointed', exitCode, error: `checkpoint not saved: ${(e as Error).message}`.slice(0, 4000), info: this.instanceInfo(a, run.handle) });
    }
  }

  /** Uploads the files the instance left (filtered; staged inputs left unchanged skipped) to the result bucket. */
  private async uploadResults(run: Run, dir: string, staged: Map<string, FileStamp>): Promise<Array<{ key: string; size: number }>> {
    const a = run.a;
    const files = await collectResults(dir, { whitelist: a.resultsWhitelist ?? undefined, blacklist: a.resultsBlacklist ?? undefined, unchangedSince: staged });
    const out: Array<{ key: string; size: number }> = [];
    for (const f of files) {
      await this.retrying(run, `uploading ${JSON.stringify(f.path)}`, () => this.files.upload(a, f.path, createReadStream(join(dir, f.path)), f.size));
      out.push({ key: f.path, size: f.size });
    }
    return out;
  }

  /** Uploads a running attempt's working directory (filtered) to `bucket` under `prefix`. */
  private async snapshot(run: Run, bucket: string, prefix: string, filters: { whitelist: string | null; blacklist: string | null }): Promise<void> {
    const dir = run.workDir;
    if (!dir) return;
    const a = run.a;
    const upload = this.files.uploadSnapshot?.bind(this.files);
    if (!upload && bucket !== a.resultBucket) throw new Error(`cannot upload to bucket ${bucket}: this device's file link only reaches the result bucket`);
    const files = await collectResults(dir, { whitelist: filters.whitelist ?? undefined, blacklist: filters.blacklist ?? undefined });
    for (const f of files) {
      if (run.killed) return;
      const key = prefix + f.path;
      await this.retrying(run, `snapshot of ${JSON.stringify(f.path)}`, () =>
        upload ? upload(a, bucket, key, createReadStream(join(dir, f.path)), f.size) : this.files.upload(a, key, createReadStream(join(dir, f.path)), f.size),
      );
    }
  }

  /**
   * Runs a transfer, retrying retryable failures ({@link AgentFilesError} with `retryable`, a short download) with
   * a doubling delay (1 s … 60 s by the injected clock, woken early by a reconnection) for up to `retryForMs`.
   * @throws KilledError when the run is killed meanwhile; the last error when it is not retryable or time is up
   */
  private async retrying<T>(run: Run, what: string, fn: () => Promise<T>, forMs = this.retryForMs): Promise<T> {
    const start = this.clock();
    let delayMs = 1000;
    for (;;) {
      if (run.killed) throw new KilledError();
      try {
        return await fn();
      } catch (e) {
        if (run.killed) throw new KilledError();
        const message = e instanceof Error ? e.message : String(e);
        const retryable = (e instanceof AgentFilesError && e.retryable) || e instanceof InputSizeError;
        if (!retryable) throw new Error(`${what}: ${message}`);
        if (this.clock() - start >= forMs) throw new Error(`${what}: gave up after ${Math.round((this.clock() - start) / 1000)} s: ${message}`);
        await this.sleep(run, delayMs);
        delayMs = Math.min(delayMs * 2, 60_000);
      }
    }
  }

  /** Waits `ms` by the injected clock (checked at each tick), or until a reconnection or the run's kill. */
  private sleep(run: Run, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const s = {
        dueMs: this.clock() + ms,
        resolve: () => {
          this.sleepers.delete(s);
          run.wake = null;
          resolve();
        },
      };
      this.sleepers.add(s);
      run.wake = s.resolve;
    });
  }

  private killRun(run: Run): void {
    if (run.killed) return;
    run.killed = true;
    run.handle?.kill();
    run.wake?.();
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Life

  /** What the device is doing (diagnostics, tests). */
  status(): {
    airC: number;
    bodyC: number;
    setpointC: number;
    safetyTripped: boolean;
    localFiller: boolean;
    fillerBoards: boolean[];
    powerW: number;
    meterWh: number;
    outbox: number;
    cache: { downloads: number; hits: number };
    runs: Array<{ taskUuid: string; instanceId: number; attempt: number; pid: number | null; paused: boolean }>;
  } {
    return {
      airC: this.airC,
      bodyC: this.bodyC,
      setpointC: this.setpointC,
      safetyTripped: this.safetyTripped,
      localFiller: this.localFiller,
      fillerBoards: this.fillerBoards(),
      powerW: this.last.powerW,
      meterWh: this.meterWh,
      outbox: this.outbox.size,
      cache: { ...this.cache.stats },
      runs: [...this.runs.values()].map((r) => ({
        taskUuid: r.a.taskUuid,
        instanceId: r.a.instanceId,
        attempt: r.a.attempt,
        pid: r.handle && r.handle.pid > 0 ? r.handle.pid : null,
        paused: r.handle?.paused ?? (r.byCoordinator || r.bySafety),
      })),
    };
  }

  /**
   * Stops: kills every instance and filler process, waits for the attempts to wind down (their last reports go to
   * the outbox), tries to send what is pending, and closes the outbox. What was not sent is replayed by the next
   * agent on the same workRoot.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const run of this.runs.values()) this.killRun(run);
    for (const b of [...this.fillerProcs.keys()]) this.stopFiller(b);
    await this.settled();
    await this.flush().catch(() => undefined);
    this.closed = true;
    if (this.pumping) await this.pumping;
    for (const s of [...this.sleepers]) s.resolve();
    await this.outbox.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** At most `n` characters of `s`, not splitting a surrogate pair. */
function cut(s: string, n: number): string {
  if (s.length <= n) return s;
  const c = s.charCodeAt(n - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? n - 1 : n);
}

/** A working directory name for an attempt: readable, a single path segment whatever the task id holds. */
function dirName(a: Assignment): string {
  const safe = a.taskUuid.replace(/[^A-Za-z0-9-]/g, '_').slice(0, 64);
  const h = createHash('sha256').update(a.taskUuid).digest('hex').slice(0, 8);
  return `${safe}-${h}-${a.instanceId}-${a.attempt}`;
}

/** Compiles the progress regexes; an invalid one is skipped (the task was accepted with it; progress is optional). */
export function compileProgress(sources: readonly string[]): RegExp[] {
  const out: RegExp[] = [];
  for (const s of sources) {
    try {
      out.push(new RegExp(s));
    } catch {
      /* not a valid JS regex: no progress from it */
    }
  }
  return out;
}

/** Progress (0–100) from the last match of any regex in some lines of stdout (first capture group, or the match). */
export function readProgress(res: readonly RegExp[], text: string): number | undefined {
  let found: number | undefined;
  for (const line of text.split('\n')) {
    for (const re of res) {
      const m = re.exec(line);
      if (!m) continue;
      const v = Number.parseFloat(m[1] ?? m[0]);
      if (Number.isFinite(v)) found = Math.max(0, Math.min(100, v));
    }
  }
  return found;
}

/**
 * Kills the process groups a previous agent left running in `dirs` (instances and filler loops; it died without
 * killing them: kill -9, power cut) — found by their working directory in /proc — and empties `dirs[0]` (the
 * working directories). Best effort; anything whose working directory is in there is taken for an orphan.
 */
function reapOrphans(dirs: string[], warn: (m: string) => void): void {
  const runsDir = dirs[0];
  let killed = 0;
  let names: string[] = [];
  try {
    names = readdirSync('/proc');
  } catch {
    /* no /proc */
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${name}/cwd`);
    } catch {
      continue;
    }
    if (!dirs.some((d) => cwd === d || cwd.startsWith(`${d}/`))) continue;
    try {
      process.kill(-pid, 'SIGKILL');
      killed++;
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        /* gone */
      }
    }
  }
  if (killed > 0) warn(`killed ${killed} process(es) left running by a previous agent in ${runsDir}`);
  try {
    rmSync(runsDir, { recursive: true, force: true });
  } catch (e) {
    // Directories an instance made unwritable: unlock them the blunt way.
    spawnSync('chmod', ['-R', 'u+rwx', runsDir]);
    try {
      rmSync(runsDir, { recursive: true, force: true });
    } catch {
      warn(`cannot empty ${runsDir}: ${(e as Error).message}`);
    }
  }
}
