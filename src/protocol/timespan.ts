// .NET time-span strings, as Qarnot's API writes durations: "hh:mm:ss", or "d.hh:mm:ss" from one day on.

/**
 * Formats a duration (seconds, fractions dropped, negatives as 0) as "hh:mm:ss" or "d.hh:mm:ss".
 * @param seconds duration, s
 */
export function formatTimeSpan(seconds: number): string {
  const total = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
  const days = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const hms = `${pad2(h)}:${pad2(m)}:${pad2(s)}`;
  return days > 0 ? `${days}.${hms}` : hms;
}

/**
 * Parses "hh:mm:ss", "d.hh:mm:ss" (optionally with ".fffffff" fractional seconds) into seconds; undefined when
 * the text is not a time span.
 * @returns duration, s
 */
export function parseTimeSpan(text: string): number | undefined {
  const m = /^(?:(\d{1,8})\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(text.trim());
  if (!m) return undefined;
  const [d, h, mi, s] = [Number(m[1] ?? 0), Number(m[2]), Number(m[3]), Number(m[4])];
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const frac = m[5] ? Number(`0.${m[5]}`) : 0;
  return d * 86_400 + h * 3600 + mi * 60 + s + frac;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
