// Incremental indexes shared by the policies, so a round costs O(heaters + placed·log queue), never a sort of the
// queue: heaps over instance ids, an indexed heap with key updates, heater buckets by forecast heat, fleet hardware.
import type { FleetView, InstanceTable } from './types.ts';
import { SchedulingType } from './types.ts';
import { SchedClass } from './view.ts';
import type { SchedClassCode } from './view.ts';

/** Scheduling class of a scheduling type code: flex → LOW, onDemand and reserved → HIGH. */
export function classOfType(type: number): SchedClassCode {
  return type === SchedulingType.flex ? SchedClass.low : SchedClass.high;
}

/**
 * Returns `a` if it holds at least `n` elements, else a copy grown to max(n, 1.5·length), its new elements `fill` (a
 * new array is zeros already: a fill of 0 is skipped, which matters for the policies' large per-instance columns).
 */
export function growInt32(a: Int32Array<ArrayBuffer>, n: number, fill = 0): Int32Array<ArrayBuffer> {
  if (a.length >= n) return a;
  const b = new Int32Array(Math.max(n, Math.ceil(a.length * 1.5), 16));
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

/** Same as growInt32 for bytes. */
export function growUint8(a: Uint8Array<ArrayBuffer>, n: number, fill = 0): Uint8Array<ArrayBuffer> {
  if (a.length >= n) return a;
  const b = new Uint8Array(Math.max(n, Math.ceil(a.length * 1.5), 16));
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

/** Same as growInt32 for doubles. */
export function growFloat64(a: Float64Array<ArrayBuffer>, n: number, fill = 0): Float64Array<ArrayBuffer> {
  if (a.length >= n) return a;
  const b = new Float64Array(Math.max(n, Math.ceil(a.length * 1.5), 16));
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

/**
 * Binary min-heap of (id, stamp) entries, each with up to four numeric keys taken when it is added: ordered by the
 * keys in turn (a key decides when the two differ: `a < b`), then by id. The stamp lets a policy invalidate entries
 * lazily (an instance re-enqueued gets a new stamp; older entries are dropped when they surface). Keys live in the
 * heap's own arrays: a comparison reads no instance column (rows scattered over megabytes), and an entry keeps the
 * keys it was ordered by even when its instance is enqueued again with others. push/pop: O(log n); `heapify` after
 * bulk `append`: O(n).
 */
export class StampedHeap {
  ids = new Int32Array(1024);
  stamps = new Int32Array(1024);
  private k0 = new Float64Array(1024);
  private k1 = new Float64Array(1024);
  private k2 = new Float64Array(1024);
  private k3 = new Float64Array(1024);
  size = 0;

  /** Adds an entry at the end without restoring heap order (call heapify before the next pop). */
  append(id: number, stamp: number, key0: number, key1 = 0, key2 = 0, key3 = 0): void {
    const n = this.size;
    if (n === this.ids.length) {
      this.ids = growInt32(this.ids, n * 2);
      this.stamps = growInt32(this.stamps, n * 2);
      this.k0 = growFloat64(this.k0, n * 2);
      this.k1 = growFloat64(this.k1, n * 2);
      this.k2 = growFloat64(this.k2, n * 2);
      this.k3 = growFloat64(this.k3, n * 2);
    }
    this.ids[n] = id;
    this.stamps[n] = stamp;
    this.k0[n] = key0;
    this.k1[n] = key1;
    this.k2[n] = key2;
    this.k3[n] = key3;
    this.size = n + 1;
  }

  /** Restores heap order over all entries, O(n). */
  heapify(): void {
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.down(i);
  }

  /** Adds an entry, O(log n). */
  push(id: number, stamp: number, key0: number, key1 = 0, key2 = 0, key3 = 0): void {
    this.append(id, stamp, key0, key1, key2, key3);
    this.up(this.size - 1);
  }

  /** Id at the top (−1 when empty). */
  peekId(): number {
    return this.size > 0 ? this.ids[0] : -1;
  }

  /** Stamp at the top (meaningless when empty). */
  peekStamp(): number {
    return this.stamps[0];
  }

  /** Removes the top entry. */
  pop(): void {
    const n = --this.size;
    if (n > 0) {
      this.move(n, 0);
      this.down(0);
    }
  }

  /** Keeps only the entries for which `keep(id, stamp)` holds, then restores heap order, O(n). */
  compact(keep: (id: number, stamp: number) => boolean): void {
    let w = 0;
    for (let r = 0; r < this.size; r++) {
      if (keep(this.ids[r], this.stamps[r])) {
        this.move(r, w);
        w++;
      }
    }
    this.size = w;
    this.heapify();
  }

  /** Entry `from` copied to position `to`. */
  private move(from: number, to: number): void {
    this.ids[to] = this.ids[from];
    this.stamps[to] = this.stamps[from];
    this.k0[to] = this.k0[from];
    this.k1[to] = this.k1[from];
    this.k2[to] = this.k2[from];
    this.k3[to] = this.k3[from];
  }

  // up and down move a hole instead of swapping, the moving entry held in locals; "x before entry j" is written out
  // in both (keys in turn, then the id): a helper taking the keys as arguments would box them when not inlined.

  private up(i: number): void {
    const { ids, stamps, k0, k1, k2, k3 } = this;
    const id = ids[i];
    const st = stamps[i];
    const a = k0[i];
    const b = k1[i];
    const c = k2[i];
    const d = k3[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      const first = a !== k0[p] ? a < k0[p] : b !== k1[p] ? b < k1[p] : c !== k2[p] ? c < k2[p] : d !== k3[p] ? d < k3[p] : id < ids[p];
      if (!first) break;
      this.move(p, i);
      i = p;
    }
    ids[i] = id;
    stamps[i] = st;
    k0[i] = a;
    k1[i] = b;
    k2[i] = c;
    k3[i] = d;
  }

  private down(i: number): void {
    const { ids, stamps, k0, k1, k2, k3 } = this;
    const n = this.size;
    const id = ids[i];
    const st = stamps[i];
    const a = k0[i];
    const b = k1[i];
    const c = k2[i];
    const d = k3[i];
    for (;;) {
      let j = 2 * i + 1;
      if (j >= n) break;
      const r = j + 1;
      if (r < n && (k0[r] !== k0[j] ? k0[r] < k0[j] : k1[r] !== k1[j] ? k1[r] < k1[j] : k2[r] !== k2[j] ? k2[r] < k2[j] : k3[r] !== k3[j] ? k3[r] < k3[j] : ids[r] < ids[j])) j = r;
      // Stop unless child j comes before the moving entry.
      const childFirst = k0[j] !== a ? k0[j] < a : k1[j] !== b ? k1[j] < b : k2[j] !== c ? k2[j] < c : k3[j] !== d ? k3[j] < d : ids[j] < id;
      if (!childFirst) break;
      this.move(j, i);
      i = j;
    }
    ids[i] = id;
    stamps[i] = st;
    k0[i] = a;
    k1[i] = b;
    k2[i] = c;
    k3[i] = d;
  }
}

/**
 * Binary min-heap over distinct small integer ids (tasks, sites) with positions, so a key change is one sift:
 * push, remove, update and pop are O(log n). Order: `less(a, b)`.
 */
export class IndexedHeap {
  private heap = new Int32Array(64);
  private pos = new Int32Array(64).fill(-1);
  size = 0;
  constructor(private readonly less: (a: number, b: number) => boolean) {}

  /** Whether `id` is in the heap. */
  has(id: number): boolean {
    return id < this.pos.length && this.pos[id] >= 0;
  }

  /** Inserts `id` (no-op if present; then use update). */
  push(id: number): void {
    if (this.has(id)) return;
    this.pos = growInt32(this.pos, id + 1, -1);
    this.heap = growInt32(this.heap, this.size + 1);
    this.heap[this.size] = id;
    this.pos[id] = this.size;
    this.size++;
    this.up(this.size - 1);
  }

  /** Smallest id (−1 when empty). */
  peek(): number {
    return this.size > 0 ? this.heap[0] : -1;
  }

  /** Removes and returns the smallest id (−1 when empty). */
  pop(): number {
    if (this.size === 0) return -1;
    const top = this.heap[0];
    this.removeAt(0);
    return top;
  }

  /** Removes `id` if present. */
  remove(id: number): void {
    if (this.has(id)) this.removeAt(this.pos[id]);
  }

  /** Restores order after the key of `id` changed (no-op if absent). */
  update(id: number): void {
    if (!this.has(id)) return;
    const i = this.pos[id];
    this.up(i);
    this.down(this.pos[id]);
  }

  /** Empties the heap, O(size). */
  clear(): void {
    for (let i = 0; i < this.size; i++) this.pos[this.heap[i]] = -1;
    this.size = 0;
  }

  private removeAt(i: number): void {
    const id = this.heap[i];
    this.pos[id] = -1;
    const n = --this.size;
    if (i < n) {
      const last = this.heap[n];
      this.heap[i] = last;
      this.pos[last] = i;
      this.up(i);
      this.down(this.pos[last]);
    }
  }

  private up(i: number): void {
    const h = this.heap;
    const id = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(id, h[p])) break;
      h[i] = h[p];
      this.pos[h[i]] = i;
      i = p;
    }
    h[i] = id;
    this.pos[id] = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = this.size;
    const id = h[i];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.less(h[c + 1], h[c])) c++;
      if (!this.less(h[c], id)) break;
      h[i] = h[c];
      this.pos[h[i]] = i;
      i = c;
    }
    h[i] = id;
    this.pos[id] = i;
  }
}

