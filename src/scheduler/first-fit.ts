// Heat-agnostic baseline: each queued instance takes the first free board that fits, boards run at the top level,
// and a room thermostat kills everything on a heater when its room is hot. No filler.
import type { Decision, FleetView, InstanceTable, OverflowPool, Policy } from './types.ts';
import { BOARD_FILLER, BOARD_FREE, InstancePhase } from './types.ts';
import { classOfType, fitsHeater, growInt32, growUint8, HardwareConfigs } from './indexes.ts';
import { SchedClass } from './view.ts';
import type { FirstFitOptions } from './view.ts';
import { requireFinite } from '../physics/errors.ts';

/** How far past the first unused free board one instance looks for a board that fits (bounds a round's cost). */
const SCAN_LIMIT = 256;

/**
 * First-fit policy. Queue: two FIFOs (onDemand/reserved, then flex), in submission order; a killed instance goes to
 * the back. Each round: (1) the thermostat: on an online heater with diff < −hotK (default 1 K) or air ≥ safety,
 * every instance is killed (restarting from scratch unless checkpointable) and no new work starts there;
 * (2) paused instances elsewhere resume (this policy never pauses); (3) queued instances take, in queue order, the
 * first free board in heater order that fits cores, memory and GPU; (4) every heater computing runs at its top
 * level. Instances no heater can ever host overflow. Cost: O(heaters·boards) + O(placed + missBudget).
 */
export class FirstFitPolicy implements Policy {
  readonly name = 'first-fit';
  private readonly hotK: number;
  private readonly missBudget: number;
  private next = new Int32Array(0);
  private inQueue = new Uint8Array(0);
  private head = [-1, -1];
  private tail = [-1, -1];
  private fresh: number[] = [];
  private lastStarts: number[] = [];
  private readonly configs = new HardwareConfigs();
  private slots = new Int32Array(0);
  private slotUsed = new Uint8Array(0);
  private startedOn = new Int32Array(0);

  /** Throws InvalidParameterError (field `first-fit.<option>`) on a non-finite threshold or budget. */
  constructor(options: FirstFitOptions = {}) {
    this.hotK = requireFinite('first-fit.hotK', options.hotK ?? 1);
    this.missBudget = requireFinite('first-fit.missBudget', options.missBudget ?? 4096, 1);
  }

  /** New instances: checked against the fleet's hardware at the next round, then queued. */
  onSubmit(instances: readonly number[], table: InstanceTable): void {
    this.grow(table);
    for (const i of instances) this.fresh.push(i);
  }

  /**
   * A requeued instance goes to the back of its queue, through the next round's hardware check like a new one (one
   * no heater can host, back from a lost overflow attempt, overflows again).
   */
  onChange(instance: number, table: InstanceTable): void {
    this.grow(table);
    if (table.phase[instance] === InstancePhase.queued) this.fresh.push(instance);
  }

