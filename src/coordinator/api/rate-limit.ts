// A per-key token bucket (keys are API tokens) with an injected clock: the compute API's 429.

/** Bucket settings: `burst` requests at once, refilled at `perSecond`. */
export interface RateLimitOptions {
  /** Sustained requests per second per key. */
  perSecond: number;
  /** Bucket size: requests allowed at once after a quiet period. */
  burst: number;
  /** Most keys tracked; beyond it full buckets are forgotten (default 10,000). */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets by key; `take` spends one token or says how long to wait. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(
    private readonly options: RateLimitOptions,
    private readonly clock: () => number,
  ) {}

  /**
   * Spends one token of `key`'s bucket.
   * @returns 0 when allowed, else the seconds to wait before a token is available (≥ 1, rounded up)
   */
  take(key: string): number {
    const now = this.clock();
    const { perSecond, burst } = this.options;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= (this.options.maxKeys ?? 10_000)) this.prune(now);
      b = { tokens: burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * perSecond);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.options.perSecond >= this.options.burst) this.buckets.delete(k);
    }
    // Still full of busy keys: forget the oldest half rather than grow without bound.
    if (this.buckets.size >= (this.options.maxKeys ?? 10_000)) {
      let n = Math.floor(this.buckets.size / 2);
      for (const k of this.buckets.keys()) {
        if (n-- <= 0) break;
        this.buckets.delete(k);
      }
    }
  }
}
