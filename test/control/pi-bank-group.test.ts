// PiBank.requestGroup: the bank's request for a range of rooms sharing one input (but their air), slot by slot the
// same figures as PiBank.request, including wantHeatHours of the forecast, over many rounds with delivery feedback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PiBank, PiController } from '../../src/control/pi.ts';
import { SharedHeatNeed } from '../../src/control/forecast.ts';
import type { RoomControlInput } from '../../src/control/types.ts';
import { createRng } from '../../src/physics/random.ts';

test('requestGroup equals request slot by slot (power, band, wantHeatH, controller state)', () => {
  const n = 40;
  const H = 24;
  const opts = (j: number) => ({ uaWK: 20 + (j % 3) * 10, preheatH: j % 4 === 0 ? 0 : 6 + (j % 3) * 3, feedForwardWK: j % 5 === 0 ? 30 : 0, solarUse: j % 2 ? 1 : 0.5 });
  const a = new PiBank(n);
  const b = new PiBank(n);
  for (let j = 0; j < n; j++) {
    a.adopt(j, new PiController(opts(j)));
    b.adopt(j, new PiController(opts(j)));
  }
  const rng = createRng(5);
  const air = new Float64Array(n);
  const out = { powerW: new Float64Array(n), minW: new Float64Array(n), maxW: new Float64Array(n), wantHeatH: new Float32Array(n) };
  const sharedA = new SharedHeatNeed();
  const sharedB = new SharedHeatNeed();
  for (let round = 0; round < 200; round++) {
    const hour = Math.floor(round / 12);
    const ahead = (k0: number, f: (k: number) => number) => Float64Array.from({ length: H }, (_, k) => f(k + k0));
    const input: RoomControlInput = {
      nowS: round * 300,
      periodS: 300,
      airC: 0,
      state: new Float64Array(4),
      setpointC: (hour + 24) % 24 < 7 ? 16 : 19,
      setpointAheadC: ahead(hour, (k) => ((k + 24) % 24 < 7 ? 16 : 19)),
      outdoorAheadC: ahead(hour, (k) => 5 + 6 * Math.sin(k / 4)),
      solarAheadW: ahead(hour, (k) => Math.max(0, 300 * Math.sin((k - 6) / 4))),
      gainsAheadW: ahead(hour, (k) => 50 + 40 * Math.cos(k)),
      maxHeatW: 600,
      limits: { lowerBandK: 0.5, upperBandK: 1, safetyMaxC: 28 },
    };
    for (let j = 0; j < n; j++) air[j] = j === 7 && round === 50 ? NaN : 14 + 10 * rng.next() + (j === 3 ? 20 : 0);
    sharedA.key = hour;
    sharedB.key = hour;
    const want = new Float64Array(n);
    const ref = { p: new Float64Array(n), lo: new Float64Array(n), hi: new Float64Array(n) };
    for (let j = 0; j < n; j++) {
      want[j] = a.request(j, { ...input, airC: air[j] }, H, 30, sharedA);
      ref.p[j] = a.powerW;
      ref.lo[j] = a.minW;
      ref.hi[j] = a.maxW;
    }
    b.requestGroup(0, n, input, air, H, 30, sharedB, out);
    assert.deepEqual(out.powerW, ref.p, `round ${round}`);
    assert.deepEqual(out.minW, ref.lo, `round ${round}`);
    assert.deepEqual(out.maxW, ref.hi, `round ${round}`);
    assert.deepEqual(Array.from(out.wantHeatH), Array.from(Float32Array.from(want)), `round ${round}`);
    for (let j = 0; j < n; j++) {
      const got = ref.p[j] * (0.5 + rng.next());
      a.delivered(j, got);
      b.delivered(j, got);
    }
  }
  assert.deepEqual(b.integralW, a.integralW);
  assert.deepEqual(b.lastRequestW, a.lastRequestW);
});
