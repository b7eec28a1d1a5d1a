// hearth's own policy: heat follows each controller's request (boards × frequency level), paid work goes where the
// heat is wanted for as long as it runs, hot rooms pause rather than kill, and overflow is kept for doomed deadlines.
import type { Decision, DecisionSink, FleetView, InstanceTable, OverflowPool, Policy } from './types.ts';
import { ArraySink } from './decisions.ts';
import { BOARD_FILLER, BOARD_FREE, InstancePhase, SchedulingType } from './types.ts';
import type { HeaterModel } from '../physics/heater.ts';
import { derateFactor } from '../physics/heater.ts';
import { InvalidParameterError, requireFinite } from '../physics/errors.ts';
import {
  classOfType,
  fitsHeater,
  growFloat64,
  growInt32,
  growUint8,
  HardwareConfigs,
  heatBucket,
  HeaterBuckets,
  SiteIndex,
  StampedHeap,
} from './indexes.ts';
import { SchedClass } from './view.ts';
import type { HearthOptions } from './view.ts';

/** Heater pools of spare slots: within the request (heat-led), boilers up to maxW (sink), rooms up to maxW (surplus). */
const POOL_HEAT = 0;
const POOL_SINK = 1;
const POOL_ROOM = 2;
const POOLS_HEAT = [POOL_HEAT, POOL_SINK];
const POOLS_ALL = [POOL_HEAT, POOL_SINK, POOL_ROOM];
const POOLS_MIGRATE = [POOL_HEAT];
/** Heaters of an instance's data site looked at first. */
const SITE_LOOK = 16;
/** Remaining work assumed when the customer gave no estimate, board-seconds. */
const UNKNOWN_WORK_S = 3600;
/** Why a paused instance is a migration candidate: stuck in a warm room, near safety, at evacuation, deadline at risk. */
const MIG_STUCK = 0;
const MIG_SAFETY = 1;
const MIG_EVACUATE = 2;
const MIG_RISK = 3;
/** Offsets of a heater's powers in HearthPolicy.hw. */
const HW_CAP = 0;
const HW_TGT = 1;
const HW_BASE = 2;
const HW_CAPDYN = 3;
/** Offsets of a model's numbers in HearthPolicy.modelConst. */
const MC_STRIDE = 8;
const MC_CAP_C = 0;
const MC_INV_SPAN_K = 1;
const MC_DYN_TOP_W = 2;
const MC_DYN0_W = 3;
const MC_IDLE_W = 4;
const MC_OFF_W = 5;
/** Heater flags. */
const F_OK = 1;
const F_SAFETY = 2;
const F_BOILER = 4;
/** Heater flags of the board inventory: some board runs filler, some board is free (without either, finishHeater
 * skips its board loops). */
const F_FILLER = 8;
const F_FREE = 16;

type Resolved = Required<HearthOptions>;

/** Defaults of HearthOptions (see view.ts for the meaning of each). */
export const HEARTH_DEFAULTS: Resolved = {
  safetyMarginK: 1.5,
  evacuateMarginK: 0.5,
  startToleranceBoards: 0.35,
  resumeFraction: 0.9,
  plannedRate: 0.6,
  riskRate: 0.5,
  deadlineMargin: 0.1,
  migrateAfterS: 900,
  evictAfterS: 14400,
  roomSurplus: 'deadline',
  estimateMargin: 0.7,
  overrunShare: 0.25,
  overshootK: 1.5,
  missBudget: 4096,
};

/**
 * The hearth policy. One round, O(heaters·boards) + O((placed + urgent)·log queue):
 *
 * 1. Per heater, from the controller: cap = maxW (0 when air ≥ safety − safetyMarginK), target = request clamped to
 *    [minW, cap]. Power = boards computing × board power at the heater's level (derated by the body temperature) +
 *    paused boards × idle power. If even the lowest level exceeds the cap, filler stops, then checkpointable work
 *    pauses (never killed), least urgent first (flex before onDemand, most slack first), and later moves to where
 *    heat is wanted; work that cannot move keeps running at the lowest level (a paused board still idles at ~2/3 of
 *    that power and computes nothing) unless the room is overshootK above its setpoint; work at risk keeps running.
 *    Paused work resumes within the target (onDemand: within the cap), most urgent first. Near safety everything
 *    pauses; closer still (evacuateMarginK) paused work moves away, or is killed if it cannot move.
 * 2. Spare slots: heat-led (boards the target can power at the lowest level, start tolerance included: more boards
 *    at lower levels compute more per joule), boiler sink (boilers up to maxW: the year-round heat sink), room
 *    surplus (rooms up to maxW, for onDemand/reserved work, work with a deadline and work at risk). Heaters sit in
 *    buckets by how long they keep wanting heat (wantHeatH).
 * 3. Queue: EDF within a class, onDemand/reserved before flex (a heap; a second heap keyed by the time each
 *    deadline turns at risk). Deadline arithmetic plans the estimate plus estimateMargin of it (customers' estimates
 *    err). Work at risk (needs more than riskRate of a top-level board) is placed first, on a heater able to run it
 *    fast enough within its cap (derating-aware: past the derating knee a faster level computes less); if it cannot
 *    finish even at the top level, or cannot wait one more period, it overflows. Then the queue in order: each
 *    instance goes to its data's site if a heat-led slot is there, else to the heater whose wantHeatH best covers
 *    its estimated duration (smallest that covers, else the longest), never where one more board would slow work at
 *    risk. Paused checkpointable work stuck for migrateAfterS (at risk: at once) moves to heat-led slots; work without
 *    a deadline still stuck after evictAfterS goes back to the queue with its progress (a kill that loses nothing):
 *    its board switches off instead of idling for days in a room that wants no heat, and the room's budget (and
 *    board) is free for deadline work when the room cools.
 * 4. Per heater: filler only where the room wants heat and no paid work took the boards; the level whose power is
 *    closest to the target (raised for work at risk, within the cap; running faster than the heat asks was tried
 *    in the twin and loses in rooms: heat spent early is heat not asked for later, at a worse compute per joule). A
 *    boiler running paid work aims at its cap instead: the tank takes heat up to maxW at no comfort cost, and what the
 *    boards do not give it now its resistive top-up gives later. The booster only for what every board at the top
 *    level cannot give.
 * Instances no heater can ever host overflow. Work without a deadline never overflows: it waits for heat.
 */
export class HearthPolicy implements Policy {
  readonly name = 'hearth';
  private readonly o: Resolved;
  private table: InstanceTable | null = null;
  private readonly main: StampedHeap;
  private readonly risk: StampedHeap;
  /** Work at risk that found no heater fast enough, by the time it can wait no longer. */
  private readonly wait: StampedHeap;
  private waitKey = new Float64Array(0);
  private inQueue = new Uint8Array(0);
  private stamp = new Int32Array(0);
  private riskKey = new Float64Array(0);
  private pausedAtS = new Float64Array(0);
  private queued = 0;
  /** Queued instances with a deadline (the backlog that makes heaters run paid work at the top of their cap). */
  private queuedDeadline = 0;
  private fresh: number[] = [];
  private lastStarts: number[] = [];
  private round = 0;
  private readonly configs = new HardwareConfigs();
  private readonly sites = new SiteIndex();
  private readonly buckets = [new HeaterBuckets(), new HeaterBuckets(), new HeaterBuckets()];
  private readonly totals = [0, 0, 0];
  /** The sink of a round whose caller gave none (over its array). */
  private readonly arraySink = new ArraySink();
  /** Round whose surplus pools (boiler sink, room surplus) are built: on their first search only (see buildSurplus). */
  private surplusRound = -1;