/** Whether the first n entries of a and b are equal (each loop in a function of its own: see HardwareConfigs.build). */
function sameInt32(a: Int32Array, b: Int32Array, n: number): boolean {
  if (a.length < n || b.length < n) return false;
  for (let h = 0; h < n; h++) if (a[h] !== b[h]) return false;
  return true;
}

/** Whether the fleet's board hardware (cores, memory, GPU) equals the columns seen last (same heater count). */
function sameHardware(fleet: FleetView, cores: Uint16Array, memoryMB: Float32Array, gpu: Uint8Array): boolean {
  const n = fleet.heaters;
  if (cores.length !== n) return false;
  return sameBytes(fleet.coresPerBoard, cores, n) && sameBytes(fleet.memoryMBPerBoard, memoryMB, n) && sameBytes(fleet.gpu, gpu, n);
}

/**
 * Whether the first n elements of a and b have the same bytes, compared 4 at a time (a round compares the whole
 * fleet's hardware). Equal bytes are equal values (Object.is); NaNs of different payloads count as a change, which
 * costs a rebuild to the same configurations.
 */
function sameBytes(a: Uint16Array | Float32Array | Uint8Array, b: Uint16Array | Float32Array | Uint8Array, n: number): boolean {
  if (a.length < n || b.length < n) return false;
  const bytes = n * a.BYTES_PER_ELEMENT;
  const words = (a.byteOffset & 3) === 0 && (b.byteOffset & 3) === 0 ? bytes >> 2 : 0;
  if (words > 0 && !sameInt32(new Int32Array(a.buffer, a.byteOffset, words), new Int32Array(b.buffer, b.byteOffset, words), words)) return false;
  const rest = bytes - 4 * words;
  if (rest === 0) return true;
  const ta = new Uint8Array(a.buffer, a.byteOffset + 4 * words, rest);
  const tb = new Uint8Array(b.buffer, b.byteOffset + 4 * words, rest);
  for (let k = 0; k < rest; k++) if (ta[k] !== tb[k]) return false;
  return true;
}

