// The baseline to beat: Qarnot's published band rules (SCHEDULING.md, after their Batsim QNode/QBox schedulers),
// reproduced with incremental indexes so one round costs O(heaters·boards) + O(placed·log), not a queue sort.
import type { Decision, FleetView, InstanceTable, OverflowPool, Policy } from './types.ts';
import { BOARD_FILLER, BOARD_FREE, InstancePhase } from './types.ts';
import { classOfType, fitsHeater, growInt32, growUint8, HardwareConfigs, IndexedHeap } from './indexes.ts';
import { SchedClass } from './view.ts';
import type { QarnotBandsOptions } from './view.ts';
import { requireFinite } from '../physics/errors.ts';

/** Slot tiers, in dispatch order: open to BKGD (diff ≥ +1 K), to LOW (≥ −1 K), to HIGH (≥ −4 K), then LOW work HIGH may preempt. */
const TIER_BKGD = 0;
const TIER_LOW = 1;
const TIER_HIGH = 2;
const TIER_PREEMPT = 3;
const TIERS = 4;
const HIGH_TIERS = [TIER_BKGD, TIER_LOW, TIER_HIGH, TIER_PREEMPT];
const LOW_TIERS = [TIER_BKGD, TIER_LOW];
/** Sites tried without placing anything before a task gives up on a tier; slots looked at past a misfit. */
const SITE_SKIP_LIMIT = 64;
const MISFIT_LIMIT = 32;

/**
 * Qarnot's band rules. Classes: BKGD = filler (heat only), LOW = flex, HIGH = onDemand and reserved. Signal per
 * heater: diff = setpoint − air, K (boilers: setpoint − top layer).
 *
 * Each round: (1) kills — running work is killed when diff < its class's kill band (BKGD −1 K, LOW −3 K,
 * HIGH −10 K); a killed instance returns to the queue and restarts from scratch unless checkpointable (the
 * engine's rule); (2) dispatch — tasks by class (HIGH first), then decreasing task priority, ties to the task with
 * the fewest instances running (keys kept in an indexed heap, so the order is that of the round's start); each task
 * places as many instances as it can, first on slots open to BKGD (free or filler boards where diff ≥ +1 K), then
 * open to LOW (diff ≥ −1 K), then open to HIGH (diff ≥ −4 K, HIGH only), and as a last resort HIGH preempts
 * (kills) running LOW work on heaters with diff ≥ −4 K; within a tier, sites with the fewest slots of that tier
 * first, all the site can take; within a site HIGH goes to the coolest heater (largest diff), LOW to the warmest;
 * (3) frequency — every free board left on a heater with diff ≥ +1 K starts filler; a heater already running
 * instances steps one level up when diff ≥ +1 K and down when diff ≤ −1 K; a heater only starting work (or only
 * running filler) runs at full speed.
 *
 * Deviations from the Batsim code, on purpose: a slot's tier is decided by its heater's diff alone (the code
 * counted filler boards as LOW slots), tiers are strict within a site (the code let a QBox use any slot of the
 * class), and preemption comes after every free slot of the fleet. The baseline never overflows, except instances
 * no heater of the fleet can ever host (cores, memory, GPU), which overflow the round after submission. Paused
 * instances (this policy never pauses) resume unless their band kills them.
 */
export class QarnotBandsPolicy implements Policy {
  readonly name = 'qarnot-bands';
  private readonly startK: { bkgd: number; low: number; high: number };
  private readonly killK: { bkgd: number; low: number; high: number };
  private readonly stepUpK: number;
  private readonly stepDownK: number;
  private readonly missBudget: number;

  // Tasks (groups of instances sharing task id and scheduling type), with an intrusive FIFO of queued instances.
  private readonly groupOf = new Map<number, number>();
  private gClass: number[] = [];
  private gPriority: number[] = [];
  private gRunning: number[] = [];
  private gWaiting: number[] = [];
  private gHead: number[] = [];
  private gTail: number[] = [];
  private readonly taskHeap: IndexedHeap;

  // Per instance.
  private next = new Int32Array(0);
  private inQueue = new Uint8Array(0);
  private counted = new Uint8Array(0);
  private gid = new Int32Array(0);
  private table: InstanceTable | null = null;
  private fresh: number[] = [];
  private lastStarts: number[] = [];
  private readonly configs = new HardwareConfigs();