  // Per heater (sized to the fleet).
  private flags = new Uint8Array(0);
  /**
   * Per heater, four powers side by side (W; index 4h + HW_*): the cap, the target, the stand-by floor of its boards
   * and the dynamic power a board may add under derating. One array: the scan writes them together, readers use them
   * together.
   */
  private hw = new Float64Array(0);
  // Board counts (≤ boards[h] ≤ 255: FleetView.boards is a Uint8Array): 16 bits, half the memory traffic of 32.
  private heat = new Int16Array(0);
  private extra = new Int16Array(0);
  private nComp = new Int16Array(0);
  private nPaused = new Int16Array(0);
  private started = new Int16Array(0);
  private nHeat = new Int16Array(0);
  private reqLevel = new Int32Array(0);
  // Per board slot.
  private taken = new Int32Array(0);
  private vacated = new Int32Array(0);
  /** Per model: the scan's numbers (MC_* offsets) and boards. */
  private modelConst = new Float64Array(0);
  private modelBoards = new Int32Array(0);
  /** Per model: 1 when its boards' dynamic power never falls from one level to the next (finishHeater's early exit). */
  private ascending = new Uint8Array(0);

  // Scratch of one round.
  private now = 0;
  private periodS = 60;
  private migrants: number[] = [];
  private migrantCode: number[] = [];
  /** Per-heater scratch of the scan (typed, sized to maxBoards: no allocation per heater). */
  private scratchWaiting = new Int32Array(0);
  private killedToRequeue: number[] = [];
  private scratchRun = new Int32Array(0);
  private scratchPaused = new Int32Array(0);

  /** Throws InvalidParameterError (field `hearth.<option>`) on an option out of range. */
  constructor(options: HearthOptions = {}) {
    const o: Resolved = { ...HEARTH_DEFAULTS, ...options };
    const K = 'hearth.';
    requireFinite(`${K}safetyMarginK`, o.safetyMarginK, 0, 50);
    requireFinite(`${K}evacuateMarginK`, o.evacuateMarginK, 0, o.safetyMarginK);
    requireFinite(`${K}startToleranceBoards`, o.startToleranceBoards, 0, 1);
    requireFinite(`${K}resumeFraction`, o.resumeFraction, 0, 1);
    requireFinite(`${K}plannedRate`, o.plannedRate, 0.01, 1);
    requireFinite(`${K}riskRate`, o.riskRate, 0.01, 1);
    requireFinite(`${K}deadlineMargin`, o.deadlineMargin, 0, 10);
    requireFinite(`${K}migrateAfterS`, o.migrateAfterS, 0);
    if (!(o.evictAfterS === Infinity)) requireFinite(`${K}evictAfterS`, o.evictAfterS, o.migrateAfterS);
    requireFinite(`${K}overshootK`, o.overshootK, 0.5, 50);
    requireFinite(`${K}overrunShare`, o.overrunShare, 0, 10);
    requireFinite(`${K}estimateMargin`, o.estimateMargin, 0, 10);
    requireFinite(`${K}missBudget`, o.missBudget, 1);
    if (!['urgent', 'high', 'deadline', 'all'].includes(o.roomSurplus)) {
      throw new InvalidParameterError(`${K}roomSurplus`, `must be 'urgent', 'high', 'deadline' or 'all', got '${String(o.roomSurplus)}'`);
    }
    this.o = o;
    // Orders (see pushMain, enqueue, toWait): main by class (high first), deadline, priority (higher first), submission;
    // risk by riskKey, wait by waitKey; each then by instance index.
    this.main = new StampedHeap();
    this.risk = new StampedHeap();
    this.wait = new StampedHeap();
  }

  /** New instances: checked against the fleet's hardware at the next round, then queued. */
  onSubmit(instances: readonly number[], table: InstanceTable): void {
    this.grow(table);
    for (const i of instances) this.fresh.push(i);
  }

  /**
   * A requeued instance goes back to the queue (its deadline order kept) through the next round's check against the
   * fleet's hardware, like a new one: one no heater can host (back from a lost overflow attempt) overflows again
   * instead of waiting for a heater that never comes. Ended ones leave nothing behind.
   */
  onChange(instance: number, table: InstanceTable): void {
    this.grow(table);
    this.pausedAtS[instance] = NaN;
    if (table.phase[instance] === InstancePhase.queued) this.fresh.push(instance);
  }

  /** One round (see the class comment). */
  decide(fleet: FleetView, table: InstanceTable, _overflow: OverflowPool, decisions: Decision[], sink?: DecisionSink): void {
    // Every decision goes through one sink: the caller's, else one over `decisions`.
    const out = sink ?? this.arraySink.to(decisions);
    this.grow(table);
    this.round++;
    this.now = fleet.nowS;
    this.periodS = fleet.periodS > 0 ? fleet.periodS : 60;
    this.configs.build(fleet);
    this.sites.build(fleet);
    // Many new instances at once: append, then restore heap order in O(n) instead of O(n log n).
    const bulk = this.fresh.length > 1024 && this.fresh.length > this.main.size;
    for (const i of this.fresh) {
      if (table.phase[i] !== InstancePhase.queued || this.inQueue[i]) continue;
      if (this.configs.canEverHost(table, i)) this.enqueue(i, false, bulk);
      else out.push({ kind: 'overflow', instance: i });
    }
    if (bulk) {
      this.main.heapify();
      this.risk.heapify();
    }
    this.fresh.length = 0;
    for (const i of this.lastStarts) if (table.phase[i] === InstancePhase.queued) this.enqueue(i);
    this.lastStarts.length = 0;
    if (this.main.size > 2 * this.queued + 4096) this.compact();

    this.sizeFleet(fleet);
    this.migrants.length = 0;
    this.migrantCode.length = 0;
    this.killedToRequeue.length = 0;
    this.scanAll(fleet, table, out);
    this.placeUrgent(fleet, table, out);
    this.placeMigrants(fleet, table, out);
    this.placeQueue(fleet, table, out);
    this.finishAll(fleet, out);
    this.requeueKilled(table);
  }

