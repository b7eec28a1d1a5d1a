// `hearth fleet` (operators): the fleet at a glance over the SDK — counts and power, then one line per heater:
// its room, air temperature against setpoint, power split (compute, filler, booster) and busy boards; with
// --placements, what runs where: one line per instance placed on a device's board.
import type { Command } from 'commander';
import { InvalidParameterError } from '../../physics/errors.ts';
import type { Boards, FleetPlacements, FleetSummary, HearthClient, Heater, Room } from '../../sdk/index.ts';
import { action, clientFromConfig, formatOf, printFields, printJson, printTable, withFormat } from './config.ts';

/** One heater's line. */
export interface HeaterLine {
  id: string;
  name: string;
  roomId: string | null;
  room: string | null;
  siteId: string | null;
  airC: number | null;
  setpointC: number | null;
  powerW: number | null;
  computeW: number | null;
  fillerW: number | null;
  boosterW: number | null;
  busyBoards: number | null;
  boards: number;
  /** What the heater runs now, from its latest sample: compute, filler, booster, idle. */
  running: string;
  sampleAt: string | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** What a heater's latest sample says it runs. */
function runningOf(b: Boards): string {
  const d = b.latest?.data ?? {};
  const parts: string[] = [];
  const busy = num(d.busyBoards);
  if ((num(d.computeW) ?? 0) > 0) parts.push(`compute${busy ? ` on ${busy}/${b.boards.length} boards` : ''}`);
  if ((num(d.fillerW) ?? 0) > 0) parts.push('filler');
  if ((num(d.boosterW) ?? 0) > 0) parts.push('booster');
  return b.latest === null ? 'no data' : parts.length === 0 ? 'idle' : parts.join(' + ');
}

/** Maps `fn` over `items` with at most `limit` in flight. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The summary and a line per heater (its latest sample read from `/heaters/{id}/boards`). */
export async function fleetView(client: HearthClient, opts: { site?: string; onlineWithinS?: number } = {}): Promise<{ summary: FleetSummary; heaters: HeaterLine[] }> {
  const [summary, heaters, rooms] = await Promise.all([client.platform.fleet({ onlineWithinS: opts.onlineWithinS }), client.platform.heaters(), client.platform.rooms()]);
  const roomById = new Map<string, Room>(rooms.map((r) => [r.id, r]));
  const mine = heaters.filter((h: Heater) => opts.site === undefined || h.siteId === opts.site);
  const lines = await mapLimit(mine, 8, async (h): Promise<HeaterLine> => {
    const b = await client.platform.boards(h.id);
    const d = b.latest?.data ?? {};
    const room = h.roomId ? roomById.get(h.roomId) : undefined;
    return {
      id: h.id,
      name: h.name,
      roomId: h.roomId,
      room: room?.name ?? null,
      siteId: h.siteId,
      airC: num(d.airC),
      setpointC: num(d.setpointC) ?? num((room?.spec as { comfortC?: unknown } | undefined)?.comfortC),
      powerW: num(d.powerW),
      computeW: num(d.computeW),
      fillerW: num(d.fillerW),
      boosterW: num(d.boosterW),
      busyBoards: b.busyBoards,
      boards: b.boards.length,
      running: runningOf(b),
      sampleAt: b.latest?.time ?? null,
    };
  });
  return { summary, heaters: lines };
}

/** One line per placed instance, by device then board (the table of `hearth fleet --placements`). */
export function placementRows(p: FleetPlacements): Array<Array<string | null>> {
  return p.devices.flatMap((d) =>
    d.instances.map((i) => [
      d.name === null || d.name === d.deviceId ? d.deviceId : `${d.name} (${d.deviceId})`,
      i.boardIndex === null ? null : String(i.boardIndex),
      i.taskName === '' ? i.taskUuid : `${i.taskName} (${i.taskUuid})`,
      String(i.instanceId),
      i.state,
      `${Math.round(i.progress)} %`,
      i.accountEmail ?? i.accountId,
    ]),
  );
}

const f1 = (x: number | null): string | null => (x === null ? null : x.toFixed(1));
const w0 = (x: number | null): string | null => (x === null ? null : `${Math.round(x)}`);

/** Registers `hearth fleet`. */
export function registerFleet(program: Command): void {
  withFormat(
    program
      .command('fleet')
      .description('operators: the fleet at a glance — heaters, rooms, temperature vs setpoint, power, what runs where')
      .option('--site <id>', 'only the heaters of this site')
      .option('--online-within <seconds>', 'a device is online when its latest sample is this recent')
      .option('--placements', 'what runs where: one line per instance placed on a device (task, instance, board, state, progress, owner)')
      .option('--device <id>', 'with --placements: only this heater or boiler'),
  ).action(
    action(async (f: { site?: string; onlineWithin?: string; placements?: boolean; device?: string; format?: string }) => {
      const format = formatOf(f);
      if (f.device !== undefined && !f.placements) throw new InvalidParameterError('--device', 'goes with --placements');
      if (f.placements) {
        const client = clientFromConfig();
        const p = await client.platform.placements({ deviceId: f.device });
        if (f.site !== undefined) {
          const [heaters, boilers] = await Promise.all([client.platform.heaters(), client.platform.boilers()]);
          const onSite = new Set([...heaters, ...boilers].filter((d) => d.siteId === f.site).map((d) => d.id));
          p.devices = p.devices.filter((d) => onSite.has(d.deviceId));
        }
        if (format === 'json') return printJson(p);
        const rows = placementRows(p);
        if (rows.length === 0) process.stdout.write(`nothing runs on ${f.device ?? 'the fleet'}'s boards\n`);
        else printTable(['device', 'board', 'task', 'instance', 'state', 'progress', 'account'], rows);
        process.stdout.write(`${p.overflowInstances} instance(s) in the overflow datacenter\n`);
        return;
      }
      let onlineWithinS: number | undefined;
      if (f.onlineWithin !== undefined) {
        onlineWithinS = Number(f.onlineWithin);
        if (!Number.isInteger(onlineWithinS) || onlineWithinS < 1) throw new InvalidParameterError('--online-within', `must be an integer number of seconds ≥ 1, got ${f.onlineWithin}`);
      }
      const view = await fleetView(clientFromConfig(), { site: f.site, onlineWithinS });
      if (format === 'json') return printJson(view);
      const s = view.summary;
      printFields([
        ['at', s.at],
        ['sites / rooms', `${s.sites} / ${s.rooms}`],
        ['heaters / boilers', `${s.heaters} / ${s.boilers}`],
        ['online', `${s.online} (sample within ${s.onlineWithinS} s)`],
        ['boards busy', `${s.busyBoards} of ${s.boards}`],
        ['power', `${Math.round(s.powerW)} W (compute ${Math.round(s.computeW)}, filler ${Math.round(s.fillerW)}, booster ${Math.round(s.boosterW)})`],
        ['mean |setpoint − air|', s.meanAbsSetpointErrorC === null ? null : `${s.meanAbsSetpointErrorC.toFixed(2)} °C`],
      ]);
      process.stdout.write('\n');
      printTable(
        ['heater', 'room', 'air °C', 'setpoint °C', 'Δ °C', 'power W', 'compute W', 'filler W', 'busy', 'running'],
        view.heaters.map((h) => [
          h.name === h.id ? h.id : `${h.name} (${h.id})`,
          h.room,
          f1(h.airC),
          f1(h.setpointC),
          h.airC === null || h.setpointC === null ? null : (h.airC - h.setpointC >= 0 ? '+' : '') + (h.airC - h.setpointC).toFixed(1),
          w0(h.powerW),
          w0(h.computeW),
          w0(h.fillerW),
          h.busyBoards === null ? null : `${h.busyBoards}/${h.boards}`,
          h.running,
        ]),
      );
    }),
  );
}
