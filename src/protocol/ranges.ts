// Instance ranges as the compute API writes them ("1,3-8"): parsing to sorted ids and formatting back.

/** A range string that cannot be parsed (syntax, reversed bounds, too many ids). */
export class RangeSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RangeSyntaxError';
  }
}

/** Largest instance id a range may name. */
export const MAX_INSTANCE_ID = 2 ** 31 - 1;

/**
 * Parses "1,3-8" (whitespace around items allowed, overlaps merged) into sorted distinct instance ids.
 * @param maxCount refuse ranges that expand to more ids than this (protects against "0-2000000000")
 * @throws RangeSyntaxError
 */
export function parseRanges(text: string, maxCount = 1_000_000): number[] {
  if (text.trim() === '') throw new RangeSyntaxError('empty range');
  const spans: Array<[number, number]> = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const m = /^(\d{1,10})(?:\s*-\s*(\d{1,10}))?$/.exec(item);
    if (!m) throw new RangeSyntaxError(`bad range item ${JSON.stringify(item)}: expected N or N-M`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > MAX_INSTANCE_ID || b > MAX_INSTANCE_ID) throw new RangeSyntaxError(`instance id over ${MAX_INSTANCE_ID} in ${JSON.stringify(item)}`);
    if (b < a) throw new RangeSyntaxError(`reversed range ${JSON.stringify(item)}`);
    spans.push([a, b]);
  }
  spans.sort((x, y) => x[0] - y[0]);
  const merged: Array<[number, number]> = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s[0] <= last[1] + 1) last[1] = Math.max(last[1], s[1]);
    else merged.push([s[0], s[1]]);
  }
  let count = 0;
  for (const [a, b] of merged) count += b - a + 1;
  if (count > maxCount) throw new RangeSyntaxError(`range expands to ${count} instances, more than ${maxCount}`);
  const ids: number[] = [];
  for (const [a, b] of merged) for (let i = a; i <= b; i++) ids.push(i);
  return ids;
}

/** Formats instance ids (any order, duplicates ignored) as "1,3-8"; "" for none. */
export function formatRanges(ids: Iterable<number>): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