  /**
   * Step 1 over the fleet, and step 2's pools filled in the same pass, heater by heater in index order (as a pass of
   * its own would). The policy's hottest loop (every heater, every round): the scan of a heater is written out here
   * with every column in a local (a call per heater, and the fields of `this` loaded again after each call, were a
   * third of its cost); the rarer cases (offline, near safety, work on the boards, over the cap) call out.
   */
  private scanAll(fleet: FleetView, table: InstanceTable, out: DecisionSink): void {
    const nc = this.configs.count;
    for (const b of this.buckets) b.reset(nc);
    const { started, flags: flagsA, nPaused, heat: heatA, extra: extraA, nComp, nHeat: nHeatA, reqLevel, hw, pausedAtS } = this;
    const { online, models, model, boards, bodyC, airC, safetyC, kind, maxW: maxWA, requestW, minW: minWA, wantHeatH } = fleet;
    const slots = fleet.boardInstance;
    const phase = table.phase;
    const running = this.scratchRun;
    const paused = this.scratchPaused;
    const heatPool = this.buckets[POOL_HEAT];
    const configOf = this.configs.configOf;
    const mb = fleet.maxBoards;
    const now = this.now;
    const { safetyMarginK, evacuateMarginK, startToleranceBoards } = this.o;
    let totHeat = 0;
    let totSink = 0;
    let totRoom = 0;
    // Each model's numbers the scan needs, in a float64 column (and its boards in an int32 one): loaded per heater from
    // a few hot cache lines instead of through the model object, its board and its levels (dependent loads).
    const mc = this.modelNumbers(models);
    const mBoardsA = this.modelBoards;
    for (let h = 0, n = fleet.heaters; h < n; h++) {
      // Every per-heater field is written once on each path below (zeros where it has nothing to say).
      started[h] = 0;
      if (online[h] === 0) {
        flagsA[h] = 0;
        nPaused[h] = 0;
        this.zeroSlots(h);
        continue;
      }
      const mi = model[h];
      const mo = mi * MC_STRIDE;
      const capC = mc[mo + MC_CAP_C];
      const invSpanK = mc[mo + MC_INV_SPAN_K];
      const dynTopW = mc[mo + MC_DYN_TOP_W];
      const dyn0W = mc[mo + MC_DYN0_W];
      const idleW = mc[mo + MC_IDLE_W];
      const offW = mc[mo + MC_OFF_W];
      const mBoards = mBoardsA[mi];
      const nb = minBoards(boards[h], mb, mBoards);
      // derateFactor(m, bodyC), inlined.
      const d = (capC - bodyC[h]) * invSpanK;
      const capDyn = dynTopW * (d > 1 ? 1 : d > 0 ? d : 0);
      const base = nb * offW;
      // computingBoardW(m.board, 0, capDyn) and pausedBoardW(m.board), inlined.
      const inc0 = idleW + Math.min(dyn0W, capDyn) - offW;
      const pI = idleW - offW;
      const air = airC[h];
      const safety = safetyC[h];
      const safe = !(air >= safety - safetyMarginK);
      const flags = F_OK | (kind[h] === 1 ? F_BOILER : 0);
      const maxW = maxWA[h];
      const cap = safe ? (maxW > 0 ? maxW : 0) : 0;
      const reqW = requestW[h];
      const minW = minWA[h];
      const req = reqW > 0 ? reqW : 0;
      const lo = minW > 0 ? minW : 0;
      const tgt = Math.min(Math.max(req, lo), cap);
      const o4 = 4 * h;
      hw[o4 + HW_CAP] = cap;
      hw[o4 + HW_TGT] = tgt;
      hw[o4 + HW_BASE] = base;
      hw[o4 + HW_CAPDYN] = capDyn;

      // Inventory of the boards.
      let nRun = 0;
      let nPau = 0;
      let free = 0;
      let inv = 0;
      for (let b = 0, s = h * mb; b < nb; b++, s++) {
        const v = slots[s];
        if (v >= 0) {
          const ph = phase[v];
          if (ph === InstancePhase.running) running[nRun++] = v;
          else if (ph === InstancePhase.paused) {
            if (Number.isNaN(pausedAtS[v])) pausedAtS[v] = now;
            paused[nPau++] = v;
          }
        } else if (v === BOARD_FILLER) {
          free++;
          inv |= F_FILLER;
        } else if (v === BOARD_FREE) {
          free++;
          inv |= F_FREE;
        }
      }

      if (!safe) {
        this.zeroSlots(h);
        this.scanUnsafe(h, flags, nb, nRun, nPau, air >= safety - evacuateMarginK, fleet, table, out);
        continue;
      }
      const fl = flags | inv;
      flagsA[h] = fl;
      let r = nRun;
      let q = nPau;
      if (nRun + nPau > 0) {
        // Work on the heater: pauses, resumes, migrations (writes nComp, nPaused, reqLevel).
        if (!this.scanWork(h, models[mi], nb, nRun, nPau, fleet, table, out)) free = 0;
        r = nComp[h];
        q = nPaused[h];
      } else {
        nComp[h] = 0;
        nPaused[h] = 0;
        reqLevel[h] = 0;
        if (base + r * inc0 + q * pI > cap + 1e-9) {
          // Over the cap with no work: filler stops, nothing new starts.
          this.fillerOff(h, nb, fleet, out);
          free = 0;
        }
      }
      const heatLimit = Math.min(cap, tgt + startToleranceBoards * inc0);
      const nHeat = boardsWithin(heatLimit - base - q * pI, inc0, nb - q);
      // The same call when the heat limit is the cap (one division saved).
      const nCap = heatLimit === cap ? nHeat : boardsWithin(cap - base - q * pI, inc0, nb - q);
      // finishHeater's filler budget: none when the target asks no heat.
      nHeatA[h] = tgt > 0 ? nHeat : 0;
      const heat = clampInt(nHeat - r, 0, free);
      heatA[h] = heat;
      const ex = clampInt(nCap - r, 0, free) - heat;
      const extra = ex < 0 ? 0 : ex;
      extraA[h] = extra;
      // Step 2: the heater's spare slots into the pools (see step 2 below).
      if (heat > 0) {
        heatPool.add(configOf[h], heatBucket(wantHeatH[h]), h);
        totHeat += heat;
      }
      if (extra > 0) {
        if (fl & F_BOILER) totSink += extra;
        else totRoom += extra;
      }
    }
    this.totals[POOL_HEAT] = totHeat;
    this.totals[POOL_SINK] = totSink;
    this.totals[POOL_ROOM] = totRoom;
  }

  /** The scan's per-model numbers (see scanAll), rebuilt each round (the view's models may change between rounds). */
  private modelNumbers(models: readonly HeaterModel[]): Float64Array {
    if (this.modelConst.length < models.length * MC_STRIDE) {
      this.modelConst = new Float64Array(models.length * MC_STRIDE);
      this.modelBoards = new Int32Array(models.length);
    }
    const mc = this.modelConst;
    for (let k = 0; k < models.length; k++) {
      const m = models[k];
      const o = k * MC_STRIDE;
      mc[o + MC_CAP_C] = m.capC;
      mc[o + MC_INV_SPAN_K] = m.invDerateSpanK;
      mc[o + MC_DYN_TOP_W] = m.board.dynTopW;
      mc[o + MC_DYN0_W] = m.board.dynWByLevel[0];
      mc[o + MC_IDLE_W] = m.board.idleW;
      mc[o + MC_OFF_W] = m.board.offW;
      this.modelBoards[k] = m.boards;
    }
    return mc;
  }

  /** Step 4 over the fleet. */
  private finishAll(fleet: FleetView, out: DecisionSink): void {
    const models = fleet.models;
    if (this.ascending.length < models.length) this.ascending = new Uint8Array(models.length);
    for (let k = 0; k < models.length; k++) this.ascending[k] = ascendingLevels(models[k]) ? 1 : 0;
    for (let h = 0, n = fleet.heaters; h < n; h++) {
      const flags = this.flags[h];
      // Most heaters have nothing to finish (offline; or safe with no filler board, nothing computing and no filler
      // to start): then the level stays and the booster is off. The same tests as finishHeater's, without the call.
      if ((flags & F_OK) === 0) continue;
      if ((flags & (F_SAFETY | F_FILLER)) === 0 && this.nComp[h] + this.started[h] === 0 && this.nHeat[h] <= 0) {
        if (Math.abs(0 - fleet.booster[h]) > 1e-3) out.booster(h, 0);
        continue;
      }
      this.finishHeater(h, fleet, out);
    }
  }

