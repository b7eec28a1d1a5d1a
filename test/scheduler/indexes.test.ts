// The policies' hardware and site indexes rebuild when the fleet's columns change: found by comparing the columns
// each round, or — when the view's producer gives FleetView.layoutVersion — by that number alone (the twin and the
// live loop give it; the comparison is skipped while view and number stay the same).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HardwareConfigs, SiteIndex } from '../../src/scheduler/indexes.ts';
import { fleetOf } from './helpers.ts';

test('hardware and site indexes: a change is found by comparing, or by layoutVersion when the producer gives one', () => {
  const f = fleetOf(4);
  for (let h = 0; h < 4; h++) {
    f.coresPerBoard[h] = 8;
    f.memoryMBPerBoard[h] = 4096;
    f.site[h] = 0;
  }
  const hw = new HardwareConfigs();
  const sites = new SiteIndex();
  hw.build(f);
  sites.build(f);
  assert.equal(hw.count, 1);
  assert.equal(sites.sites, 1);
  // No version: the columns are compared each round, a change is seen.
  f.coresPerBoard[2] = 16;
  f.site[3] = 1;
  hw.build(f);
  sites.build(f);
  assert.equal(hw.count, 2);
  assert.equal(sites.sites, 2);
  assert.deepEqual([...sites.heaters.subarray(sites.start[1], sites.start[2])], [3]);
  // A version: the producer's promise is taken (an unannounced change is not looked for) …
  f.layoutVersion = 1;
  hw.build(f);
  sites.build(f);
  f.gpu[3] = 1;
  f.site[0] = 2;
  hw.build(f);
  sites.build(f);
  assert.equal(hw.count, 2, 'same view, same version: not compared');
  assert.equal(sites.sites, 2);
  // … and a new number makes them look.
  f.layoutVersion = 2;
  hw.build(f);
  sites.build(f);
  assert.equal(hw.count, 3);
  assert.equal(sites.sites, 3);
  // Another view object with the same number is compared too.
  const g = fleetOf(4);
  g.layoutVersion = 2;
  for (let h = 0; h < 4; h++) {
    g.coresPerBoard[h] = 8;
    g.memoryMBPerBoard[h] = 4096;
    g.site[h] = 0;
  }
  hw.build(g);
  sites.build(g);
  assert.equal(hw.count, 1);
  assert.equal(sites.sites, 1);
});
