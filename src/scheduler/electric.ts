// The comfort reference: plain electric heaters. No compute at all: every instance goes to the overflow datacenter
// and each heater runs as a resistive heater at its controller's request ('resistive' decisions), boards off.
import type { Decision, FleetView, InstanceTable, OverflowPool, Policy } from './types.ts';
import { BOARD_FILLER, InstancePhase } from './types.ts';
import { growFloat64, growUint8 } from './indexes.ts';

/**
 * Electric policy: overflows every queued (or paused) instance the round after it is submitted or requeued, kills
 * any instance it finds on a board (it then overflows on its way back), turns filler off, and sets each online
 * heater's resistive power to its request clamped to [0, model maxW], W. A 'resistive' decision is emitted only when
 * the power changes (it stays in force), so a steady round costs O(heaters) and allocates nothing.
 */
export class ElectricPolicy implements Policy {
  readonly name = 'electric';
  private pending: number[] = [];
  private flagged = new Uint8Array(0);
  private lastW = new Float64Array(0);

  /** New instances: overflowed at the next round. */
  onSubmit(instances: readonly number[], table: InstanceTable): void {
    this.flagged = growUint8(this.flagged, table.taskId.length);
    for (const i of instances) this.note(i);
  }

  /** A requeued instance is overflowed at the next round; ended ones need nothing. */
  onChange(instance: number, table: InstanceTable): void {
    this.flagged = growUint8(this.flagged, table.taskId.length);
    if (table.phase[instance] === InstancePhase.queued) this.note(instance);
  }

  /** One round: overflow everything pending; resistive power per heater, W. */
  decide(fleet: FleetView, table: InstanceTable, _overflow: OverflowPool, out: Decision[]): void {
    this.flagged = growUint8(this.flagged, table.taskId.length);
    const pending = this.pending;
    for (const i of pending) {
      this.flagged[i] = 0;
      if (table.phase[i] === InstancePhase.queued) out.push({ kind: 'overflow', instance: i });
    }
    pending.length = 0;
    const n = fleet.heaters;
    if (this.lastW.length < n) this.lastW = growFloat64(this.lastW, n, NaN);
    const mb = fleet.maxBoards;
    for (let h = 0; h < n; h++) {
      if (fleet.online[h] === 0) continue;
      const nb = Math.min(fleet.boards[h], mb);
      for (let b = 0; b < nb; b++) {
        const v = fleet.boardInstance[h * mb + b];
        if (v >= 0 && table.phase[v] === InstancePhase.running) out.push({ kind: 'kill', instance: v });
        else if (v >= 0 && table.phase[v] === InstancePhase.paused) out.push({ kind: 'overflow', instance: v });
        else if (v === BOARD_FILLER) out.push({ kind: 'filler', heater: h, board: b, on: false });
      }
      const maxW = fleet.models[fleet.model[h]].maxW;
      const req = fleet.requestW[h];
      const w = req > 0 ? (req < maxW ? req : maxW) : 0;
      if (w !== this.lastW[h]) {
        this.lastW[h] = w;
        out.push({ kind: 'resistive', heater: h, powerW: w });
      }
    }
  }

  private note(i: number): void {
    if (this.flagged[i]) return;
    this.flagged[i] = 1;
    this.pending.push(i);
  }
}