  /** Killed work goes back to the queue (a non-checkpointable instance restarts from scratch). */
  private requeueKilled(table: InstanceTable): void {
    const k = this.killedToRequeue;
    for (let j = 0; j < k.length; j++) this.enqueue(k[j], table.checkpointable[k[j]] === 0);
  }

  // ---- step 1: per heater state, pauses, resumes, safety -------------------------------------------------------

  /** No slots, nothing computing, no level asked on heater h (offline or near safety). */
  private zeroSlots(h: number): void {
    this.heat[h] = 0;
    this.extra[h] = 0;
    this.nComp[h] = 0;
    this.nHeat[h] = 0;
    this.reqLevel[h] = 0;
  }

  /** Filler stops on every board of heater h that runs it (those boards take nothing new this round). */
  private fillerOff(h: number, nb: number, fleet: FleetView, out: DecisionSink): void {
    const mb = fleet.maxBoards;
    for (let b = 0; b < nb; b++) {
      const s = h * mb + b;
      if (fleet.boardInstance[s] === BOARD_FILLER) {
        out.filler(h, b, false);
        this.vacated[s] = this.round;
      }
    }
  }

  /** Step 1 for a heater near its safety limit: everything pauses; at the evacuation margin paused work leaves. */
  private scanUnsafe(h: number, flags: number, nb: number, nRun: number, nPau: number, evacuate: boolean, fleet: FleetView, table: InstanceTable, out: DecisionSink): void {
    const mb = fleet.maxBoards;
    const running = this.scratchRun;
    const paused = this.scratchPaused;
    const now = this.now;
    this.flags[h] = flags | F_SAFETY;
    for (let iv = 0; iv < nRun; iv++) {
      const v = running[iv];
      out.push({ kind: 'pause', instance: v });
      this.pausedAtS[v] = now;
    }
    this.fillerOff(h, nb, fleet, out);
    let q = nRun + nPau;
    for (let iv = 0; iv < nPau; iv++) {
      const v = paused[iv];
      if (table.checkpointable[v]) {
        this.migrants.push(v);
        this.migrantCode.push(evacuate ? MIG_EVACUATE : MIG_SAFETY);
      } else if (evacuate) {
        out.push({ kind: 'kill', instance: v });
        this.killedToRequeue.push(v);
        this.vacated[h * mb + table.board[v]] = this.round;
        q--;
      }
    }
    this.nPaused[h] = q;
  }

  /**
   * Step 1 for a safe heater with work on its boards (scratchRun[0 .. nRun), scratchPaused[0 .. nPau)): pauses,
   * resumes, migration candidates; writes nComp, nPaused and reqLevel. Returns false when the heater is over its cap
   * (nothing new starts there).
   */
  private scanWork(h: number, m: HeaterModel, nb: number, nRun: number, nPau: number, fleet: FleetView, table: InstanceTable, out: DecisionSink): boolean {
    // The board powers again from what the scan stored (the same arithmetic): floating-point arguments of a call V8
    // does not inline are boxed, two numbers to collect per heater with work, every round.
    const inc0 = computingBoardW(m.board, 0, this.hw[4 * h + HW_CAPDYN]);
    const pI = pausedBoardW(m.board);
    const running = this.scratchRun;
    const paused = this.scratchPaused;
    const now = this.now;
    const cap = this.hw[4 * h + HW_CAP];
    const tgt = this.hw[4 * h + HW_TGT];
    const base = this.hw[4 * h + HW_BASE];
    let r = nRun;
    let q = nPau;
    let reqLevel = 0;
    let room = true;
    for (let iv = 0; iv < nRun; iv++) {
      const v = running[iv];
      const need = this.needRate(v, table);
      if (need >= this.o.riskRate) reqLevel = Math.max(reqLevel, this.levelFor(h, m, need));
    }
    // Paused work at risk: a checkpointable instance tries to move where it can run (else resumes here); the others
    // resume here, even a board's step past the cap (safety is kept by the margin above).
    const waiting = this.scratchWaiting;
    let nWait = 0;
    for (let iv = 0; iv < nPau; iv++) {
      const v = paused[iv];
      const need = this.needRate(v, table);
      if (need < this.o.riskRate) waiting[nWait++] = v;
      else if (table.checkpointable[v]) {
        this.migrants.push(v);
        this.migrantCode.push(MIG_RISK);
      } else {
        out.push({ kind: 'resume', instance: v });
        this.pausedAtS[v] = NaN;
        r++;
        q--;
        reqLevel = Math.max(reqLevel, this.levelFor(h, m, need));
      }
    }
    // Work that cannot move (not checkpointable) pauses only when the room overshoots by overshootK: a paused board
    // still idles at about 2/3 of its lowest-level power and computes nothing. It resumes 0.5 K below that.
    const diff = fleet.diffK[h];
    const overshoot = !(diff >= -this.o.overshootK);
    const settled = diff >= -this.o.overshootK + 0.5;
    let w = 0;
    for (let iv = 0; iv < nWait; iv++) {
      const v = waiting[iv];
      if (!table.checkpointable[v] && settled) {
        out.push({ kind: 'resume', instance: v });
        this.pausedAtS[v] = NaN;
        r++;
        q--;
      } else waiting[w++] = v;
    }
    nWait = w;
    if (base + r * inc0 + q * pI > cap + 1e-9) {
      // Over the cap: filler stops, then checkpointable work pauses (and moves to where heat is wanted), least urgent
      // first; work that cannot move keeps running at the lowest level unless the room overshoots. Work at risk runs.
      this.fillerOff(h, nb, fleet, out);
      room = false; // nothing new starts on a heater over its cap
      if (nRun > 1) this.sortKeep(running, nRun, table, false);
      for (let k = 0; k < nRun && base + r * inc0 + q * pI > cap + 1e-9; k++) {
        const v = running[k];
        if (this.needRate(v, table) >= this.o.riskRate) break; // sorted: the rest are at risk too
        if (!table.checkpointable[v] && !overshoot) continue;
        out.push({ kind: 'pause', instance: v });
        this.pausedAtS[v] = now;
        r--;
        q++;
      }
      for (let iv = 0; iv < nWait; iv++) this.pausedNotResumed(waiting[iv], table);
    } else {
      // Resume, most urgent first: flex within the target, onDemand/reserved within the cap (both with hysteresis).
      if (nWait > 1) this.sortKeep(waiting, nWait, table, true);
      const heatLim = Math.min(cap * this.o.resumeFraction, tgt + this.o.startToleranceBoards * inc0);
      const capLim = cap * this.o.resumeFraction;
      for (let iv = 0; iv < nWait; iv++) {
        const v = waiting[iv];
        const after = base + (r + 1) * inc0 + (q - 1) * pI;
        const high = classOfType(table.type[v]) === SchedClass.high;
        if (after <= (high ? capLim : heatLim) + 1e-9) {
          out.push({ kind: 'resume', instance: v });
          this.pausedAtS[v] = NaN;
          r++;
          q--;
        } else this.pausedNotResumed(v, table);
      }
    }
    this.nComp[h] = r;
    this.nPaused[h] = q;
    this.reqLevel[h] = reqLevel;
    return room;
  }