  // Per round, per slot entry (board slot index), sorted by segment (site·4 + tier) then diff descending.
  private entries = new Int32Array(0);
  private entrySeg = new Int32Array(0);
  private entryUsed = new Uint8Array(0);
  private segStart = new Int32Array(0);
  private segLo = new Int32Array(0);
  private segHi = new Int32Array(0);
  private segCount = new Int32Array(0);
  private readonly siteHeaps: IndexedHeap[] = [];
  private keptRunning = new Int32Array(0);
  private startedOn = new Int32Array(0);
  private taken = new Int32Array(0);
  private vacated = new Int32Array(0);
  private sortBuf = new Int32Array(0);
  private round = 0;

  /** Throws InvalidParameterError (field `qarnot-bands.<option>`) on a non-finite threshold or budget. */
  constructor(options: QarnotBandsOptions = {}) {
    this.startK = { ...{ bkgd: 1, low: -1, high: -4 }, ...options.startK };
    this.killK = { ...{ bkgd: -1, low: -3, high: -10 }, ...options.killK };
    this.stepUpK = options.stepUpK ?? 1;
    this.stepDownK = options.stepDownK ?? -1;
    this.missBudget = options.missBudget ?? 256;
    for (const c of ['bkgd', 'low', 'high'] as const) {
      requireFinite(`qarnot-bands.startK.${c}`, this.startK[c]);
      requireFinite(`qarnot-bands.killK.${c}`, this.killK[c], -Infinity, this.startK[c]);
    }
    requireFinite('qarnot-bands.stepUpK', this.stepUpK);
    requireFinite('qarnot-bands.stepDownK', this.stepDownK, -Infinity, this.stepUpK);
    requireFinite('qarnot-bands.missBudget', this.missBudget, 1);
    this.taskHeap = new IndexedHeap((a, b) => {
      if (this.gClass[a] !== this.gClass[b]) return this.gClass[a] > this.gClass[b];
      if (this.gPriority[a] !== this.gPriority[b]) return this.gPriority[a] > this.gPriority[b];
      if (this.gRunning[a] !== this.gRunning[b]) return this.gRunning[a] < this.gRunning[b];
      return a < b;
    });
    for (let t = 0; t < TIERS; t++) {
      const tier = t;
      this.siteHeaps.push(
        new IndexedHeap((a, b) => {
          const ca = this.segCount[a * TIERS + tier];
          const cb = this.segCount[b * TIERS + tier];
          return ca !== cb ? ca < cb : a < b;
        }),
      );
    }
  }

  /** New instances: checked against the fleet's hardware at the next round, then queued under their task. */
  onSubmit(instances: readonly number[], table: InstanceTable): void {
    this.grow(table);
    for (const i of instances) this.fresh.push(i);
  }

  /**
   * Ended instances leave their task's running count; requeued ones go to the back of their task's queue, through the
   * next round's hardware check like new ones (one no heater can host, back from a lost overflow attempt, overflows).
   */
  onChange(instance: number, table: InstanceTable): void {
    this.grow(table);
    this.uncount(instance);
    if (table.phase[instance] === InstancePhase.queued) this.fresh.push(instance);
  }

