// Where a round's decisions go without an object each: the twin's rounds make millions of level, filler, booster and
// start decisions over a simulated season, and allocating one object per decision (then collecting it) was a visible
// share of a round. A policy writes through a DecisionSink; the twin passes a DecisionBuffer (typed columns), every
// other caller an array, wrapped by ArraySink.
import type { Decision, DecisionSink } from './types.ts';
import { growFloat64, growInt32, growUint8 } from './indexes.ts';

/** A DecisionSink over an array of Decision objects (what the live loop and the tests read). */
export class ArraySink implements DecisionSink {
  out: Decision[] = [];

  /** Points the sink at `out` (appended to); returns the sink. */
  to(out: Decision[]): this {
    this.out = out;
    return this;
  }

  push(d: Decision): void {
    this.out.push(d);
  }

  level(heater: number, level: number): void {
    this.out.push({ kind: 'level', heater, level });
  }

  filler(heater: number, board: number, on: boolean): void {
    this.out.push({ kind: 'filler', heater, board, on });
  }

  booster(heater: number, fraction: number): void {
    this.out.push({ kind: 'booster', heater, fraction });
  }

  start(instance: number, heater: number, board: number): void {
    this.out.push({ kind: 'start', instance, heater, board });
  }
}

const K_OBJECT = 0;
const K_LEVEL = 1;
const K_FILLER = 2;
const K_BOOSTER = 3;
const K_START = 4;

/** Mutable twins of the Decision shapes DecisionBuffer hands out (one object of each, rewritten by at()). */
interface LevelScratch {
  readonly kind: 'level';
  heater: number;
  level: number;
}
interface FillerScratch {
  readonly kind: 'filler';
  heater: number;
  board: number;
  on: boolean;
}
interface BoosterScratch {
  readonly kind: 'booster';
  heater: number;
  fraction: number;
}
interface StartScratch {
  readonly kind: 'start';
  instance: number;
  heater: number;
  board: number;
}

/**
 * Decisions in typed columns, in the order they were written: the hot kinds (level, filler, booster, start) as
 * numbers, any other as the object pushed. `at(k)` reads decision k back as an object — for the hot kinds one scratch
 * object per kind, rewritten by the next at() of that kind: read it before asking for the next one, and keep none.
 */
export class DecisionBuffer implements DecisionSink {
  private n = 0;
  private kind = new Uint8Array(1024);
  private a = new Int32Array(1024);
  private b = new Int32Array(1024);
  private c = new Int32Array(1024);
  private x = new Float64Array(1024);
  private readonly objects: Decision[] = [];
  private readonly sLevel: LevelScratch = { kind: 'level', heater: 0, level: 0 };
  private readonly sFiller: FillerScratch = { kind: 'filler', heater: 0, board: 0, on: false };
  private readonly sBooster: BoosterScratch = { kind: 'booster', heater: 0, fraction: 0 };
  private readonly sStart: StartScratch = { kind: 'start', instance: 0, heater: 0, board: 0 };

  /** Decisions written since the last clear(). */
  get length(): number {
    return this.n;
  }

  clear(): void {
    this.n = 0;
    this.objects.length = 0;
  }

  push(d: Decision): void {
    const k = this.next();
    this.kind[k] = K_OBJECT;
    this.a[k] = this.objects.length;
    this.objects.push(d);
  }

  level(heater: number, level: number): void {
    const k = this.next();
    this.kind[k] = K_LEVEL;
    this.a[k] = heater;
    this.b[k] = level;
  }

  filler(heater: number, board: number, on: boolean): void {
    const k = this.next();
    this.kind[k] = K_FILLER;
    this.a[k] = heater;
    this.b[k] = board;
    this.c[k] = on ? 1 : 0;
  }

  booster(heater: number, fraction: number): void {
    const k = this.next();
    this.kind[k] = K_BOOSTER;
    this.a[k] = heater;
    this.x[k] = fraction;
  }

  start(instance: number, heater: number, board: number): void {
    const k = this.next();
    this.kind[k] = K_START;
    this.a[k] = instance;
    this.b[k] = heater;
    this.c[k] = board;
  }

  /** Decision k (0 ≤ k < length); see the class comment for how long the object it returns stays valid. */
  at(k: number): Decision {
    if (!(k >= 0 && k < this.n)) throw new RangeError(`no decision ${k} (${this.n} written)`);
    switch (this.kind[k]) {
      case K_LEVEL: {
        const s = this.sLevel;
        s.heater = this.a[k];
        s.level = this.b[k];
        return s;
      }
      case K_FILLER: {
        const s = this.sFiller;
        s.heater = this.a[k];
        s.board = this.b[k];
        s.on = this.c[k] === 1;
        return s;
      }
      case K_BOOSTER: {
        const s = this.sBooster;
        s.heater = this.a[k];
        s.fraction = this.x[k];
        return s;
      }
      case K_START: {
        const s = this.sStart;
        s.instance = this.a[k];
        s.heater = this.b[k];
        s.board = this.c[k];
        return s;
      }
      default:
        return this.objects[this.a[k]];
    }
  }

  /** All decisions as new objects (for a caller that keeps them). */
  toArray(): Decision[] {
    const out: Decision[] = [];
    for (let k = 0; k < this.n; k++) out.push({ ...this.at(k) });
    return out;
  }

  private next(): number {
    const k = this.n++;
    if (k === this.kind.length) {
      this.kind = growUint8(this.kind, k + 1);
      this.a = growInt32(this.a, k + 1);
      this.b = growInt32(this.b, k + 1);
      this.c = growInt32(this.c, k + 1);
      this.x = growFloat64(this.x, k + 1);
    }
    return k;
  }
}
