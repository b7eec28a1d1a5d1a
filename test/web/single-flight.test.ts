// The dashboard's singleFlight (src/web/single-flight.ts): one read at a time, one more after it when asked meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { singleFlight } from '../../src/web/single-flight.ts';

/** A run the test ends by hand. */
function gate(): { runs: Array<{ end: (ok: boolean) => void }>; fn: () => Promise<void> } {
  const runs: Array<{ end: (ok: boolean) => void }> = [];
  return {
    runs,
    fn: () =>
      new Promise<void>((resolve, reject) => {
        runs.push({ end: (ok) => (ok ? resolve() : reject(new Error('read failed'))) });
      }),
  };
}
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('singleFlight: asks while a run is in flight make one more run after it, not one each', async () => {
  const g = gate();
  const read = singleFlight(g.fn);
  read();
  read();
  read();
  read();
  assert.equal(g.runs.length, 1, 'one at a time');
  g.runs[0].end(true);
  await settle();
  assert.equal(g.runs.length, 2, 'one more for the asks made meanwhile');
  g.runs[1].end(true);
  await settle();
  assert.equal(g.runs.length, 2, 'nothing asked during the second: no third');
  read();
  assert.equal(g.runs.length, 3, 'idle: an ask starts a run at once');
});

test('singleFlight: a failed run is ignored and still honours the ask made meanwhile; a stopped reader runs no more', async () => {
  const g = gate();
  let stopped = false;
  const read = singleFlight(g.fn, () => stopped);
  read();
  read();
  g.runs[0].end(false);
  await settle();
  assert.equal(g.runs.length, 2);
  read();
  stopped = true;
  g.runs[1].end(true);
  await settle();
  assert.equal(g.runs.length, 2, 'the reader is gone: the asked run is dropped');
});