/** Whether board slots of heater `h` can host instance `i` (cores, memory, GPU). */
export function fitsHeater(fleet: FleetView, h: number, table: InstanceTable, i: number): boolean {
  return (
    table.cores[i] <= fleet.coresPerBoard[h] && table.memoryMB[i] <= fleet.memoryMBPerBoard[h] && (table.gpu[i] === 0 || fleet.gpu[h] !== 0)
  );
}

/** Most distinct hardware configurations tracked exactly; heaters beyond go to one "misc" configuration. */
export const MAX_CONFIGS = 64;

/**
 * The distinct board hardware of a fleet (cores, memory, GPU) and each heater's configuration, rebuilt in O(H·C)
 * per round (C distinct configurations, usually a handful). Heaters past MAX_CONFIGS distinct ones share a last
 * "misc" configuration whose members must be checked one by one.
 */
export class HardwareConfigs {
  count = 0;
  /** Whether the last configuration (index count − 1) is the misc one. */
  misc = false;
  configOf = new Int32Array(0);
  cores: number[] = [];
  memoryMB: number[] = [];
  gpu: number[] = [];
  /** Most cores, memory and any GPU over the whole fleet (used for the misc configuration). */
  maxCores = 0;
  maxMemoryMB = 0;
  anyGpu = 0;

