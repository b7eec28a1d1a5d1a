// The local executor: stands in for the fleet until agents run as their own processes. It lives with the CLI,
// the one part allowed to join the coordinator (store, blobs) and the agent's runner and sandbox. Each registered heater or boiler becomes a
// device on this machine that runs its instances as real processes (runner.ts), stages inputs from the
// account's buckets and uploads results to its result bucket, draws board power from the CPU time its processes
// really used, and heats a simulated room (the physics room model) or tank with it. Like an agent on hardware that
// keeps its top clock, it holds each power level by the CPU share that draws the level's power (runner.ts
// setCpuShare, physics/board.ts levelShare), books power at the top clock from the measured CPU and bills the share.
// It speaks the device contract of protocol/device.ts to the live loop through the DeviceLink interface, like an
// agent over MQTT will —
// checkpoints included: a checkpointing kill saves the working directory where the device routes keep agents'
// checkpoints (device-files.ts's checkpointFilePath), and a start that restores one unpacks it before the process runs.
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { archetypeModel } from '../physics/building.ts';
import { dwellingRoom, officeRoom, radiatorForPower, type Era, type RoomArchetype } from '../physics/archetypes.ts';
import { BoardState, boardPowerW, levelShare } from '../physics/board.ts';
import { stepDiscrete, type DiscreteStateSpaceFoh } from '../physics/discretise.ts';
import { createHeaterModel, type HeaterModel } from '../physics/heater.ts';
import type { Assignment, DeviceCommand, DeviceReport, InstanceReport } from '../protocol/device.ts';
import { BlobStore } from '../coordinator/s3/blobs.ts';
import { StoreConflictError, type RegistryRow, type Store } from '../coordinator/store/types.ts';
import { OVERFLOW_DEVICE, type Inbox, type LocalExecutor } from '../coordinator/fleet/link.ts';
import { expandCommand, sandboxCapabilities, startProcess, type RunExit, type RunHandle } from '../agent/runner.ts';
import { collectResults, createWorkDir, removeWorkDir, snapshotFiles, stageFile, type FileStamp } from '../agent/workdir.ts';
import { compileProgress, readProgress } from '../agent/agent.ts';
import { packCheckpoint, unpackCheckpoint } from '../agent/checkpoint.ts';
import { defaultCheckpointDir, findCheckpoint, storeCheckpoint } from '../coordinator/api/device-files.ts';

export interface LocalFleetOptions {
  store: Store;
  /** The blob directory the storage endpoint uses (inputs are read from it, results written to it). */
  blobDir: string;
  /** Where instances' working directories are made. */
  workRoot: string;
  /** Where checkpoint archives are kept: the device routes' directory. Default: `checkpoints` beside `blobDir`, as theirs. */
  checkpointDir?: string;
  /** SIGTERM → SIGKILL grace of a checkpointing kill that names none, s. Default 10 (as the agent's). */
  checkpointGraceS?: number;
  /** Room model step, s (the simulated rooms advance in steps of this length). Default 10. */
  stepS?: number;
  /** Outdoor temperature at a time, °C (default: a constant 5 °C winter day). */
  outdoorC?: (ms: number) => number;
  /** Keep working directories after the attempt (debugging). Default false. */
  keepWorkDirs?: boolean;
  /**
   * How processes are held to a level's CPU share (runner.ts RunSpec.throttle): 'auto' (a cgroup CPU quota where one
   * can be made, else a SIGSTOP/SIGCONT duty cycle) or 'signals' (the duty cycle). Default 'auto'.
   */
  throttle?: 'auto' | 'signals';
  /** Something went wrong on the device side that it survived. */
  onWarning?: (message: string) => void;
}

const ROOM_STATE_COUNT = 4;
const ERAS: readonly Era[] = ['pre1974', '1974-1982', '1989-2000', 'rt2005', 'rt2012'];

/** A room archetype from a room spec (`archetype`: "dwelling-<era>" or "office-<era>", `areaM2`). */
export function archetypeFromSpec(spec: Record<string, unknown>, heaterMaxW: number): RoomArchetype {
  const name = typeof spec.archetype === 'string' ? spec.archetype : 'dwelling-1974-1982';
  const m = /^(dwelling|office)-(.+)$/.exec(name);
  const era = (m && (ERAS as readonly string[]).includes(m[2]) ? m[2] : '1974-1982') as Era;
  const area = typeof spec.areaM2 === 'number' && spec.areaM2 >= 5 && spec.areaM2 <= 500 ? spec.areaM2 : 20;
  const radiator = radiatorForPower(heaterMaxW);
  return m?.[1] === 'office' ? officeRoom(era, area, { radiator }) : dwellingRoom(era, area, { radiator });
}

