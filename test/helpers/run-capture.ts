// Output capture for the runner's and the container's tests: starts a process or a container with sinks that keep
// its stdout and stderr, and waits for text to appear in its output.
import type { TestContext } from 'node:test';
import type { RunExit, RunSinks } from '../../src/agent/runner.ts';

/** A started process or container with its output so far. */
export interface Run<H> {
  handle: H;
  out: string[];
  err: string[];
  /** Resolves once stdout (all chunks joined) contains `text` after its first `from` characters. */
  waitFor(text: string, from?: number): Promise<void>;
}

/**
 * Starts `what` (start gets the sinks); with t, the test kills it (and waits for it) at its end, so that a failed
 * assertion cannot leave a paused group or a container behind.
 */
export function capture<H extends { kill(): void; readonly done: Promise<RunExit> }>(what: string, start: (sinks: RunSinks) => H, t?: TestContext): Run<H> {
  const out: string[] = [];
  const err: string[] = [];
  const waiters: Array<{ text: string; from: number; resolve: () => void }> = [];
  const check = (): void => {
    const all = out.join('');
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (all.indexOf(waiters[i].text, waiters[i].from) >= 0) waiters.splice(i, 1)[0].resolve();
    }
  };
  const handle = start({
    stdout: (s) => {
      out.push(s);
      check();
    },
    stderr: (s) => err.push(s),
  });
  t?.after(async () => {
    handle.kill();
    await handle.done;
  });
  return {
    handle,
    out,
    err,
    waitFor: (text, from = 0) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ text, from, resolve });
        check();
        // If it ends without printing the text, fail instead of hanging.
        handle.done.then(
          () => setImmediate(() => reject(new Error(`${what} ended without printing ${JSON.stringify(text)}; stdout ${JSON.stringify(out.join(''))}; stderr ${JSON.stringify(err.join(''))}`))),
          reject,
        );
      }),
  };
}

/** Waits for the end of a captured run: its exit and whole output. */
export async function outcome<H extends { readonly done: Promise<RunExit> }>(r: Run<H>): Promise<{ exit: RunExit; stdout: string; stderr: string; chunks: string[]; handle: H }> {
  const exit = await r.handle.done;
  return { exit, stdout: r.out.join(''), stderr: r.err.join(''), chunks: r.out, handle: r.handle };
}