  /** The hardware columns the last build saw (a fleet's hardware rarely changes: then a round only compares). */
  private seenCores = new Uint16Array(0);
  private seenMemoryMB = new Float32Array(0);
  private seenGpu = new Uint8Array(0);
  private seenHeaters = -1;
  private readonly seen = new SeenLayout();

  /** Rebuilds from the fleet (online or not: an offline heater may come back); a no-op when its hardware did not change. */
  build(fleet: FleetView): void {
    if (this.seen.same(fleet)) return;
    if (this.seenHeaters === fleet.heaters && sameHardware(fleet, this.seenCores, this.seenMemoryMB, this.seenGpu)) return;
    this.rebuild(fleet);
    const n = fleet.heaters;
    this.seenHeaters = n;
    this.seenCores = fleet.coresPerBoard.slice(0, n);
    this.seenMemoryMB = fleet.memoryMBPerBoard.slice(0, n);
    this.seenGpu = fleet.gpu.slice(0, n);
  }

  private rebuild(fleet: FleetView): void {
    const n = fleet.heaters;
    if (this.configOf.length < n) this.configOf = new Int32Array(n);
    this.count = 0;
    this.misc = false;
    this.cores.length = 0;
    this.memoryMB.length = 0;
    this.gpu.length = 0;
    this.maxCores = 0;
    this.maxMemoryMB = 0;
    this.anyGpu = 0;
    let last = -1;
    for (let h = 0; h < n; h++) {
      const c = fleet.coresPerBoard[h];
      const m = fleet.memoryMBPerBoard[h];
      const g = fleet.gpu[h] !== 0 ? 1 : 0;
      if (c > this.maxCores) this.maxCores = c;
      if (m > this.maxMemoryMB) this.maxMemoryMB = m;
      if (g) this.anyGpu = 1;
      if (last >= 0 && this.cores[last] === c && this.memoryMB[last] === m && this.gpu[last] === g) {
        this.configOf[h] = last;
        continue;
      }
      let k = -1;
      const exact = this.misc ? this.count - 1 : this.count;
      for (let j = 0; j < exact; j++) {
        if (this.cores[j] === c && this.memoryMB[j] === m && this.gpu[j] === g) {
          k = j;
          break;
        }
      }
      if (k < 0) {
        if (!this.misc && exact < MAX_CONFIGS) {
          this.cores.push(c);
          this.memoryMB.push(m);
          this.gpu.push(g);
          k = exact;
          this.count++;
        } else {
          if (!this.misc) {
            this.misc = true;
            this.cores.push(0);
            this.memoryMB.push(0);
            this.gpu.push(0);
            this.count++;
          }
          k = this.count - 1;
          const j = k;
          if (c > this.cores[j]) this.cores[j] = c;
          if (m > this.memoryMB[j]) this.memoryMB[j] = m;
          if (g) this.gpu[j] = 1;
        }
      }
      this.configOf[h] = k;
      last = k;
    }
  }

  /** Whether configuration `k` certainly hosts instance `i` (the misc one may: check its heaters one by one). */
  hosts(k: number, table: InstanceTable, i: number): boolean {
    return table.cores[i] <= this.cores[k] && table.memoryMB[i] <= this.memoryMB[k] && (table.gpu[i] === 0 || this.gpu[k] !== 0);
  }

  /** Whether configuration `k` is the misc one (members differ; per-heater checks needed). */
  isMisc(k: number): boolean {
    return this.misc && k === this.count - 1;
  }

  /** Whether some heater of the fleet (online or not) can ever host instance `i`. */
  canEverHost(table: InstanceTable, i: number): boolean {
    for (let k = 0; k < this.count; k++) if (this.hosts(k, table, i)) return true;
    return false;
  }
}

/**
 * The view and FleetView.layoutVersion an index was last built or checked against. `same(fleet)`: true when the
 * producer promised (a version given) and neither the view nor the version changed since — the columns are as they
 * were, no need to compare them; otherwise it notes this view and version (the caller compares, or rebuilds).
 */
class SeenLayout {
  private view: FleetView | null = null;
  private version: number | undefined = undefined;

  same(fleet: FleetView): boolean {
    const v = fleet.layoutVersion;
    if (v !== undefined && fleet === this.view && v === this.version) return true;
    this.view = fleet;
    this.version = v;
    return false;
  }
}