/** One attempt running on a board. */
interface Attempt {
  a: Assignment;
  deviceId: string;
  workDir: string;
  handle: RunHandle | null;
  paused: boolean;
  killed: boolean;
  seq: number;
  stdout: string;
  stderr: string;
  /** Accumulated since the last report. */
  energyWh: number;
  wallS: number;
  /** Wall time booked since the start (by steps and by the tail at exit), s. */
  accountedWallS: number;
  cpuReportedS: number;
  lastCpuS: number;
  utilisation: number;
  /** CPU share the process is held to now (levelShare of the device's level), and share × booked seconds since the last report. */
  share: number;
  shareS: number;
  progress: number | undefined;
  progressRes: RegExp[];
  startedMs: number;
  /** Stopping for a move (a kill with `checkpoint`): the working directory is saved once the process exits. */
  checkpointing: boolean;
  /** The process has ended (saving a checkpoint after it is not the attempt's compute). */
  exited: boolean;
  /** Waiting for or unpacking the checkpoint to restore (that time is not the attempt's: not accounted). */
  restoring: boolean;
  /** What became of the restore (the agent's info keys: shown in the attempt's info). */
  restoreInfo: Record<string, string | number>;
}

/** Why a checkpointing kill saved nothing when the process was not running (the agent's wording). */
const NOTHING_TO_SAVE = 'nothing to save: the process had not started or had already ended';

interface LocalDevice {
  id: string;
  kind: 'heater' | 'boiler' | 'overflow';
  model: HeaterModel;
  level: number;
  booster: number;
  filler: boolean[];
  resistiveW: number | null;
  setpointC: number;
  /** Room: discrete model and state (T_air, T_E1, T_I1, T_body). */
  room: { d: DiscreteStateSpaceFoh; x: Float64Array; u: Float64Array; next: Float64Array } | null;
  /** Boiler: one mixed tank. */
  tank: { tempC: number; capacityJK: number; lossWK: number } | null;
  meterWh: number;
  lastStepMs: number;
  /** Attempts by board (overflow: unbounded list keyed by instance). */
  runs: Map<string, Attempt>;
  lastPower: { powerW: number; computeW: number; fillerW: number; boosterW: number; busy: number };
}

const runKey = (taskUuid: string, instanceId: number, attempt: number): string => `${taskUuid}/${instanceId}/${attempt}`;

/** The local stand-in for a fleet of agents. */
export function localExecutor(ctx: { store: Store; dataDir: string; stepS: number; warn: (m: string) => void }): LocalFleet {
  return new LocalFleet({ store: ctx.store, blobDir: join(ctx.dataDir, 'blobs'), workRoot: join(ctx.dataDir, 'work'), stepS: ctx.stepS, onWarning: ctx.warn });
}

export class LocalFleet implements LocalExecutor {
  private readonly store: Store;
  private readonly blobs: BlobStore;
  private readonly workRoot: string;
  private readonly checkpointDir: string;
  private readonly checkpointGraceS: number;
  private readonly stepS: number;
  private readonly outdoorC: (ms: number) => number;
  private readonly keep: boolean;
  private readonly throttle: 'auto' | 'signals';
  private readonly warn: (m: string) => void;
  private readonly devices = new Map<string, LocalDevice>();
  private inbox: Inbox = { reports: [], instances: [] };
  private readonly pending = new Set<Promise<void>>();
  private closed = false;
  /** What the sandbox could not do on this machine (shown in each instance's info). */
  readonly sandbox: string;

  constructor(o: LocalFleetOptions) {
    this.store = o.store;
    this.blobs = new BlobStore(o.blobDir);
    this.workRoot = o.workRoot;
    this.checkpointDir = o.checkpointDir ?? defaultCheckpointDir(o.blobDir);
    this.checkpointGraceS = o.checkpointGraceS ?? 10;
    this.stepS = o.stepS ?? 10;
    this.outdoorC = o.outdoorC ?? (() => 5);
    this.keep = o.keepWorkDirs ?? false;
    this.throttle = o.throttle ?? 'auto';
    this.warn = o.onWarning ?? (() => undefined);
    const caps = sandboxCapabilities();
    this.sandbox = caps.bwrap ? 'bubblewrap' : caps.prlimit ? 'process group + prlimit' : 'process group';
    this.devices.set(OVERFLOW_DEVICE, this.newDevice(OVERFLOW_DEVICE, 'overflow', createHeaterModel({ boards: 32 }), null, 0));
  }