  /** One round of the band rules (see the class comment). */
  decide(fleet: FleetView, table: InstanceTable, _overflow: OverflowPool, out: Decision[]): void {
    this.grow(table);
    this.round++;
    this.configs.build(fleet);
    for (const i of this.fresh) {
      if (table.phase[i] !== InstancePhase.queued) continue;
      if (this.configs.canEverHost(table, i)) this.enqueue(i);
      else out.push({ kind: 'overflow', instance: i });
    }
    this.fresh.length = 0;
    for (const i of this.lastStarts) {
      // A start the engine did not apply: back to the queue.
      if (table.phase[i] === InstancePhase.queued) {
        this.uncount(i);
        this.enqueue(i);
      }
    }
    this.lastStarts.length = 0;

    const H = fleet.heaters;
    const mb = fleet.maxBoards;
    if (this.keptRunning.length < H) {
      this.keptRunning = new Int32Array(H);
      this.startedOn = new Int32Array(H);
    }
    if (this.taken.length < H * mb) {
      this.taken = new Int32Array(H * mb);
      this.vacated = new Int32Array(H * mb);
      this.sortBuf = new Int32Array(H * mb);
      this.entries = new Int32Array(H * mb);
      this.entrySeg = new Int32Array(H * mb);
      this.entryUsed = new Uint8Array(H * mb);
    }
    let sites = 1;
    for (let h = 0; h < H; h++) if (fleet.site[h] + 1 > sites) sites = fleet.site[h] + 1;
    const nSeg = sites * TIERS;
    if (this.segStart.length < nSeg + 1) {
      this.segStart = new Int32Array(nSeg + 1);
      this.segLo = new Int32Array(nSeg);
      this.segHi = new Int32Array(nSeg);
      this.segCount = new Int32Array(nSeg);
    } else this.segCount.fill(0, 0, nSeg);

    // (1) Kills and slot tiers.
    const killed: number[] = [];
    let nEntries = 0;
    const segOfSlot = this.entrySeg; // reused: first pass stores each entry's segment
    for (let h = 0; h < H; h++) {
      this.keptRunning[h] = 0;
      this.startedOn[h] = 0;
      if (fleet.online[h] === 0) continue;
      const d = fleet.diffK[h];
      const site = fleet.site[h] > 0 ? fleet.site[h] : 0;
      const freeTier = d >= this.startK.bkgd ? TIER_BKGD : d >= this.startK.low ? TIER_LOW : d >= this.startK.high ? TIER_HIGH : -1;
      const nb = Math.min(fleet.boards[h], mb);
      for (let b = 0; b < nb; b++) {
        const s = h * mb + b;
        const v = fleet.boardInstance[s];
        let tier = -1;
        if (v >= 0) {
          const ph = table.phase[v];
          if (ph !== InstancePhase.running && ph !== InstancePhase.paused) continue;
          const cls = classOfType(table.type[v]);
          if (d < (cls === SchedClass.high ? this.killK.high : this.killK.low)) {
            out.push({ kind: 'kill', instance: v });
            killed.push(v);
            this.uncount(v);
            this.vacated[s] = this.round;
            tier = freeTier;
          } else {
            // A resumed instance is not preemptible this round (one decision per instance).
            if (ph === InstancePhase.paused) out.push({ kind: 'resume', instance: v });
            else if (cls === SchedClass.low && d >= this.startK.high) tier = TIER_PREEMPT;
            this.keptRunning[h]++;
          }
        } else if (v === BOARD_FILLER) {
          if (d < this.killK.bkgd) out.push({ kind: 'filler', heater: h, board: b, on: false });
          tier = freeTier;
        } else if (v === BOARD_FREE) tier = freeTier;
        if (tier >= 0) {
          this.entries[nEntries] = s;
          segOfSlot[nEntries] = site * TIERS + tier;
          this.segCount[site * TIERS + tier]++;
          nEntries++;
        }
      }
    }
    this.buildSegments(fleet, nEntries, nSeg);

    // (2) Dispatch.
    this.table = table;
    const popped: number[] = [];
    let misses = 0;
    while (this.taskHeap.size > 0 && misses < this.missBudget) {
      const lowOpen = this.siteHeaps[TIER_BKGD].size + this.siteHeaps[TIER_LOW].size > 0;
      const highOpen = lowOpen || this.siteHeaps[TIER_HIGH].size + this.siteHeaps[TIER_PREEMPT].size > 0;
      if (!highOpen) break;
      const g = this.taskHeap.pop();
      popped.push(g);
      if (this.gClass[g] !== SchedClass.high && !lowOpen) break; // every task left is LOW
      const placed = this.dispatchTask(g, fleet, table, out, killed, mb);
      if (placed === 0) misses++;
    }
    for (const g of popped) if (this.gWaiting[g] > 0) this.taskHeap.push(g);

    // (3) Frequency and filler.
    for (let h = 0; h < H; h++) {
      if (fleet.online[h] === 0) continue;
      const d = fleet.diffK[h];
      const nb = Math.min(fleet.boards[h], mb);
      let computing = this.keptRunning[h] + this.startedOn[h];
      for (let b = 0; b < nb; b++) {
        const s = h * mb + b;
        if (this.taken[s] === this.round) continue;
        const v = fleet.boardInstance[s];
        if (v === BOARD_FILLER) {
          if (d >= this.killK.bkgd) computing++;
        } else if ((v === BOARD_FREE || this.vacated[s] === this.round) && d >= this.startK.bkgd) {
          out.push({ kind: 'filler', heater: h, board: b, on: true });
          computing++;
        }
      }
      if (computing === 0) continue;
      const top = fleet.models[fleet.model[h]].board.levels - 1;
      const cur = fleet.level[h];
      let lvl = top; // starting work or only filler: full speed
      if (this.keptRunning[h] > 0) {
        lvl = cur;
        if (d >= this.stepUpK) lvl = Math.min(top, cur + 1);
        else if (d <= this.stepDownK) lvl = Math.max(0, cur - 1);
      }
      if (lvl !== cur) out.push({ kind: 'level', heater: h, level: lvl });
    }
    for (const i of killed) this.enqueue(i);
  }