  /** One round (see the class comment). */
  decide(fleet: FleetView, table: InstanceTable, _overflow: OverflowPool, out: Decision[]): void {
    this.grow(table);
    this.configs.build(fleet);
    for (const i of this.fresh) {
      if (table.phase[i] !== InstancePhase.queued) continue;
      if (this.configs.canEverHost(table, i)) this.enqueue(i, table);
      else out.push({ kind: 'overflow', instance: i });
    }
    this.fresh.length = 0;
    for (const i of this.lastStarts) if (table.phase[i] === InstancePhase.queued) this.enqueue(i, table);
    this.lastStarts.length = 0;

    const H = fleet.heaters;
    const mb = fleet.maxBoards;
    if (this.slots.length < H * mb) {
      this.slots = new Int32Array(H * mb);
      this.slotUsed = new Uint8Array(H * mb);
    }
    if (this.startedOn.length < H) this.startedOn = new Int32Array(H);
    const killed: number[] = [];
    let nSlots = 0;
    for (let h = 0; h < H; h++) {
      this.startedOn[h] = 0;
      if (fleet.online[h] === 0) continue;
      const hot = fleet.diffK[h] < -this.hotK || fleet.airC[h] >= fleet.safetyC[h];
      const nb = Math.min(fleet.boards[h], mb);
      for (let b = 0; b < nb; b++) {
        const s = h * mb + b;
        const v = fleet.boardInstance[s];
        if (v >= 0) {
          const ph = table.phase[v];
          if (ph !== InstancePhase.running && ph !== InstancePhase.paused) continue;
          if (hot) {
            out.push({ kind: 'kill', instance: v });
            killed.push(v);
          } else if (ph === InstancePhase.paused) out.push({ kind: 'resume', instance: v });
        } else if (v === BOARD_FILLER) {
          out.push({ kind: 'filler', heater: h, board: b, on: false });
          if (!hot) this.slots[nSlots++] = s;
        } else if (v === BOARD_FREE && !hot) this.slots[nSlots++] = s;
      }
    }
    this.slotUsed.fill(0, 0, nSlots);

    // Placement: queue order, first fitting free board in heater order.
    let first = 0;
    let left = nSlots;
    let misses = 0;
    for (let q = 0; q < 2 && left > 0 && misses < this.missBudget; q++) {
      const aside: number[] = [];
      while (left > 0 && misses < this.missBudget) {
        const i = this.dequeue(q, table);
        if (i < 0) break;
        let k = first;
        let found = -1;
        for (let seen = 0; k < nSlots && seen < SCAN_LIMIT; k++) {
          if (this.slotUsed[k]) continue;
          seen++;
          if (fitsHeater(fleet, (this.slots[k] / mb) | 0, table, i)) {
            found = k;
            break;
          }
        }
        if (found < 0) {
          aside.push(i);
          misses++;
          continue;
        }
        const s = this.slots[found];
        const h = (s / mb) | 0;
        out.push({ kind: 'start', instance: i, heater: h, board: s - h * mb });
        this.lastStarts.push(i);
        this.slotUsed[found] = 1;
        this.startedOn[h]++;
        left--;
        while (first < nSlots && this.slotUsed[first]) first++;
      }
      // Set-aside instances keep their place at the head of their queue.
      for (let j = aside.length - 1; j >= 0; j--) this.pushFront(q, aside[j]);
    }

    // Top level wherever something computes.
    for (let h = 0; h < H; h++) {
      if (fleet.online[h] === 0) continue;
      const top = fleet.models[fleet.model[h]].board.levels - 1;
      if (fleet.level[h] === top) continue;
      let computing = this.startedOn[h] > 0;
      if (!computing) {
        const hot = fleet.diffK[h] < -this.hotK || fleet.airC[h] >= fleet.safetyC[h];
        const nb = Math.min(fleet.boards[h], mb);
        for (let b = 0; b < nb && !hot; b++) if (fleet.boardInstance[h * mb + b] >= 0) computing = true;
      }
      if (computing) out.push({ kind: 'level', heater: h, level: top });
    }
    for (const i of killed) this.enqueue(i, table);
  }

  private grow(table: InstanceTable): void {
    const n = table.taskId.length;
    this.next = growInt32(this.next, n, -1);
    this.inQueue = growUint8(this.inQueue, n);
  }

  private enqueue(i: number, table: InstanceTable): void {
    if (this.inQueue[i]) return;
    const q = classOfType(table.type[i]) === SchedClass.high ? 0 : 1;
    this.inQueue[i] = 1;
    this.next[i] = -1;
    if (this.tail[q] >= 0) this.next[this.tail[q]] = i;
    else this.head[q] = i;
    this.tail[q] = i;
  }

  private pushFront(q: number, i: number): void {
    this.inQueue[i] = 1;
    this.next[i] = this.head[q];
    this.head[q] = i;
    if (this.tail[q] < 0) this.tail[q] = i;
  }

  /** Next valid queued instance of queue q (stale entries dropped), −1 when empty. */
  private dequeue(q: number, table: InstanceTable): number {
    for (;;) {
      const i = this.head[q];
      if (i < 0) return -1;
      this.head[q] = this.next[i];
      if (this.head[q] < 0) this.tail[q] = -1;
      this.inQueue[i] = 0;
      if (table.phase[i] === InstancePhase.queued) return i;
    }
  }
}