  /** Makes the devices match the registry (heaters with their rooms, boilers); new ones start at `nowMs`. */
  async syncDevices(nowMs: number): Promise<void> {
    const heaters = await this.store.listRegistry({ kind: 'heater' });
    const boilers = await this.store.listRegistry({ kind: 'boiler' });
    const rooms = new Map((await this.store.listRegistry({ kind: 'room' })).map((r) => [r.id, r]));
    const seen = new Set<string>([OVERFLOW_DEVICE]);
    for (const row of [...heaters, ...boilers]) {
      seen.add(row.id);
      if (this.devices.has(row.id)) continue;
      const spec = (row.spec ?? {}) as Record<string, unknown>;
      const boards = typeof spec.boards === 'number' && Number.isInteger(spec.boards) && spec.boards >= 1 && spec.boards <= 16 ? spec.boards : 3;
      const model = createHeaterModel({ boards });
      const room = row.parentId ? rooms.get(row.parentId) : undefined;
      const dev = this.newDevice(row.id, row.kind === 'boiler' ? 'boiler' : 'heater', model, row, nowMs, room);
      this.devices.set(row.id, dev);
    }
    for (const [id, dev] of this.devices) {
      if (seen.has(id)) continue;
      for (const run of dev.runs.values()) this.killRun(run);
      this.devices.delete(id);
    }
  }

  private newDevice(id: string, kind: LocalDevice['kind'], model: HeaterModel, row: RegistryRow | null, nowMs: number, room?: RegistryRow): LocalDevice {
    const spec = (row?.spec ?? {}) as Record<string, unknown>;
    const roomSpec = (room?.spec ?? {}) as Record<string, unknown>;
    const setpointC = kind === 'boiler' ? (typeof spec.setpointC === 'number' ? spec.setpointC : 55) : typeof roomSpec.comfortC === 'number' ? roomSpec.comfortC : 19;
    let roomModel: LocalDevice['room'] = null;
    let tank: LocalDevice['tank'] = null;
    if (kind === 'heater') {
      const d = archetypeModel(archetypeFromSpec(roomSpec, model.maxW), this.stepS) as DiscreteStateSpaceFoh;
      // Start a little below the setpoint, in equilibrium-ish (walls cooler than air).
      const x = Float64Array.from([setpointC - 1, setpointC - 3, setpointC - 1.5, setpointC - 1]);
      roomModel = { d, x, u: new Float64Array(d.B.length / ROOM_STATE_COUNT), next: new Float64Array(ROOM_STATE_COUNT) };
    } else if (kind === 'boiler') {
      const volumeL = typeof spec.volumeL === 'number' && spec.volumeL > 0 ? spec.volumeL : 300;
      tank = { tempC: setpointC - 10, capacityJK: volumeL * 4186, lossWK: 2 };
    }
    return {
      id,
      kind,
      model,
      level: model.board.levels - 1,
      booster: 0,
      filler: new Array<boolean>(model.boards).fill(false),
      resistiveW: null,
      setpointC,
      room: roomModel,
      tank,
      meterWh: 0,
      lastStepMs: nowMs,
      runs: new Map(),
      lastPower: { powerW: 0, computeW: 0, fillerW: 0, boosterW: 0, busy: 0 },
    };
  }

  // ---------------------------------------------------------------------------------------------------------
  // DeviceLink