  /** A paused instance (not at risk) that stays paused: checkpointable ones stuck for migrateAfterS move to heat. */
  private pausedNotResumed(v: number, table: InstanceTable): void {
    if (table.checkpointable[v] && this.now - this.pausedAtS[v] >= this.o.migrateAfterS) {
      this.migrants.push(v);
      this.migrantCode.push(MIG_STUCK);
    }
  }

  /**
   * Sorts buf[0 .. n) by keepCompare (reverse: most urgent first). keepCompare is a strict total order (ties end on
   * the instance index), so this insertion sort (a heater's few boards) gives the order Array.prototype.sort gave.
   */
  private sortKeep(buf: Int32Array, n: number, table: InstanceTable, reverse: boolean): void {
    for (let i = 1; i < n; i++) {
      const v = buf[i];
      let j = i - 1;
      while (j >= 0 && (reverse ? this.keepCompare(v, buf[j], table) : this.keepCompare(buf[j], v, table)) > 0) {
        buf[j + 1] = buf[j];
        j--;
      }
      buf[j + 1] = v;
    }
  }

  /** Order for keeping work running: < 0 when a should be paused before b. */
  private keepCompare(a: number, b: number, table: InstanceTable): number {
    const ka = this.keepScore(a, table);
    const kb = this.keepScore(b, table);
    if (ka !== kb) return ka - kb;
    const sa = this.slackS(a, table);
    const sb = this.slackS(b, table);
    if (sa !== sb) return sa > sb ? -1 : 1;
    return a - b;
  }

  private keepScore(i: number, table: InstanceTable): number {
    let k = 0;
    if (this.needRate(i, table) >= this.o.riskRate) k += 4;
    if (classOfType(table.type[i]) === SchedClass.high) k += 2;
    if (!table.checkpointable[i]) k += 1;
    return k;
  }

  // ---- step 2: pools of spare slots ------------------------------------------------------------------------------

  // Heater h's spare slots go into the pools in scanAll, by its heat-duration bucket: heat-led slots into their
  // buckets at once (every round searches them); boiler-sink and room-surplus slots only into their totals. Most
  // heaters have surplus slots (rooms up to maxW) and few rounds search those pools (deadline or onDemand work that
  // found no heat-led slot: about one round in eight in the bench), so their buckets are built on a round's first
  // search (buildSurplus).

  /**
   * The boiler-sink and room-surplus buckets of this round, heater by heater in index order (the order scanAll would
   * have added them in). Between the scan and this call only take() on the heat-led pool ran, which never raises a
   * surplus count, and a heater whose count fell to 0 would have been dropped by the first search it met: the
   * searches see the same heaters in the same order.
   */
  private buildSurplus(fleet: FleetView): void {
    this.surplusRound = this.round;
    const extra = this.extra;
    const flags = this.flags;
    const configOf = this.configs.configOf;
    const wantHeatH = fleet.wantHeatH;
    const sink = this.buckets[POOL_SINK];
    const room = this.buckets[POOL_ROOM];
    for (let h = 0, n = fleet.heaters; h < n; h++) {
      if (extra[h] > 0) (flags[h] & F_BOILER ? sink : room).add(configOf[h], heatBucket(wantHeatH[h]), h);
    }
  }

  /**
   * Finds a heater for instance i in the given pools (in order) and takes one slot there; returns the board slot
   * index (h·maxBoards + b) or −1. `need` > 0: the heater must be able to run fast enough within its cap.
   */
  private place(i: number, pools: readonly number[], need: number, exclude: number, fleet: FleetView, table: InstanceTable): number {
    const rem = this.remainingS(i, table);
    const durH = rem / this.o.plannedRate / 3600;
    const nbk = heatBucket(durH);
    // The data's site first (heat-led slots only).
    const ds = table.dataSite[i];
    if (ds >= 0 && ds < this.sites.sites && pools[0] === POOL_HEAT && need <= 0) {
      const a = this.sites.start[ds];
      const z = Math.min(this.sites.start[ds + 1], a + SITE_LOOK);
      for (let j = a; j < z; j++) {
        const h = this.sites.heaters[j];
        if (h !== exclude && this.heat[h] > 0 && fleet.wantHeatH[h] >= durH && fitsHeater(fleet, h, table, i) && this.boardFits(h, this.reqLevel[h], fleet)) {
          return this.take(h, POOL_HEAT, fleet);
        }
      }
    }
    const f = this.filter;
    f.fleet = fleet;
    f.table = table;
    f.instance = i;
    f.need = need;
    f.exclude = exclude;
    for (const pool of pools) {
      if (this.totals[pool] <= 0) continue;
      if (pool !== POOL_HEAT && this.surplusRound !== this.round) this.buildSurplus(fleet);
      f.count = pool === POOL_HEAT ? this.heat : this.extra;
      let best = -1;
      let bestBucket = -1;
      for (let k = 0; k < this.configs.count; k++) {
        if (!this.configs.hosts(k, table, i)) continue;
        f.misc = this.configs.isMisc(k);
        const h = this.buckets[pool].find(k, nbk, f, f.misc || need > 0 || exclude >= 0);
        if (h < 0) continue;
        const bk = this.buckets[pool].lastBucket;
        // Best fit: the smallest bucket that covers the need, else the largest.
        const better = best < 0 || (bk >= nbk ? bestBucket < nbk || bk < bestBucket : bestBucket < nbk && bk > bestBucket);
        if (better) {
          best = h;
          bestBucket = bk;
        }
      }
      if (best >= 0) return this.take(best, pool, fleet);
    }
    return -1;
  }

  /** Takes one slot of pool `pool` on heater h: returns the board slot (a free board, else a filler one). */
  private take(h: number, pool: number, fleet: FleetView): number {
    const mb = fleet.maxBoards;
    const nb = Math.min(fleet.boards[h], mb);
    let slot = -1;
    for (let b = 0; b < nb && slot < 0; b++) {
      const s = h * mb + b;
      if (this.taken[s] !== this.round && this.vacated[s] !== this.round && fleet.boardInstance[s] === BOARD_FREE) slot = s;
    }
    for (let b = 0; b < nb && slot < 0; b++) {
      const s = h * mb + b;
      if (this.taken[s] !== this.round && this.vacated[s] !== this.round && fleet.boardInstance[s] === BOARD_FILLER) slot = s;
    }
    if (slot < 0) {
      // Inconsistent counts (cannot happen): retire the heater from every pool.
      this.totals[POOL_HEAT] -= this.heat[h];
      this.totals[this.flags[h] & F_BOILER ? POOL_SINK : POOL_ROOM] -= this.extra[h];
      this.heat[h] = 0;
      this.extra[h] = 0;
      return -1;
    }
    this.taken[slot] = this.round;
    if (pool === POOL_HEAT) this.heat[h]--;
    else this.extra[h]--;
    this.totals[pool]--;
    this.started[h]++;
    return slot;
  }