/** Heaters grouped by site (CSR): heaters of site s are `heaters[start[s] .. start[s+1])`, in index order. O(H + S) to build. */
export class SiteIndex {
  sites = 0;
  start = new Int32Array(1);
  heaters = new Int32Array(0);

  private seenSite = new Int32Array(0);
  private seenHeaters = -1;
  private readonly seen = new SeenLayout();

  /** Rebuilds from fleet.site (negative sites are ignored); a no-op when the sites did not change. */
  build(fleet: FleetView): void {
    if (this.seen.same(fleet)) return;
    if (this.seenHeaters === fleet.heaters && sameInt32(fleet.site, this.seenSite, fleet.heaters)) return;
    this.rebuild(fleet);
    this.seenHeaters = fleet.heaters;
    this.seenSite = fleet.site.slice(0, fleet.heaters);
  }

  private rebuild(fleet: FleetView): void {
    const n = fleet.heaters;
    let s = 0;
    for (let h = 0; h < n; h++) if (fleet.site[h] + 1 > s) s = fleet.site[h] + 1;
    this.sites = s;
    if (this.start.length < s + 1) this.start = new Int32Array(s + 1);
    else this.start.fill(0, 0, s + 1);
    if (this.heaters.length < n) this.heaters = new Int32Array(n);
    const start = this.start;
    for (let h = 0; h < n; h++) if (fleet.site[h] >= 0) start[fleet.site[h] + 1]++;
    for (let i = 0; i < s; i++) start[i + 1] += start[i];
    const fill = new Int32Array(s);
    for (let h = 0; h < n; h++) {
      const st = fleet.site[h];
      if (st >= 0) this.heaters[start[st] + fill[st]++] = h;
    }
  }
}

/** What HeaterBuckets.find asks of a heater: still has a slot (else dropped for the round), suits this query. */
export interface BucketFilter {
  alive(h: number): boolean;
  ok(h: number): boolean;
}

/** Heaters a filtered `HeaterBuckets.find` looks at per bucket before moving on. */
export const FIND_SCAN_LIMIT = 32;

/** Buckets of forecast heat duration. */
export const HEAT_BUCKETS = 64;

/**
 * Bucket (0..63) of a duration in hours, logarithmic: ≈ 8 buckets per doubling of (1 + 4·hours); 0 h → 0,
 * 15 min → 8, 1 h → 18, 6 h → 37, 24 h → 52, ≥ 58 h → 63.
 */
export function heatBucket(hours: number): number {
  // Whole hours (what the controllers' forecasts give) come from a table of this very function's values.
  const k = hours | 0;
  if (k === hours && k >= 0 && k < WHOLE_HOURS) return BUCKET_OF_WHOLE_HOURS[k];
  return heatBucketOf(hours);
}

function heatBucketOf(hours: number): number {
  if (!(hours > 0)) return 0;
  const b = Math.floor(8 * Math.log2(1 + 4 * hours));
  return b < HEAT_BUCKETS - 1 ? b : HEAT_BUCKETS - 1;
}

/** heatBucket of 0, 1, … WHOLE_HOURS − 1 hours. */
const WHOLE_HOURS = 512;
const BUCKET_OF_WHOLE_HOURS = Uint8Array.from({ length: WHOLE_HOURS }, (_, k) => heatBucketOf(k));

/**
 * Heaters with spare slots, per hardware configuration and heat-duration bucket (stacks + a 64-bit non-empty mask
 * per configuration). `find` returns the best-fit heater for a need bucket in O(1) amortised: the first non-empty
 * bucket at or above the need, else the highest below it. Dead heaters (no slot left) are dropped lazily.
 */
export class HeaterBuckets {
  /** Stack k (config·HEAT_BUCKETS + bucket) is stacks[k][0 .. lens[k]): storage kept from round to round. */
  private stacks: Int32Array[] = [];
  private lens = new Int32Array(0);
  private maskLo = new Uint32Array(1);
  private maskHi = new Uint32Array(1);
  private used: number[] = [];
  private configs = 0;
  /** Bucket of the heater returned by the last successful `find`. */
  lastBucket = -1;