  send(deviceId: string, command: DeviceCommand): void {
    const dev = this.devices.get(deviceId);
    if (!dev || this.closed) {
      this.warn(`command ${command.kind} for unknown device ${deviceId} dropped`);
      return;
    }
    switch (command.kind) {
      case 'start': {
        const a = command.assignment;
        const key = runKey(a.taskUuid, a.instanceId, a.attempt);
        if (dev.runs.has(key)) return; // a repeated delivery
        const run: Attempt = {
          a,
          deviceId,
          workDir: '',
          handle: null,
          paused: false,
          killed: false,
          seq: 0,
          stdout: '',
          stderr: '',
          energyWh: 0,
          accountedWallS: 0,
          wallS: 0,
          cpuReportedS: 0,
          lastCpuS: 0,
          utilisation: 0,
          share: levelShare(dev.model.board, dev.level),
          shareS: 0,
          progress: undefined,
          progressRes: compileProgress(a.progressRegexes),
          startedMs: dev.lastStepMs,
          checkpointing: false,
          exited: false,
          restoring: false,
          restoreInfo: {},
        };
        dev.runs.set(key, run);
        this.track(this.execute(dev, run));
        return;
      }
      case 'pause':
      case 'resume': {
        const run = dev.runs.get(runKey(command.ref.taskUuid, command.ref.instanceId, command.ref.attempt));
        // A run stopping for a checkpoint must keep running until it has saved its state and exited.
        if (!run || run.checkpointing) return;
        run.paused = command.kind === 'pause';
        if (run.handle) {
          if (run.paused) run.handle.pause();
          else run.handle.resume();
        }
        this.report(run, dev.lastStepMs, { state: run.paused ? 'paused' : 'running' });
        return;
      }
      case 'kill': {
        const run = dev.runs.get(runKey(command.ref.taskUuid, command.ref.instanceId, command.ref.attempt));
        if (!command.checkpoint) {
          if (run) this.killRun(run);
          return;
        }
        // Unknown (long over): nothing to say; the loop's wait for the checkpoint ends by its own timeout.
        if (!run || run.checkpointing || run.killed) return;
        run.checkpointing = true;
        if (!run.handle || run.exited) {
          // Still staging or restoring, or its process already over: no state to save (execute's end reports so).
          this.killRun(run);
          return;
        }
        run.paused = false;
        run.handle.terminate((command.checkpoint.graceS ?? this.checkpointGraceS) * 1000);
        return;
      }
      case 'snapshot': {
        const run = dev.runs.get(runKey(command.ref.taskUuid, command.ref.instanceId, command.ref.attempt));
        if (!run || !run.workDir) return;
        const c = command;
        this.track(
          this.uploadDir(run.a.accountId, run.workDir, c.bucket, c.prefix, { whitelist: c.whitelist, blacklist: c.blacklist }).then(
            () => undefined,
            (e: unknown) => this.warn(`snapshot of ${run.a.taskUuid}/${run.a.instanceId} failed: ${(e as Error).message}`),
          ),
        );
        return;
      }
      case 'power':
        dev.level = Math.min(command.level, dev.model.board.levels - 1);
        dev.booster = command.booster;
        dev.filler = command.filler.slice(0, dev.model.boards);
        dev.resistiveW = command.resistiveW;
        this.applyShares(dev);
        return;
      case 'setpoint':
        dev.setpointC = command.setpointC;
        return;
      default: {
        const never: never = command;
        this.warn(`unknown command ${JSON.stringify(never)}`);
      }
    }
  }