  /** Whether heater h, with one more board, can run at the level `need` asks within its cap. */
  /** Heater filter of `place` (one object per policy: no closure per query). */
  private readonly filter = {
    policy: this as HearthPolicy,
    fleet: null as unknown as FleetView,
    table: null as unknown as InstanceTable,
    count: new Int16Array(0),
    instance: 0,
    need: 0,
    exclude: -1,
    misc: false,
    /** Still has a slot in the pool, and one more board leaves room for the level work at risk there needs. */
    alive(h: number): boolean {
      const p = this.policy;
      return this.count[h] > 0 && (p.reqLevel[h] === 0 || p.boardFits(h, p.reqLevel[h], this.fleet));
    },
    /** Suits this query: not excluded, hardware fits (misc configurations), fast enough for work at risk. */
    ok(h: number): boolean {
      return (
        h !== this.exclude &&
        (!this.misc || fitsHeater(this.fleet, h, this.table, this.instance)) &&
        (this.need <= 0 || this.policy.fastEnough(h, this.need, this.fleet))
      );
    },
  };

  private fastEnough(h: number, need: number, fleet: FleetView): boolean {
    const m = fleet.models[fleet.model[h]];
    const lvl = this.levelFor(h, m, need);
    if (this.rateAt(h, m, lvl) < need * (1 + this.o.deadlineMargin) - 1e-12) return false;
    return this.boardFits(h, Math.max(lvl, this.reqLevel[h]), fleet);
  }

  /**
   * Throughput of one board of heater h at level `lvl` (1 = top level, undrated): a board whose dynamic power the
   * body-temperature derating caps is throttled by duty cycling, so above some level going faster computes less.
   */
  private rateAt(h: number, m: HeaterModel, lvl: number): number {
    const dyn = m.board.dynWByLevel[lvl];
    const cap = this.hw[4 * h + HW_CAPDYN];
    return m.board.relFreqByLevel[lvl] * (dyn > cap ? (dyn > 0 ? cap / dyn : 1) : 1);
  }

  /** Lowest level of heater h whose (derated) throughput reaches `need` plus the deadline margin, else the fastest. */
  private levelFor(h: number, m: HeaterModel, need: number): number {
    const want = need * (1 + this.o.deadlineMargin) - 1e-12;
    let best = 0;
    let bestRate = -1;
    for (let l = 0; l < m.board.levels; l++) {
      const r = this.rateAt(h, m, l);
      if (r >= want) return l;
      if (r > bestRate) {
        bestRate = r;
        best = l;
      }
    }
    return best;
  }

  /** Whether heater h, with one more board computing, stays within its cap at level `lvl`. */
  private boardFits(h: number, lvl: number, fleet: FleetView): boolean {
    const n = this.nComp[h] + this.started[h] + 1;
    return this.powerW(h, fleet.models[fleet.model[h]], n, lvl) <= this.hw[4 * h + HW_CAP] + 1e-9;
  }

  private powerW(h: number, m: HeaterModel, n: number, lvl: number): number {
    const bm = m.board;
    return this.hw[4 * h + HW_BASE] + n * computingBoardW(bm, lvl, this.hw[4 * h + HW_CAPDYN]) + this.nPaused[h] * pausedBoardW(bm);
  }

  // ---- step 3: work at risk, migrations, the queue ---------------------------------------------------------------

  /**
   * Work at risk. What turns at risk (risk heap, by the time its need reaches riskRate) joins the wait heap, keyed by
   * the last time it can wait. Each round the wait heap is served in that order, most pressing first, while slots
   * remain (misses bounded by missBudget): placed where a heater can run it fast enough, else kept, and what is due
   * and still unplaced overflows. So a round touches only what turns at risk, is placed or overflows.
   */
  private placeUrgent(fleet: FleetView, table: InstanceTable, out: DecisionSink): void {
    const horizon = this.now + this.periodS;
    while (this.risk.size > 0) {
      const i = this.risk.peekId();
      const st = this.risk.peekStamp();
      if (!this.valid(i, st, table)) {
        this.risk.pop();
        continue;
      }
      if (this.riskKey[i] > horizon) break;
      this.risk.pop();
      this.toWait(i, table);
    }
    const aside: number[] = [];
    let misses = 0;
    while (this.wait.size > 0) {
      const i = this.wait.peekId();
      const st = this.wait.peekStamp();
      if (!this.valid(i, st, table)) {
        this.wait.pop();
        continue;
      }
      const due = this.waitKey[i] <= this.now;
      const slots = this.totals[POOL_HEAT] + this.totals[POOL_SINK] + this.totals[POOL_ROOM] > 0;
      if (!due && (!slots || misses >= this.o.missBudget)) break;
      this.wait.pop();
      if (this.tryUrgent(i, fleet, table, out)) continue;
      if (due) this.overflowQueued(i, out);
      else {
        aside.push(i);
        misses++;
      }
    }
    for (const i of aside) this.wait.push(i, this.stamp[i], this.waitKey[i]);
  }

  /** Places (or, if doomed, overflows) a queued instance at risk; false when it must keep waiting. */
  private tryUrgent(i: number, fleet: FleetView, table: InstanceTable, out: DecisionSink): boolean {
    const need = this.needRate(i, table);
    if (need > 1) {
      this.overflowQueued(i, out);
      return true;
    }
    const slot = this.place(i, POOLS_ALL, need, -1, fleet, table);
    if (slot >= 0) {
      this.startOn(i, slot, fleet, out);
      const h = (slot / fleet.maxBoards) | 0;
      this.reqLevel[h] = Math.max(this.reqLevel[h], this.levelFor(h, fleet.models[fleet.model[h]], need));
      return true;
    }
    if (this.cannotWait(i, table)) {
      this.overflowQueued(i, out);
      return true;
    }
    return false;
  }

  /** Puts an instance at risk in the wait heap, keyed by the last time it can wait (see cannotWait), s. */
  private toWait(i: number, table: InstanceTable): void {
    this.waitKey[i] = table.deadlineS[i] - this.deadlineWorkS(i, table) * (1 + this.o.deadlineMargin) - this.periodS;
    this.wait.push(i, this.stamp[i], this.waitKey[i]);
  }

  private placeMigrants(fleet: FleetView, table: InstanceTable, out: DecisionSink): void {
    const mb = fleet.maxBoards;
    for (let k = 0; k < this.migrants.length; k++) {
      const i = this.migrants[k];
      const code = this.migrantCode[k];
      const from = table.heater[i];
      const need = this.needRate(i, table);
      const atRisk = need >= this.o.riskRate;
      const slot = this.place(i, code === MIG_STUCK ? POOLS_MIGRATE : POOLS_ALL, atRisk ? need : 0, from, fleet, table);
      const fromSlot = from >= 0 && table.board[i] >= 0 ? from * mb + table.board[i] : -1;
      if (slot >= 0) {
        const h = (slot / mb) | 0;
        // 'migrate' targets a free board: stop filler there first.
        if (fleet.boardInstance[slot] === BOARD_FILLER) out.filler(h, slot - h * mb, false);
        out.push({ kind: 'migrate', instance: i, heater: h, board: slot - h * mb });
        this.pausedAtS[i] = NaN;
        if (atRisk) this.reqLevel[h] = Math.max(this.reqLevel[h], this.levelFor(h, fleet.models[fleet.model[h]], need));
      } else if (
        code === MIG_EVACUATE ||
        (code === MIG_STUCK && !(table.deadlineS[i] < Infinity) && this.now - this.pausedAtS[i] >= this.o.evictAfterS)
      ) {
        // Air at the evacuation margin and nowhere to go, or work without a deadline stuck for evictAfterS: kill (a
        // checkpointable instance keeps its progress; its board switches off and the room's budget is free again).
        out.push({ kind: 'kill', instance: i });
        this.killedToRequeue.push(i);
      } else if (code === MIG_RISK && from >= 0) {
        // At risk, nowhere better: resume where it is.
        out.push({ kind: 'resume', instance: i });
        this.pausedAtS[i] = NaN;
        this.nComp[from]++;
        this.nPaused[from]--;
        this.reqLevel[from] = Math.max(this.reqLevel[from], this.levelFor(from, fleet.models[fleet.model[from]], need));
        continue;
      } else if (atRisk && this.cannotWait(i, table)) {
        out.push({ kind: 'overflow', instance: i });
      } else continue;
      if (from >= 0) this.nPaused[from]--;
      if (fromSlot >= 0) this.vacated[fromSlot] = this.round;
    }
  }