  /** Counting sort of the round's slot entries by segment, then diff descending within each segment. */
  private buildSegments(fleet: FleetView, n: number, nSeg: number): void {
    const start = this.segStart;
    start[0] = 0;
    for (let k = 0; k < nSeg; k++) start[k + 1] = start[k] + this.segCount[k];
    const fill = this.segLo; // as write cursors first
    for (let k = 0; k < nSeg; k++) fill[k] = start[k];
    const sorted = this.sortBuf;
    for (let e = 0; e < n; e++) sorted[fill[this.entrySeg[e]]++] = this.entries[e];
    this.entries.set(sorted.subarray(0, n));
    const mb = fleet.maxBoards;
    const diff = fleet.diffK;
    for (let k = 0; k < nSeg; k++) {
      const a = start[k];
      const z = start[k + 1];
      this.segLo[k] = a;
      this.segHi[k] = z - 1;
      if (z - a > 1) {
        const seg = this.entries.subarray(a, z);
        if (z - a <= 16) {
          for (let x = 1; x < seg.length; x++) {
            const v = seg[x];
            const dv = diff[(v / mb) | 0];
            let y = x - 1;
            while (y >= 0 && diff[(seg[y] / mb) | 0] < dv) {
              seg[y + 1] = seg[y];
              y--;
            }
            seg[y + 1] = v;
          }
        } else seg.sort((p, q) => diff[(q / mb) | 0] - diff[(p / mb) | 0] || p - q);
      }
    }
    this.entryUsed.fill(0, 0, n);
    for (let t = 0; t < TIERS; t++) this.siteHeaps[t].clear();
    const sites = nSeg / TIERS;
    for (let site = 0; site < sites; site++) {
      for (let t = 0; t < TIERS; t++) if (this.segCount[site * TIERS + t] > 0) this.siteHeaps[t].push(site);
    }
  }

  /** Places as many queued instances of task g as the tiers allow; returns how many. */
  private dispatchTask(g: number, fleet: FleetView, table: InstanceTable, out: Decision[], killed: number[], mb: number): number {
    const tiers = this.gClass[g] === SchedClass.high ? HIGH_TIERS : LOW_TIERS;
    let placed = 0;
    for (const tier of tiers) {
      const heap = this.siteHeaps[tier];
      const skipped: number[] = [];
      while (this.gWaiting[g] > 0 && heap.size > 0 && skipped.length < SITE_SKIP_LIMIT) {
        const site = heap.peek();
        const seg = site * TIERS + tier;
        const want = Math.min(this.segCount[seg], this.gWaiting[g]);
        const n = this.placeInSegment(g, seg, tier, want, fleet, table, out, killed, mb);
        placed += n;
        if (this.segCount[seg] === 0) heap.remove(site);
        else {
          heap.update(site);
          if (n < want) {
            heap.remove(site);
            skipped.push(site);
          }
        }
      }
      for (const s of skipped) heap.push(s);
      if (this.gWaiting[g] === 0) break;
    }
    return placed;
  }