  drain(): Inbox {
    const out = this.inbox;
    this.inbox = { reports: [], instances: [] };
    return out;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Physics and accounting

  /** Advances every device to `nowMs`: CPU-driven board power, room or tank temperature, meters, reports. */
  step(nowMs: number): void {
    for (const dev of this.devices.values()) {
      const dtS = (nowMs - dev.lastStepMs) / 1000;
      if (!(dtS > 0)) continue;
      dev.lastStepMs = nowMs;
      const power = this.powerOf(dev, dtS);
      dev.lastPower = power;
      dev.meterWh += (power.powerW * dtS) / 3600;
      const outdoorC = this.outdoorC(nowMs);
      let airC = dev.setpointC;
      let bodyC = dev.setpointC;
      if (dev.room) {
        const r = dev.room;
        const n = Math.max(1, Math.round(dtS / this.stepS));
        // Inputs: T_amb, T_sup, T_ambWin, Q_gains, Q_sol_1, Q_heater (held over the steps).
        r.u[0] = outdoorC;
        r.u[1] = outdoorC;
        r.u[2] = outdoorC;
        r.u[3] = 0;
        r.u[4] = 0;
        r.u[5] = power.powerW;
        for (let k = 0; k < n; k++) {
          stepDiscrete(r.d, r.x, r.u, r.next);
          r.x.set(r.next);
        }
        airC = r.x[0];
        bodyC = r.x[3];
      } else if (dev.tank) {
        const t = dev.tank;
        // Mixed tank: heated by the boards, losing to a 20 °C room, drawn by a steady 4 L/h of 10 °C water.
        const drawWK = (4 / 3600) * 4186;
        t.tempC += ((power.powerW - t.lossWK * (t.tempC - 20) - drawWK * (t.tempC - 10)) * dtS) / t.capacityJK;
        airC = t.tempC;
        bodyC = t.tempC;
      }
      if (dev.kind !== 'overflow') {
        const report: DeviceReport = {
          deviceId: dev.id,
          at: nowMs,
          airC: round(airC, 3),
          setpointC: dev.setpointC,
          bodyC: round(bodyC, 3),
          outdoorC: round(outdoorC, 2),
          powerW: round(power.powerW, 2),
          computeW: round(power.computeW, 2),
          fillerW: round(power.fillerW, 2),
          boosterW: round(power.boosterW, 2),
          busyBoards: power.busy,
          level: dev.level,
          meterWh: round(dev.meterWh, 4),
        };
        this.inbox.reports.push(report);
      }
      for (const run of dev.runs.values()) this.report(run, nowMs, {});
    }
  }

  /** Power drawn over the last dtS by a device, W: its boards from measured utilisation, filler, booster. */
  private powerOf(dev: LocalDevice, dtS: number): LocalDevice['lastPower'] {
    const m = dev.model;
    const bm = m.board;
    let computeW = 0;
    let busy = 0;
    const boardUsed = new Array<boolean>(m.boards).fill(false);
    for (const run of dev.runs.values()) {
      const cpu = run.handle ? run.handle.cpuTimeS() : run.lastCpuS;
      const used = Math.max(0, cpu - run.lastCpuS);
      run.lastCpuS = Math.max(run.lastCpuS, cpu);
      // Waiting for a checkpoint, or saving one after the process stopped: the instance is not computing here (the
      // attempt before or after it accounts that time), so none of it is booked to this attempt (as on an agent).
      if (run.restoring || (run.checkpointing && run.exited)) {
        busy++;
        if (run.a.boardIndex < m.boards) boardUsed[run.a.boardIndex] = true;
        continue;
      }
      run.utilisation = Math.min(1, used / (dtS * Math.max(1, run.a.cores)));
      // The process ran at the top clock (held to the level by its CPU share): its power is the top level's at the
      // utilisation it reached.
      const w = run.paused || !run.handle ? bm.idleW : boardPowerW(bm, BoardState.active, bm.levels - 1, run.utilisation);
      run.energyWh += (w * dtS) / 3600;
      run.wallS += dtS;
      run.shareS += run.share * dtS;
      run.accountedWallS += dtS;
      computeW += w;
      busy++;
      if (run.a.boardIndex < m.boards) boardUsed[run.a.boardIndex] = true;
    }
    if (dev.kind === 'overflow') return { powerW: computeW, computeW, fillerW: 0, boosterW: 0, busy };
    if (dev.resistiveW !== null) return { powerW: dev.resistiveW, computeW: 0, fillerW: 0, boosterW: dev.resistiveW, busy: 0 };
    let fillerW = 0;
    for (let b = 0; b < m.boards; b++) if (!boardUsed[b] && dev.filler[b]) fillerW += boardPowerW(bm, BoardState.active, dev.level, 1);
    const boosterW = dev.booster * m.boosterW;
    return { powerW: computeW + fillerW + boosterW, computeW, fillerW, boosterW, busy };
  }

  /**
   * Books what an attempt's process used after the last step that accounted it (all of it when it started and
   * ended between two steps): the process's own wall and CPU time, so a short instance is not free.
   */
  private bookTail(dev: LocalDevice, run: Attempt, exit: RunExit): void {
    const tailS = Math.max(0, exit.wallTimeS - run.accountedWallS);
    if (!(tailS > 0)) return;
    const bm = dev.model.board;
    const cpuS = Math.max(0, exit.cpuTimeS - run.lastCpuS);
    const w = run.paused ? bm.idleW : boardPowerW(bm, BoardState.active, bm.levels - 1, Math.min(1, cpuS / (tailS * Math.max(1, run.a.cores))));
    run.energyWh += (w * tailS) / 3600;
    run.wallS += tailS;
    run.shareS += run.share * tailS;
    run.accountedWallS += tailS;
  }

  /** Queues a report of an attempt: what it used since the previous one, its output, and `extra` fields. */
  private report(run: Attempt, nowMs: number, extra: Partial<InstanceReport>): void {
    if (run.killed && extra.state === undefined) {
      if (run.energyWh === 0 && run.wallS === 0) return;
    }
    const cpu = run.handle ? run.handle.cpuTimeS() : run.lastCpuS;
    const execS = Math.max(0, cpu - run.cpuReportedS);
    const bm = this.devices.get(run.deviceId)?.model.board;
    // CPU seconds ran at the top clock; the clock ratio billed is the share the process was held to, time-weighted
    // (as an agent reports it).
    const ghz = bm ? bm.freqLevelsGHz[bm.levels - 1] : 0;
    const clockRatio = Math.min(1, Math.max(0, run.wallS > 0 ? run.shareS / run.wallS : run.share));
    const hasUsage = run.energyWh > 0 || run.wallS > 0 || execS > 0;
    const hasOutput = run.stdout !== '' || run.stderr !== '';
    if (!hasUsage && !hasOutput && Object.keys(extra).length === 0) return;
    run.seq++;
    const rep: InstanceReport = {
      taskUuid: run.a.taskUuid,
      instanceId: run.a.instanceId,
      attempt: run.a.attempt,
      seq: run.seq,
      at: nowMs,
      deviceId: run.deviceId,
      ...extra,
    };
    if (hasUsage) {
      rep.add = { energyWh: run.energyWh, ghzSeconds: execS * ghz, execTimeSec: execS, wallTimeSec: run.wallS };
      rep.clockRatio = clockRatio;
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
    this.inbox.instances.push(rep);
  }

  // ---------------------------------------------------------------------------------------------------------
  // One attempt, end to end

  private async execute(dev: LocalDevice, run: Attempt): Promise<void> {
    const a = run.a;
    const now = (): number => dev.lastStepMs;
    try {
      run.workDir = await createWorkDir(this.workRoot, `${a.taskUuid}-${a.instanceId}-${a.attempt}`);
      this.report(run, now(), { state: 'running', phase: 'download' });
      for (const bucket of a.resourceBuckets) {
        await this.stageBucket(a.accountId, bucket, run.workDir);
        if (run.killed) return this.reportKilled(run);
      }
      let staged = await snapshotFiles(run.workDir);
      // The checkpoint goes over the inputs (its files win); `staged` stays the inputs' stamps, so that what the
      // instance wrote on its earlier attempts is among its results.
      if (a.restore) staged = await this.restore(run, a.restore.attempt, a.restore.waitS, staged);
      if (run.killed) return this.reportKilled(run);
      // HOME is the working directory too: a task never writes into the coordinator user's home.
      const env = { ...a.env, TASK_PATH: run.workDir, HOME: run.workDir };
      run.handle = startProcess(
        { command: expandCommand(a.command, env), env, workDir: run.workDir, limits: a.wallTimeLimitS ? { wallTimeS: a.wallTimeLimitS } : undefined, throttle: this.throttle },
        {
          stdout: (chunk) => {
            run.stdout += chunk;
            const p = readProgress(run.progressRes, chunk);
            if (p !== undefined) run.progress = p;
          },
          stderr: (chunk) => {
            run.stderr += chunk;
          },
        },
      );
      if (run.paused) run.handle.pause();
      // Held to its level from the start (run.share follows the device's power orders while it was staged).
      run.handle.setCpuShare(run.share, Math.max(1, a.cores));
      this.report(run, now(), { state: 'running', phase: 'execution' });
      const exit = await run.handle.done;
      this.bookTail(dev, run, exit);
      run.lastCpuS = Math.max(run.lastCpuS, exit.cpuTimeS);
      run.exited = true;
      if (run.killed) return this.reportKilled(run);
      if (run.checkpointing) {
        await this.saveCheckpoint(run, staged, exit.code);
        return;
      }
      this.report(run, now(), { phase: 'upload' });
      let results: Array<{ key: string; size: number }> = [];
      let uploadError: string | undefined;
      if (a.resultBucket) {
        try {
          results = await this.upload(a, run.workDir, staged);
        } catch (e) {
          uploadError = `results not uploaded: ${(e as Error).message}`;
        }
      }
      // Told to stop for a checkpoint while its results went up: the loop awaits a `checkpointed` report (the agent's).
      if (run.killed && run.checkpointing) return this.reportKilled(run);
      const ok = exit.code === 0 && !exit.timedOut && uploadError === undefined;
      this.report(run, now(), {
        state: ok ? 'success' : 'failure',
        exitCode: exit.code,
        results,
        info: this.instanceInfo(run),
        ...(ok ? {} : { error: uploadError ?? (exit.timedOut ? 'wall-time limit reached' : exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`) }),
      });
    } catch (e) {
      if (run.killed) this.reportKilled(run);
      else this.report(run, now(), { state: 'failure', error: (e as Error).message.slice(0, 4000) });
    } finally {
      dev.runs.delete(runKey(a.taskUuid, a.instanceId, a.attempt));
      if (run.workDir && !this.keep) await removeWorkDir(run.workDir).catch(() => undefined);
    }
  }

  /** What an attempt's info says of where and how it ran (and of the checkpoint it restored). */
  private instanceInfo(run: Attempt): NonNullable<InstanceReport['info']> {
    return { sandbox: this.sandbox, runtime: 'local (DOCKER_CMD without a container runtime)', cpuModel: 'local', coreCount: run.a.cores, ...run.restoreInfo };
  }

  /**
   * The last report of a killed attempt: what it used since its previous report, without a state (the coordinator
   * decided its fate) — or, stopped for a checkpoint before or after its process ran, that there is nothing to save.
   */
  private reportKilled(run: Attempt): void {
    const at = this.devices.get(run.deviceId)?.lastStepMs ?? Date.now();
    this.report(run, at, run.checkpointing ? { state: 'checkpointed', error: NOTHING_TO_SAVE } : {});
  }

  /**
   * Restores the checkpoint of attempt `from` into the run's working directory (over its staged inputs), waiting up
   * to `waitS` for it to be stored (polling; given up early if the run is killed). When there is none (never saved,
   * given up) or it cannot be unpacked, the instance starts from zero in a freshly staged directory, and its info
   * says why. Returns the stamps of the staged inputs (new ones when the directory was staged again).
   */
  private async restore(run: Attempt, from: number, waitS: number, staged: Map<string, FileStamp>): Promise<Map<string, FileStamp>> {
    const a = run.a;
    const fromZero = (why: string): void => {
      run.restoreInfo = { checkpointRestore: `restarted from zero: ${why}`.slice(0, 1000) };
      this.warn(`${runKey(a.taskUuid, a.instanceId, a.attempt)}: ${run.restoreInfo.checkpointRestore}`);
    };
    run.restoring = true;
    try {
      const deadline = Date.now() + waitS * 1000;
      let delayMs = 100;
      let found: Awaited<ReturnType<typeof findCheckpoint>>;
      for (;;) {
        if (run.killed || this.closed) return staged;
        found = await findCheckpoint(this.store, this.checkpointDir, a, from);
        if (found === 'none') {
          fromZero(`no checkpoint of attempt ${from} (none stored, and none on its way)`);
          return staged;
        }
        if (found !== 'pending') break;
        const left = deadline - Date.now();
        if (left <= 0) {
          fromZero(`the checkpoint of attempt ${from} did not arrive within ${waitS} s`);
          return staged;
        }
        await new Promise((r) => setTimeout(r, Math.min(delayMs, left)));
        delayMs = Math.min(delayMs * 2, 1000);
      }
      try {
        const n = await unpackCheckpoint(found.file, run.workDir);
        run.restoreInfo = { checkpointRestoredFrom: from, checkpointFiles: n };
        return staged;
      } catch (e) {
        fromZero(`the checkpoint of attempt ${from} cannot be unpacked: ${(e as Error).message}`);
        // What was unpacked before the refusal goes: the instance starts over in a freshly staged directory.
        await removeWorkDir(run.workDir).catch(() => undefined);
        run.workDir = await createWorkDir(this.workRoot, `${a.taskUuid}-${a.instanceId}-${a.attempt}`);
        for (const bucket of a.resourceBuckets) await this.stageBucket(a.accountId, bucket, run.workDir);
        return snapshotFiles(run.workDir);
      }
    } finally {
      run.restoring = false;
    }
  }

  /**
   * Packs the files the stopped process left (changed since staging) into the attempt's checkpoint, stored where
   * the device routes keep agents' checkpoints, then reports the attempt `checkpointed` — with the checkpoint, or
   * with the reason there is none.
   */
  private async saveCheckpoint(run: Attempt, staged: Map<string, FileStamp>, exitCode: number | null): Promise<void> {
    const a = run.a;
    const at = (): number => this.devices.get(run.deviceId)?.lastStepMs ?? Date.now();
    this.report(run, at(), { phase: 'checkpoint' });
    try {
      const packed = await packCheckpoint(run.workDir, staged);
      await storeCheckpoint(this.checkpointDir, a, (tmp) => pipeline(packed.stream(), createWriteStream(tmp, { mode: 0o600 })));
      this.report(run, at(), { state: 'checkpointed', exitCode, checkpoint: { size: packed.size, files: packed.files.length }, info: this.instanceInfo(run) });
    } catch (e) {
      this.warn(`checkpoint of ${runKey(a.taskUuid, a.instanceId, a.attempt)} not saved: ${(e as Error).message}`);
      this.report(run, at(), { state: 'checkpointed', exitCode, error: `checkpoint not saved: ${(e as Error).message}`.slice(0, 4000), info: this.instanceInfo(run) });
    }
  }

  /** Copies every object of a bucket of the account into the working directory (keys become relative paths). */
  private async stageBucket(accountId: string, bucket: string, dir: string): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.store.listObjects(accountId, bucket, { continuationToken: token });
      if (!page) throw new Error(`resource bucket ${bucket} does not exist`);
      for (const obj of page.objects) {
        const stream = await this.blobs.read(obj.blobHash);
        await stageFile(dir, obj.key, stream);
      }
      token = page.nextContinuationToken ?? undefined;
    } while (token);
  }

  /** Uploads the files the instance left (filtered) to the result bucket, created if missing. */
  private upload(a: Assignment, dir: string, staged: Awaited<ReturnType<typeof snapshotFiles>>): Promise<Array<{ key: string; size: number }>> {
    return this.uploadDir(a.accountId, dir, a.resultBucket!, '', { whitelist: a.resultsWhitelist, blacklist: a.resultsBlacklist }, staged);
  }

  /**
   * Uploads the regular files of a working directory (filtered; inputs staged and left unchanged skipped) to a
   * bucket of the account under `prefix`, creating the bucket if missing. Returns the keys written.
   */
  private async uploadDir(
    accountId: string,
    dir: string,
    bucket: string,
    prefix: string,
    filters: { whitelist: string | null; blacklist: string | null },
    staged?: Awaited<ReturnType<typeof snapshotFiles>>,
  ): Promise<Array<{ key: string; size: number }>> {
    if (!(await this.store.getBucket(accountId, bucket))) {
      try {
        await this.store.createBucket({ name: bucket, accountId });
      } catch (e) {
        if (!(e instanceof StoreConflictError)) throw e;
        if (!(await this.store.getBucket(accountId, bucket))) throw new Error(`bucket ${bucket} belongs to another account`);
      }
    }
    const files = await collectResults(dir, { whitelist: filters.whitelist ?? undefined, blacklist: filters.blacklist ?? undefined, unchangedSince: staged });
    const out: Array<{ key: string; size: number }> = [];
    for (const f of files) {
      const key = prefix + f.path;
      const written = await this.blobs.write(createReadStream(join(dir, f.path)));
      try {
        const r = await this.store.putObject(accountId, { bucket, key, size: written.size, etag: written.md5, blobHash: written.hash, contentType: null });
        if (!r) throw new Error(`bucket ${bucket} vanished`);
        if (r.previous && r.previous.blobHash !== written.hash) await this.blobs.deleteIfUnreferenced(r.previous.blobHash, (h) => this.store.isBlobReferenced(h));
      } finally {
        written.release();
      }
      out.push({ key, size: written.size });
    }
    return out;
  }

  /**
   * Holds every process of the device to the CPU share of its level (the top level: unthrottled). What ran before
   * the change was booked at the old share by the last step (the loop sends its orders just after a step).
   */
  private applyShares(dev: LocalDevice): void {
    const share = levelShare(dev.model.board, dev.level);
    for (const run of dev.runs.values()) {
      run.share = share;
      if (run.handle && !run.exited && !run.checkpointing) run.handle.setCpuShare(share, Math.max(1, run.a.cores));
    }
  }

  private killRun(run: Attempt): void {
    if (run.killed) return;
    run.killed = true;
    run.handle?.kill();
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Kills every process and waits for the attempts to wind down. */
  async close(): Promise<void> {
    this.closed = true;
    for (const dev of this.devices.values()) for (const run of dev.runs.values()) this.killRun(run);
    await Promise.allSettled([...this.pending]);
  }

  /** Devices and their state (tests, the API). */
  list(): Array<{ id: string; kind: string; airC: number | null; powerW: number; running: number }> {
    return [...this.devices.values()].map((d) => ({ id: d.id, kind: d.kind, airC: d.room ? d.room.x[0] : d.tank ? d.tank.tempC : null, powerW: d.lastPower.powerW, running: d.runs.size }));
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