  private placeQueue(fleet: FleetView, table: InstanceTable, out: DecisionSink): void {
    const aside: number[] = [];
    let misses = 0;
    const surplus = this.o.roomSurplus;
    while (this.main.size > 0 && misses < this.o.missBudget) {
      const heatLeft = this.totals[POOL_HEAT] + this.totals[POOL_SINK];
      if (heatLeft + this.totals[POOL_ROOM] <= 0) break;
      const i = this.main.peekId();
      const st = this.main.peekStamp();
      this.main.pop();
      if (!this.valid(i, st, table)) continue;
      const high = classOfType(table.type[i]) === SchedClass.high;
      const need = this.needRate(i, table);
      const urgent = need >= this.o.riskRate;
      const roomOk = surplus === 'all' || urgent || (surplus !== 'urgent' && (high || (surplus === 'deadline' && table.deadlineS[i] < Infinity)));
      if (heatLeft <= 0 && !roomOk) {
        aside.push(i);
        if (!high) break; // every instance left is flex, and work at risk went first
        misses++;
        continue;
      }
      const slot = this.place(i, roomOk ? POOLS_ALL : POOLS_HEAT, urgent ? need : 0, -1, fleet, table);
      if (slot < 0) {
        aside.push(i);
        misses++;
        continue;
      }
      this.startOn(i, slot, fleet, out);
    }
    for (const i of aside) this.pushMain(i, this.stamp[i], false);
  }

  private startOn(i: number, slot: number, fleet: FleetView, out: DecisionSink): void {
    const mb = fleet.maxBoards;
    const h = (slot / mb) | 0;
    out.start(i, h, slot - h * mb);
    this.lastStarts.push(i);
    this.dequeued(i);
  }

  private overflowQueued(i: number, out: DecisionSink): void {
    out.push({ kind: 'overflow', instance: i });
    this.dequeued(i);
  }

  // ---- step 4: filler, level, booster ------------------------------------------------------------------------------

  private finishHeater(h: number, fleet: FleetView, out: DecisionSink): void {
    const flags = this.flags[h];
    if ((flags & F_OK) === 0) return;
    if (flags & F_SAFETY) {
      if (fleet.booster[h] > 0) out.booster(h, 0);
      return;
    }
    const mb = fleet.maxBoards;
    let comp = this.nComp[h] + this.started[h];
    // nHeat is 0 when the target asks no heat (scanAll).
    let fill = Math.max(0, this.nHeat[h] - comp);
    // Most heaters have no filler board and no filler to start: their board loops would do nothing (the inventory
    // flags are scanAll's, and the policy never writes boardInstance).
    if ((flags & F_FILLER) !== 0 || (fill > 0 && (flags & F_FREE) !== 0)) {
      const nb = minBoards(fleet.boards[h], mb, fleet.models[fleet.model[h]].boards);
      const taken = this.taken;
      const vacated = this.vacated;
      const round = this.round;
      const slots = fleet.boardInstance;
      // (Board tests cheapest first: most boards fail the first.)
      for (let b = 0; b < nb; b++) {
        const s = h * mb + b;
        if (slots[s] !== BOARD_FILLER || taken[s] === round || vacated[s] === round) continue;
        if (fill > 0) {
          fill--;
          comp++;
        } else out.filler(h, b, false);
      }
      for (let b = 0; b < nb && fill > 0; b++) {
        const s = h * mb + b;
        if (slots[s] !== BOARD_FREE || taken[s] === round || vacated[s] === round) continue;
        out.filler(h, b, true);
        fill--;
        comp++;
      }
    }
    // Nothing computing: the level stays and the booster is off.
    let boost = 0;
    if (comp > 0) {
      const m = fleet.models[fleet.model[h]];
      const nb = minBoards(fleet.boards[h], mb, m.boards);
      const top = m.board.levels - 1;
      const cap = this.hw[4 * h + HW_CAP];
      // A boiler's tank takes heat up to its cap (maxW: headroom and the exchanger) at no comfort cost, and what the
      // boards do not give the tank its resistive top-up gives later: paid work there runs as fast as the cap allows.
      const sinkPaid = (flags & F_BOILER) !== 0 && this.nComp[h] + this.started[h] > 0;
      const tgt = sinkPaid ? cap : this.hw[4 * h + HW_TGT];
      let best = 0;
      let bestErr = Infinity;
      let capLvl = 0;
      // this.powerW(h, m, comp, l), its terms hoisted out of the loop (same arithmetic, same order).
      const bm = m.board;
      const baseW = this.hw[4 * h + HW_BASE];
      const capDyn = this.hw[4 * h + HW_CAPDYN];
      const pausedW = this.nPaused[h] * pausedBoardW(bm);
      const reqLevel = this.reqLevel[h];
      const ascending = this.ascending[fleet.model[h]] === 1;
      for (let l = 0; l <= top; l++) {
        const p = baseW + comp * computingBoardW(bm, l, capDyn) + pausedW;
        if (p > cap + 1e-9 && l > 0) break;
        if (p <= cap + 1e-9) capLvl = l;
        const err = Math.abs(p - tgt);
        if (err < bestErr - 1e-9) {
          bestErr = err;
          best = l;
        }
        // With dynamic power ascending and comp > 0, p never falls as l rises (each operation is monotonic): once p ≥ tgt
        // the error only grows, so no later level beats `best` by 1e-9; and capLvl only matters when the requested
        // level is above best (else min(reqLevel, capLvl) ≤ reqLevel ≤ best). Then the remaining levels change nothing.
        if (ascending && p >= tgt && reqLevel <= best) break;
      }
      const lvl = Math.max(best, Math.min(reqLevel, capLvl));
      if (lvl !== fleet.level[h]) out.level(h, lvl);
      // Booster: only what every board computing at the top level cannot give.
      if (m.boosterW > 0 && comp === nb - this.nPaused[h] && lvl === top) {
        const deficit = tgt - this.powerW(h, m, comp, top);
        if (deficit > 0) {
          boost = Math.min(1, deficit / m.boosterW);
          if (m.boosterDerates) boost = Math.min(boost, derateFactor(m, fleet.bodyC[h]));
        }
      }
    }
    if (Math.abs(boost - fleet.booster[h]) > 1e-3) out.booster(h, boost);
  }

  // ---- queue bookkeeping ---------------------------------------------------------------------------------------------

  private grow(table: InstanceTable): void {
    const n = table.taskId.length;
    this.inQueue = growUint8(this.inQueue, n);
    this.stamp = growInt32(this.stamp, n);
    this.riskKey = growFloat64(this.riskKey, n);
    this.waitKey = growFloat64(this.waitKey, n);
    this.pausedAtS = growFloat64(this.pausedAtS, n, NaN);
    this.table = table;
  }

