// hearth's own platform API under /hearth/v1: sites, rooms, heaters, boilers, boards, setpoints and schedules,
// telemetry history, the fleet summary, site energy (kWh, € owed to the host, carbon), usage, and accounts.
import type { AccountCreate, AccountCreated, AccountRoomsOutput } from '../protocol/account.ts';
import type {
  Boards,
  Boiler,
  FleetPlacements,
  FleetSummary,
  Heater,
  Room,
  ScheduleEntry,
  Site,
  SiteEnergy,
  Statement,
  StatementList,
  TelemetryHistory,
  Usage,
} from '../protocol/platform.ts';
import type { Transport } from './http.ts';

const P = '/hearth/v1';
const seg = (s: string): string => encodeURIComponent(s);

/** A time given as a Date, ms since the epoch or an ISO string. */
export type TimeLike = Date | number | string;

function isoOf(t: TimeLike | undefined): string | undefined {
  if (t === undefined) return undefined;
  if (typeof t === 'string') return t;
  return new Date(t).toISOString();
}

/** The hearth platform API of a client. */
export class Platform {
  constructor(private readonly http: Transport) {}

  /** Sites the caller may see. */
  sites(): Promise<Site[]> {
    return this.http.json({ method: 'GET', path: `${P}/sites` });
  }
  /** One site. */
  site(id: string): Promise<Site> {
    return this.http.json({ method: 'GET', path: `${P}/sites/${seg(id)}` });
  }
  /** The rooms of a site. */
  siteRooms(id: string): Promise<Room[]> {
    return this.http.json({ method: 'GET', path: `${P}/sites/${seg(id)}/rooms` });
  }
  /** The hot-water boilers of a site. */
  siteBoilers(id: string): Promise<Boiler[]> {
    return this.http.json({ method: 'GET', path: `${P}/sites/${seg(id)}/boilers` });
  }
  /** Rooms the caller may see. */
  rooms(): Promise<Room[]> {
    return this.http.json({ method: 'GET', path: `${P}/rooms` });
  }
  /** One room (its spec holds comfortC, setbackC, minC, maxC, schedule…). */
  room(id: string): Promise<Room> {
    return this.http.json({ method: 'GET', path: `${P}/rooms/${seg(id)}` });
  }
  /** The heaters of a room. */
  roomHeaters(id: string): Promise<Heater[]> {
    return this.http.json({ method: 'GET', path: `${P}/rooms/${seg(id)}/heaters` });
  }
  /** Heaters the caller may see. */
  heaters(): Promise<Heater[]> {
    return this.http.json({ method: 'GET', path: `${P}/heaters` });
  }
  /** One heater. */
  heater(id: string): Promise<Heater> {
    return this.http.json({ method: 'GET', path: `${P}/heaters/${seg(id)}` });
  }
  /** Boilers the caller may see. */
  boilers(): Promise<Boiler[]> {
    return this.http.json({ method: 'GET', path: `${P}/boilers` });
  }
  /** A device's boards and its latest telemetry sample. */
  boards(id: string, kind: 'heater' | 'boiler' = 'heater'): Promise<Boards> {
    return this.http.json({ method: 'GET', path: `${P}/${kind}s/${seg(id)}/boards` });
  }
  /** A device's telemetry history: raw samples, or mean/min/max per bucket when `bucketS` ≥ 60. Default: the last 24 h. */
  telemetry(id: string, opts: { kind?: 'heater' | 'boiler'; from?: TimeLike; to?: TimeLike; bucketS?: number; limit?: number } = {}): Promise<TelemetryHistory> {
    return this.http.json({
      method: 'GET',
      path: `${P}/${opts.kind ?? 'heater'}s/${seg(id)}/telemetry`,
      query: { from: isoOf(opts.from), to: isoOf(opts.to), bucket: opts.bucketS, limit: opts.limit },
    });
  }
  /** Sets a room's comfort setpoint, °C (an operator, or a resident of the room, within the room's limits); returns the room. */
  setSetpoint(roomId: string, comfortC: number): Promise<Room> {
    return this.http.json({ method: 'PUT', path: `${P}/rooms/${seg(roomId)}/setpoint`, json: { comfortC } });
  }
  /** Sets a room's weekly schedule; returns the room. */
  setSchedule(roomId: string, weekly: ScheduleEntry[]): Promise<Room> {
    return this.http.json({ method: 'PUT', path: `${P}/rooms/${seg(roomId)}/schedule`, json: { weekly } });
  }
  /** The whole fleet at a glance (operators). */
  fleet(opts: { onlineWithinS?: number } = {}): Promise<FleetSummary> {
    return this.http.json({ method: 'GET', path: `${P}/fleet`, query: { onlineWithinS: opts.onlineWithinS } });
  }
  /**
   * What runs where (operators): per device, the instances placed on its boards (task, instance, board, state,
   * progress, owner); with `deviceId`, that device only (listed even when idle).
   */
  placements(opts: { deviceId?: string } = {}): Promise<FleetPlacements> {
    return this.http.json({ method: 'GET', path: `${P}/fleet/placements`, query: { deviceId: opts.deviceId } });
  }
  /** A site's electricity per device, what is owed to its host and its carbon over [from, to) (default: this month). */
  siteEnergy(id: string, opts: { from?: TimeLike; to?: TimeLike } = {}): Promise<SiteEnergy> {
    return this.http.json({ method: 'GET', path: `${P}/sites/${seg(id)}/energy`, query: { from: isoOf(opts.from), to: isoOf(opts.to) } });
  }
  /** Months with a host statement for a site. */
  statements(id: string): Promise<StatementList> {
    return this.http.json({ method: 'GET', path: `${P}/sites/${seg(id)}/statements` });
  }
  /** A site's host statement for a `YYYY-MM` month. */
  statement(id: string, month: string): Promise<Statement> {
    return this.http.json({ method: 'GET', path: `${P}/sites/${seg(id)}/statements/${seg(month)}` });
  }
  /** The caller's compute usage (energy, GHz·s, CPU core-hours) over [from, to), and what was billed for it (`billed`: core-hours, €, per scheduling type). */
  usage(opts: { from?: TimeLike; to?: TimeLike } = {}): Promise<Usage> {
    return this.http.json({ method: 'GET', path: `${P}/accounts/me/usage`, query: { from: isoOf(opts.from), to: isoOf(opts.to) } });
  }
  /** Creates an account (operators); the token in the answer is shown this once. Never retried. */
  createAccount(body: AccountCreate): Promise<AccountCreated> {
    return this.http.json({ method: 'POST', path: `${P}/accounts`, json: body });
  }
  /** A resident's rooms from now on (operators); the Home Assistant logins they issued for other rooms are revoked. */
  setResidentRooms(accountId: string, roomIds: string[]): Promise<AccountRoomsOutput> {
    return this.http.json({ method: 'PUT', path: `${P}/accounts/${seg(accountId)}/rooms`, json: { roomIds } });
  }
}
