// `hearth thermostat set|show`: a room's comfort setpoint over the SDK (an operator, or a resident of the room,
// within the room's limits) and what the room is at now.
import type { Command } from 'commander';
import { InvalidParameterError } from '../../physics/errors.ts';
import type { HearthClient, Room, RoomSpec } from '../../sdk/index.ts';
import { action, clientFromConfig, formatOf, printJson, printTable, withFormat } from './config.ts';

/** A room with its setpoint limits and the latest air temperature of its heaters. */
export interface RoomLine {
  id: string;
  name: string;
  siteId: string | null;
  comfortC: number | null;
  setbackC: number | null;
  minC: number | null;
  maxC: number | null;
  scheduled: boolean;
  airC: number | null;
  setpointNowC: number | null;
}

async function lineOf(client: HearthClient, room: Room): Promise<RoomLine> {
  const spec = (room.spec ?? {}) as Partial<RoomSpec>;
  const heaters = await client.platform.roomHeaters(room.id);
  const samples = (await Promise.all(heaters.map((h) => client.platform.boards(h.id)))).map((b) => b.latest?.data ?? {});
  const air = samples.map((d) => d.airC).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const sp = samples.map((d) => d.setpointC).find((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const n = (x: unknown): number | null => (typeof x === 'number' ? x : null);
  return {
    id: room.id,
    name: room.name,
    siteId: room.siteId,
    comfortC: n(spec.comfortC),
    setbackC: n(spec.setbackC),
    minC: n(spec.minC),
    maxC: n(spec.maxC),
    scheduled: (spec.schedule?.weekly.length ?? 0) > 0,
    airC: air.length === 0 ? null : air.reduce((a, b) => a + b, 0) / air.length,
    setpointNowC: sp ?? null,
  };
}

function print(lines: RoomLine[]): void {
  const f = (x: number | null): string | null => (x === null ? null : x.toFixed(1));
  printTable(
    ['room', 'air °C', 'setpoint now °C', 'comfort °C', 'setback °C', 'limits °C', 'schedule'],
    lines.map((r) => [r.name === r.id ? r.id : `${r.name} (${r.id})`, f(r.airC), f(r.setpointNowC), f(r.comfortC), f(r.setbackC), r.minC === null || r.maxC === null ? null : `${r.minC}–${r.maxC}`, r.scheduled ? 'yes' : 'no']),
  );
}

/** Registers `hearth thermostat …`. */
export function registerThermostat(program: Command): void {
  const thermostat = program.command('thermostat').description("a room's setpoint (operators, or the room's residents)");

  withFormat(
    thermostat
      .command('set')
      .description("set a room's comfort setpoint, °C (within the room's limits)")
      .argument('<room>', 'room id')
      .argument('<temp>', 'setpoint, °C'),
  ).action(
    action(async (roomId: string, temp: string, f: { format?: string }) => {
      const format = formatOf(f);
      const c = Number(temp.replace(',', '.'));
      if (temp.trim() === '' || !Number.isFinite(c)) throw new InvalidParameterError('temp', `must be a temperature in °C, got ${JSON.stringify(temp)}`);
      const room = await clientFromConfig().platform.setSetpoint(roomId, c);
      if (format === 'json') return printJson(room);
      process.stdout.write(`${room.name === room.id ? room.id : `${room.name} (${room.id})`}: comfort setpoint ${c} °C\n`);
    }),
  );

  withFormat(thermostat.command('show').description('rooms you may see (or one) with temperature and setpoints').argument('[room]', 'room id')).action(
    action(async (roomId: string | undefined, f: { format?: string }) => {
      const format = formatOf(f);
      const client = clientFromConfig();
      const rooms = roomId === undefined ? await client.platform.rooms() : [await client.platform.room(roomId)];
      const lines = await Promise.all(rooms.map((r) => lineOf(client, r)));
      if (format === 'json') return printJson(roomId === undefined ? lines : lines[0]);
      print(lines);
    }),
  );
}