  private sizeFleet(fleet: FleetView): void {
    const H = fleet.heaters;
    if (this.flags.length < H) {
      this.flags = new Uint8Array(H);
      this.hw = new Float64Array(4 * H);
      this.heat = new Int16Array(H);
      this.extra = new Int16Array(H);
      this.nComp = new Int16Array(H);
      this.nPaused = new Int16Array(H);
      this.started = new Int16Array(H);
      this.nHeat = new Int16Array(H);
      this.reqLevel = new Int32Array(H);
    }
    if (this.scratchRun.length < fleet.maxBoards) {
      this.scratchRun = new Int32Array(fleet.maxBoards);
      this.scratchPaused = new Int32Array(fleet.maxBoards);
      this.scratchWaiting = new Int32Array(fleet.maxBoards);
    }
    if (this.taken.length < H * fleet.maxBoards) {
      this.taken = new Int32Array(H * fleet.maxBoards);
      this.vacated = new Int32Array(H * fleet.maxBoards);
    }
  }

  /**
   * Queues instance i; `restart`: its progress is about to be lost (a kill), so its remaining work is all of it;
   * `bulk`: append only (the caller heapifies both heaps before the next pop).
   */
  private enqueue(i: number, restart = false, bulk = false): void {
    if (this.inQueue[i]) return;
    const t = this.table as InstanceTable;
    this.inQueue[i] = 1;
    this.queued++;
    if (t.deadlineS[i] < Infinity) this.queuedDeadline++;
    const st = ++this.stamp[i];
    this.pushMain(i, st, bulk);
    const dl = t.deadlineS[i];
    if (dl < Infinity) {
      const est = t.estWorkS[i];
      const rem = (restart ? (est > 0 ? est : UNKNOWN_WORK_S) : this.remainingS(i, t)) * (1 + this.o.estimateMargin);
      this.riskKey[i] = dl - rem / this.o.riskRate;
      if (bulk) this.risk.append(i, st, this.riskKey[i]);
      else this.risk.push(i, st, this.riskKey[i]);
    }
  }

  /**
   * Adds instance i to the main queue (appended without ordering when `bulk`): high class first (onDemand and
   * reserved before flex), then earliest deadline, highest priority, earliest submission.
   */
  private pushMain(i: number, st: number, bulk: boolean): void {
    const t = this.table as InstanceTable;
    const rank = t.type[i] === SchedulingType.flex ? 1 : 0;
    if (bulk) this.main.append(i, st, rank, t.deadlineS[i], -t.priority[i], t.submittedS[i]);
    else this.main.push(i, st, rank, t.deadlineS[i], -t.priority[i], t.submittedS[i]);
  }

  private dequeued(i: number): void {
    if (!this.inQueue[i]) return;
    this.inQueue[i] = 0;
    this.queued--;
    if ((this.table as InstanceTable).deadlineS[i] < Infinity) this.queuedDeadline--;
  }

  /** Whether a heap entry still stands for a queued instance; clears stale membership. */
  private valid(i: number, st: number, table: InstanceTable): boolean {
    if (!this.inQueue[i] || this.stamp[i] !== st) return false;
    if (table.phase[i] !== InstancePhase.queued) {
      this.dequeued(i);
      return false;
    }
    return true;
  }

  private compact(): void {
    const t = this.table as InstanceTable;
    const keep = (i: number, st: number): boolean => this.inQueue[i] === 1 && this.stamp[i] === st && t.phase[i] === InstancePhase.queued;
    this.main.compact(keep);
    this.risk.compact(keep);
    this.wait.compact(keep);
  }

  /** Remaining work, board-seconds at the top level (the customer's estimate; UNKNOWN_WORK_S without one). */
  private remainingS(i: number, table: InstanceTable): number {
    const est = table.estWorkS[i];
    if (!(est > 0)) return UNKNOWN_WORK_S;
    return Math.max(est - table.doneS[i], this.o.overrunShare * est);
  }

  /** Remaining work planned for a deadline: the estimate plus estimateMargin of it (estimates err both ways), s. */
  private deadlineWorkS(i: number, table: InstanceTable): number {
    return this.remainingS(i, table) * (1 + this.o.estimateMargin);
  }

  /** Throughput (1 = a top-level board) needed to finish by the deadline; 0 without one, Infinity once past. */
  private needRate(i: number, table: InstanceTable): number {
    const dl = table.deadlineS[i];
    if (!(dl < Infinity)) return 0;
    const left = dl - this.now;
    if (!(left > 0)) return Infinity;
    // deadlineWorkS(i, table), written out: the scan asks this of every running instance each round, and a call V8
    // does not inline there returns its number boxed (a heap object to collect).
    const est = table.estWorkS[i];
    const rem = est > 0 ? Math.max(est - table.doneS[i], this.o.overrunShare * est) : UNKNOWN_WORK_S;
    return (rem * (1 + this.o.estimateMargin)) / left;
  }

  /** Seconds to spare at the top level before the deadline (Infinity without one). */
  private slackS(i: number, table: InstanceTable): number {
    const dl = table.deadlineS[i];
    return dl < Infinity ? dl - this.now - this.deadlineWorkS(i, table) : Infinity;
  }

  /** Whether waiting one more period would leave too little time even at the top level. */
  private cannotWait(i: number, table: InstanceTable): boolean {
    const left = table.deadlineS[i] - this.now - this.periodS;
    return !(left > 0) || (this.deadlineWorkS(i, table) / left) * (1 + this.o.deadlineMargin) > 1;
  }
}

/** Boards (0..max) whose added power `inc` (W each) fits in `budget`, W. */
function boardsWithin(budget: number, inc: number, max: number): number {
  if (!(budget >= 0)) return 0;
  if (!(inc > 0)) return max;
  // Most heaters end in one of these two cases; both skip the division and give what it gives. Under half a board:
  // budget < inc/2 (to within half a subnormal ulp), so budget/inc rounds to at most 0.5 and floor(· + 1e-9) is 0.
  // At least max + 1 boards: budget/inc ≥ (max + 1)(1 − 2⁻⁵³) > max + 0.5 rounds to at least that, floor to ≥ max.
  if (budget < 0.5 * inc) return 0 < max ? 0 : max;
  if (budget >= (max + 1) * inc) return max;
  const n = Math.floor(budget / inc + 1e-9);
  return n < max ? n : max;
}

/** Whether the model's dynamic power per board is non-decreasing over its levels (false on a NaN). */
function ascendingLevels(m: HeaterModel): boolean {
  const dyn = m.board.dynWByLevel;
  for (let l = 1; l < m.board.levels; l++) if (!(dyn[l] >= dyn[l - 1])) return false;
  return true;
}

/** Power a board computing at level l adds to its heater over an off board, W (dynamic power capped at capDynW). */
function computingBoardW(bm: HeaterModel['board'], l: number, capDynW: number): number {
  return bm.idleW + Math.min(bm.dynWByLevel[l], capDynW) - bm.offW;
}

/** Power a paused board (idle, no dynamic power) adds to its heater over an off board, W. */
function pausedBoardW(bm: HeaterModel['board']): number {
  return bm.idleW - bm.offW;
}

/** Math.min of three board counts (non-negative integers). */
function minBoards(a: number, b: number, c: number): number {
  const ab = a < b ? a : b;
  return ab < c ? ab : c;
}

function clampInt(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