  /** Places up to `want` instances of task g in one (site, tier) segment: HIGH from the coolest end, LOW from the warmest. */
  private placeInSegment(
    g: number,
    seg: number,
    tier: number,
    want: number,
    fleet: FleetView,
    table: InstanceTable,
    out: Decision[],
    killed: number[],
    mb: number,
  ): number {
    const high = this.gClass[g] === SchedClass.high;
    let placed = 0;
    let misfits = 0;
    let e = high ? this.segLo[seg] : this.segHi[seg];
    const end = high ? this.segHi[seg] + 1 : this.segLo[seg] - 1;
    const step = high ? 1 : -1;
    while (placed < want && e !== end && misfits < MISFIT_LIMIT) {
      if (this.entryUsed[e]) {
        e += step;
        continue;
      }
      const i = this.popInstance(g);
      if (i < 0) break;
      const s = this.entries[e];
      const h = (s / mb) | 0;
      if (!fitsHeater(fleet, h, table, i)) {
        this.pushFront(g, i);
        misfits++;
        e += step;
        continue;
      }
      if (tier === TIER_PREEMPT) {
        const victim = fleet.boardInstance[s];
        out.push({ kind: 'kill', instance: victim });
        killed.push(victim);
        this.uncount(victim);
        this.keptRunning[h]--;
      }
      out.push({ kind: 'start', instance: i, heater: h, board: s - h * mb });
      this.lastStarts.push(i);
      this.counted[i] = 1;
      this.gRunning[g]++;
      this.startedOn[h]++;
      this.taken[s] = this.round;
      this.entryUsed[e] = 1;
      this.segCount[seg]--;
      placed++;
      e += step;
    }
    // Move the segment's ends past used entries.
    let lo = this.segLo[seg];
    let hi = this.segHi[seg];
    while (lo <= hi && this.entryUsed[lo]) lo++;
    while (hi >= lo && this.entryUsed[hi]) hi--;
    this.segLo[seg] = lo;
    this.segHi[seg] = hi;
    return placed;
  }

  private grow(table: InstanceTable): void {
    const n = table.taskId.length;
    this.next = growInt32(this.next, n, -1);
    this.gid = growInt32(this.gid, n, -1);
    this.inQueue = growUint8(this.inQueue, n);
    this.counted = growUint8(this.counted, n);
    this.table = table;
  }

  private groupFor(i: number): number {
    let g = this.gid[i];
    if (g >= 0) return g;
    const t = this.table as InstanceTable;
    const key = t.taskId[i] * 4 + t.type[i];
    const known = this.groupOf.get(key);
    if (known !== undefined) g = known;
    else {
      g = this.gClass.length;
      this.groupOf.set(key, g);
      this.gClass.push(classOfType(t.type[i]));
      this.gPriority.push(t.priority[i]);
      this.gRunning.push(0);
      this.gWaiting.push(0);
      this.gHead.push(-1);
      this.gTail.push(-1);
    }
    this.gid[i] = g;
    return g;
  }

  private enqueue(i: number): void {
    if (this.inQueue[i]) return;
    const g = this.groupFor(i);
    this.inQueue[i] = 1;
    this.next[i] = -1;
    if (this.gTail[g] >= 0) this.next[this.gTail[g]] = i;
    else this.gHead[g] = i;
    this.gTail[g] = i;
    this.gWaiting[g]++;
    if (!this.taskHeap.has(g)) this.taskHeap.push(g);
  }

  private pushFront(g: number, i: number): void {
    this.inQueue[i] = 1;
    this.next[i] = this.gHead[g];
    this.gHead[g] = i;
    if (this.gTail[g] < 0) this.gTail[g] = i;
    this.gWaiting[g]++;
  }

  /** Next valid queued instance of task g (stale entries dropped), −1 when none. */
  private popInstance(g: number): number {
    const t = this.table as InstanceTable;
    for (;;) {
      const i = this.gHead[g];
      if (i < 0) return -1;
      this.gHead[g] = this.next[i];
      if (this.gHead[g] < 0) this.gTail[g] = -1;
      this.gWaiting[g]--;
      this.inQueue[i] = 0;
      if (t.phase[i] === InstancePhase.queued) return i;
    }
  }

  /** Removes an instance from its task's running count (once). */
  private uncount(i: number): void {
    if (!this.counted[i]) return;
    this.counted[i] = 0;
    const g = this.gid[i];
    if (g < 0) return;
    this.gRunning[g]--;
    this.taskHeap.update(g);
  }
}
