// Polling for the integration tests: wait until something is there, and fail naming it when it never comes.

/**
 * Polls `fn` every `everyMs` until it returns a value (anything but undefined) and resolves to it; rejects after
 * `timeoutMs` with "gave up waiting for <what>".
 */
export async function until<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
