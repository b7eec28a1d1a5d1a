// The demo fleet `hearth start` seeds into an empty store: one social-housing building in Bordeaux (zone H2c)
// with a few flats and offices, each heated by a 3-board computing radiator, and a computing boiler.
import type { Store } from '../store/types.ts';

/** Ids of the demo rows (stable, so a restart finds them). */
export const DEMO_SITE_ID = 'demo-site';

/** Rooms of the demo building: name, archetype, floor area m², comfort setpoint °C. */
const DEMO_ROOMS: ReadonlyArray<{ name: string; archetype: string; areaM2: number; comfortC: number }> = [
  { name: 'Flat 1 — living room', archetype: 'dwelling-1974-1982', areaM2: 24, comfortC: 20 },
  { name: 'Flat 1 — bedroom', archetype: 'dwelling-1974-1982', areaM2: 14, comfortC: 18 },
  { name: 'Flat 2 — living room', archetype: 'dwelling-1974-1982', areaM2: 22, comfortC: 20 },
  { name: 'Flat 3 — living room', archetype: 'dwelling-rt2005', areaM2: 26, comfortC: 19.5 },
  { name: 'Social services office', archetype: 'office-1989-2000', areaM2: 30, comfortC: 19 },
  { name: 'Reception', archetype: 'office-1989-2000', areaM2: 35, comfortC: 19 },
];

/**
 * Seeds the demo site when the store has no site at all (a store with any site of its own is left alone).
 * Returns how many heaters and boilers it created (0 when it did nothing).
 */
export async function seedDemoSite(store: Store, options: { rooms?: number } = {}): Promise<number> {
  if ((await store.listRegistry({ kind: 'site' })).length > 0) return 0;
  const n = Math.max(1, Math.min(DEMO_ROOMS.length, options.rooms ?? DEMO_ROOMS.length));
  await store.transaction(async (tx) => {
    await tx.upsertRegistry({
      id: DEMO_SITE_ID,
      kind: 'site',
      name: 'Résidence Les Tilleuls, Bordeaux (demo)',
      spec: { climateZone: 'H2c', tariffEURPerKWh: 0.2516, address: 'Bordeaux, Gironde', layout: { x: 0, y: 0 } },
    });
    for (let k = 0; k < n; k++) {
      const r = DEMO_ROOMS[k];
      const roomId = `demo-room-${k + 1}`;
      await tx.upsertRegistry({
        id: roomId,
        kind: 'room',
        siteId: DEMO_SITE_ID,
        name: r.name,
        spec: { archetype: r.archetype, areaM2: r.areaM2, comfortC: r.comfortC, setbackC: 16, minC: 16, maxC: 23, safetyC: 28 },
      });
      await tx.upsertRegistry({
        id: `demo-heater-${k + 1}`,
        kind: 'heater',
        siteId: DEMO_SITE_ID,
        parentId: roomId,
        name: `Radiator ${k + 1}`,
        spec: { model: 'hearth-q3', boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 495 },
      });
    }
    await tx.upsertRegistry({
      id: 'demo-boiler-1',
      kind: 'boiler',
      siteId: DEMO_SITE_ID,
      name: 'Computing boiler',
      spec: { volumeL: 300, setpointC: 55, safetyC: 70, boards: 3, coresPerBoard: 4, memoryMBPerBoard: 8192, gpu: false, maxW: 495 },
    });
  });
  return n + 1;
}