  /** Empties every bucket and sizes for `configs` configurations. O(buckets used last round). */
  reset(configs: number): void {
    for (const k of this.used) this.lens[k] = 0;
    if (this.used.length !== 0) this.used.length = 0;
    if (this.maskLo.length < configs) {
      this.maskLo = new Uint32Array(configs);
      this.maskHi = new Uint32Array(configs);
    } else {
      this.maskLo.fill(0);
      this.maskHi.fill(0);
    }
    this.configs = configs;
    while (this.stacks.length < configs * HEAT_BUCKETS) this.stacks.push(new Int32Array(16));
    if (this.lens.length < this.stacks.length) {
      const lens = new Int32Array(this.stacks.length);
      lens.set(this.lens);
      this.lens = lens;
    }
  }

  /** Adds heater `h` of configuration `config` to `bucket`. */
  add(config: number, bucket: number, h: number): void {
    const k = config * HEAT_BUCKETS + bucket;
    let s = this.stacks[k];
    const n = this.lens[k];
    if (n === 0) {
      this.used.push(k);
      if (bucket < 32) this.maskLo[config] |= 1 << bucket;
      else this.maskHi[config] |= 1 << (bucket - 32);
    }
    if (n === s.length) {
      const t = new Int32Array(2 * n);
      t.set(s);
      this.stacks[k] = s = t;
    }
    s[n] = h;
    this.lens[k] = n + 1;
  }

  /**
   * Best heater of `config` for need bucket `need`: first non-empty bucket ≥ need, else the highest below.
   * `filter.alive(h)` false drops h for good; when `filtered`, `filter.ok(h)` false skips it for this query only
   * (misc configurations, speed requirements), looking at FIND_SCAN_LIMIT heaters per bucket at most. Returns −1
   * if none; sets lastBucket. (An object with methods, not closures: no allocation per query.)
   */
  find(config: number, need: number, filter: BucketFilter, filtered: boolean): number {
    if (config >= this.configs) return -1;
    // Upward search.
    let b = this.nextSet(config, need);
    while (b >= 0) {
      const h = this.top(config, b, filter, filtered);
      if (h >= 0) {
        this.lastBucket = b;
        return h;
      }
      b = this.nextSet(config, b + 1);
    }
    b = this.prevSet(config, need - 1);
    while (b >= 0) {
      const h = this.top(config, b, filter, filtered);
      if (h >= 0) {
        this.lastBucket = b;
        return h;
      }
      b = this.prevSet(config, b - 1);
    }
    return -1;
  }

  private top(config: number, b: number, filter: BucketFilter, filtered: boolean): number {
    const k = config * HEAT_BUCKETS + b;
    const s = this.stacks[k];
    let n = this.lens[k];
    while (n > 0 && !filter.alive(s[n - 1])) n--;
    this.lens[k] = n;
    if (n === 0) {
      if (b < 32) this.maskLo[config] &= ~(1 << b);
      else this.maskHi[config] &= ~(1 << (b - 32));
      return -1;
    }
    if (!filtered) return s[n - 1];
    // Filtered query: look at the top FIND_SCAN_LIMIT heaters only (bounds the cost; the rest wait for a later query).
    for (let j = n - 1, seen = 0; j >= 0 && seen < FIND_SCAN_LIMIT; j--, seen++) {
      const h = s[j];
      if (filter.alive(h) && filter.ok(h)) return h;
    }
    return -1;
  }

  private nextSet(config: number, from: number): number {
    if (from < 0) from = 0;
    if (from < 32) {
      const m = this.maskLo[config] & (~0 << from);
      if (m !== 0) return 31 - Math.clz32(m & -m);
      from = 32;
    }
    if (from < 64) {
      const m = this.maskHi[config] & (~0 << (from - 32));
      if (m !== 0) return 32 + 31 - Math.clz32(m & -m);
    }
    return -1;
  }

  private prevSet(config: number, from: number): number {
    if (from >= 64) from = 63;
    if (from >= 32) {
      const sh = from - 32;
      const m = sh === 31 ? this.maskHi[config] : this.maskHi[config] & ((1 << (sh + 1)) - 1);
      if (m !== 0) return 32 + 31 - Math.clz32(m);
      from = 31;
    }
    if (from >= 0) {
      const m = from === 31 ? this.maskLo[config] : this.maskLo[config] & ((1 << (from + 1)) - 1);
      if (m !== 0) return 31 - Math.clz32(m);
    }
    return -1;
  }
}
