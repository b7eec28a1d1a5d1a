// Resident: my room — its temperature now, the setpoint and weekly schedule I may change within the building's
// limits, and the heat I received free this month, in plain words. Laid out for a phone first.
import { useCallback, useEffect, useState, type JSX } from 'react';
import { EVENT_TYPES, isLiveEvent, type Boards, type Heater, type Me, type Room, type RoomSpec, type RoomTelemetry, type ScheduleEntry, type TelemetryHistory } from '../../protocol/platform.ts';
import { ApiError, call, fmt, followEvents, get } from '../api.ts';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

interface RoomState {
  room: Room;
  heaters: Heater[];
  airC: number | null;
  /** The heaters' power now, W (from the live stream; null until its first room figures). */
  powerW: number | null;
  freeKWh: number;
}

/** Heat a device gave from the start of this UTC month: the rise of its meter, kWh. */
async function monthKWh(heaterId: string): Promise<number> {
  const now = new Date();
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const bucketS = Math.max(60, Math.ceil((now.getTime() - from.getTime()) / 1000) + 60);
  const h = await get<TelemetryHistory>(`/hearth/v1/heaters/${encodeURIComponent(heaterId)}/telemetry?from=${encodeURIComponent(from.toISOString())}&bucket=${bucketS}`);
  const b = (h.buckets ?? []).filter((x) => typeof x.min.meterWh === 'number' && typeof x.max.meterWh === 'number');
  if (b.length === 0) return 0;
  return Math.max(0, Math.max(...b.map((x) => x.max.meterWh)) - Math.min(...b.map((x) => x.min.meterWh))) / 1000;
}

async function loadRoom(room: Room): Promise<RoomState> {
  const heaters = await get<Heater[]>(`/hearth/v1/rooms/${encodeURIComponent(room.id)}/heaters`);
  let airC: number | null = null;
  let freeKWh = 0;
  for (const h of heaters) {
    const b = await get<Boards>(`/hearth/v1/heaters/${encodeURIComponent(h.id)}/boards`);
    const a = b.latest?.data.airC;
    if (typeof a === 'number') airC = a;
    freeKWh += await monthKWh(h.id);
  }
  return { room, heaters, airC, powerW: null, freeKWh };
}

export function Resident(props: { me: Me }): JSX.Element {
  const [rooms, setRooms] = useState<RoomState[] | null>(null);
  const [error, setError] = useState('');
  const refresh = useCallback(async () => {
    const all = await get<Room[]>('/hearth/v1/rooms');
    const mine = all.filter((r) => (props.me.scope.roomIds ?? []).includes(r.id));
    setRooms(await Promise.all(mine.map(loadRoom)));
  }, [props.me]);
  useEffect(() => {
    refresh().catch((e: unknown) => setError(String((e as Error).message)));
    // Setpoint changes come back over the live stream (also those made from another device), and the room's
    // temperature and power once per scheduling period (room.telemetry: the server sends this account its rooms only).
    const stop = followEvents((events) => {
      const figures = new Map<string, RoomTelemetry>();
      for (const e of events) if (isLiveEvent(e, EVENT_TYPES.roomTelemetry)) for (const r of e.payload.rooms) figures.set(r.roomId, r);
      if (figures.size > 0) {
        setRooms((cur) =>
          cur &&
          cur.map((s) => {
            const f = figures.get(s.room.id);
            return f ? { ...s, airC: f.airC ?? s.airC, powerW: f.powerW ?? s.powerW } : s;
          }),
        );
      }
      const changed = new Set(events.filter((e) => e.type === 'setpoint').map((e) => (e.payload as { roomId?: string }).roomId));
      if (changed.size === 0) return;
      void Promise.all(
        [...changed].filter((id): id is string => typeof id === 'string').map((id) => get<Room>(`/hearth/v1/rooms/${encodeURIComponent(id)}`)),
      ).then((fresh) => setRooms((cur) => cur && cur.map((s) => ({ ...s, room: fresh.find((r) => r.id === s.room.id) ?? s.room }))), () => undefined);
    });
    // The month's heat (and the temperature, should the stream be down) is re-read every ten minutes.
    const timer = setInterval(() => void refresh().catch(() => undefined), 600_000);
    return () => {
      stop();
      clearInterval(timer);
    };
  }, [refresh]);
  if (error) return <p className="error">{error}</p>;
  if (!rooms) return <p className="muted">Loading your room…</p>;
  if (rooms.length === 0) return <p className="muted">No room is linked to your account yet.</p>;
  return (
    <div className="resident" data-testid="resident">
      {rooms.map((s) => (
        <RoomCard key={s.room.id} state={s} />
      ))}
    </div>
  );
}

function RoomCard(props: { state: RoomState }): JSX.Element {
  const { room, airC, powerW, freeKWh } = props.state;
  const spec = room.spec as RoomSpec;
  const [wanted, setWanted] = useState(spec.comfortC);
  const [message, setMessage] = useState('');
  const [saving, setSaving] = useState(false);
  useEffect(() => setWanted(spec.comfortC), [spec.comfortC]);
  const clamp = (x: number): number => Math.min(spec.maxC, Math.max(spec.minC, Math.round(x * 2) / 2));
  const save = (): void => {
    setSaving(true);
    setMessage('');
    call<Room>('PUT', `/hearth/v1/rooms/${encodeURIComponent(room.id)}/setpoint`, { comfortC: wanted })
      .then(() => setMessage('Saved: your radiator follows the new setpoint within a few minutes.'))
      .catch((e: unknown) => setMessage(e instanceof ApiError ? e.message : String(e)))
      .finally(() => setSaving(false));
  };
  return (
    <section className="room-card" data-testid="room-card" data-room={room.id}>
      <h1>{room.name}</h1>
      <div className="big">
        <div>
          <span className="kpi-label">Now</span>
          <span className="kpi-value" data-testid="air">
            {fmt(airC)} °C
          </span>
        </div>
        <div>
          <span className="kpi-label">Setpoint</span>
          <span className="kpi-value" data-testid="setpoint-applied">
            {fmt(spec.comfortC)} °C
          </span>
        </div>
      </div>
      {powerW !== null && (
        <p className="muted" data-testid="power-now">
          Your radiator gives {fmt(powerW, 0)} W of heat now.
        </p>
      )}
      <p className="plain" data-testid="free-heat">
        This month your radiator gave you <strong>{fmt(freeKWh, 1)} kWh</strong> of heat, free of charge — about {Math.round(freeKWh)} hours of a 1 kW electric heater. The
        computers inside it were working for hearth&apos;s customers, who paid for the electricity.
      </p>
      <div className="setpoint">
        <button type="button" aria-label="colder" onClick={() => setWanted((w) => clamp(w - 0.5))} data-testid="colder">
          −
        </button>
        <input
          type="number"
          step={0.5}
          min={spec.minC}
          max={spec.maxC}
          value={wanted}
          onChange={(e) => setWanted(Number(e.target.value))}
          aria-label="setpoint °C"
          data-testid="setpoint-input"
        />
        <button type="button" aria-label="warmer" onClick={() => setWanted((w) => clamp(w + 0.5))} data-testid="warmer">
          +
        </button>
        <button type="button" onClick={save} disabled={saving || wanted === spec.comfortC} data-testid="setpoint-save">
          Set
        </button>
      </div>
      <p className="muted">
        Your building allows {fmt(spec.minC)}–{fmt(spec.maxC)} °C.
      </p>
      {message && (
        <p className="note" role="status" data-testid="setpoint-message">
          {message}
        </p>
      )}
      <ScheduleEditor room={room} spec={spec} />
    </section>
  );
}

function ScheduleEditor(props: { room: Room; spec: RoomSpec }): JSX.Element {
  const { spec } = props;
  const [entries, setEntries] = useState<ScheduleEntry[]>(spec.schedule?.weekly ?? []);
  const [message, setMessage] = useState('');
  useEffect(() => setEntries(props.spec.schedule?.weekly ?? []), [props.spec.schedule]);
  const update = (k: number, patch: Partial<ScheduleEntry>): void => setEntries((es) => es.map((e, i) => (i === k ? { ...e, ...patch } : e)));
  const save = (): void => {
    setMessage('');
    call<Room>('PUT', `/hearth/v1/rooms/${encodeURIComponent(props.room.id)}/schedule`, { weekly: entries })
      .then(() => setMessage('Schedule saved.'))
      .catch((e: unknown) => setMessage(e instanceof ApiError ? e.message : String(e)));
  };
  return (
    <details className="schedule" data-testid="schedule">
      <summary>Weekly schedule ({entries.length === 0 ? `always ${fmt(spec.comfortC)} °C` : `${entries.length} periods; otherwise ${fmt(spec.setbackC)} °C`})</summary>
      {entries.map((e, k) => (
        <div className="entry" key={k}>
          <select value={e.day} onChange={(ev) => update(k, { day: Number(ev.target.value) })} aria-label="day">
            {DAYS.map((d, i) => (
              <option key={d} value={i}>
                {d}
              </option>
            ))}
          </select>
          <input type="time" value={e.from} onChange={(ev) => update(k, { from: ev.target.value })} aria-label="from" />
          <input type="time" value={e.to === '24:00' ? '23:59' : e.to} onChange={(ev) => update(k, { to: ev.target.value })} aria-label="to" />
          <input type="number" step={0.5} min={spec.minC} max={spec.maxC} value={e.setpointC} onChange={(ev) => update(k, { setpointC: Number(ev.target.value) })} aria-label="°C" />
          <button type="button" onClick={() => setEntries((es) => es.filter((_, i) => i !== k))} aria-label="remove">
            ✕
          </button>
        </div>
      ))}
      <div className="row">
        <button type="button" onClick={() => setEntries((es) => [...es, { day: 1, from: '07:00', to: '09:00', setpointC: spec.comfortC }])}>
          Add a period
        </button>
        <button type="button" onClick={save} data-testid="schedule-save">
          Save schedule
        </button>
      </div>
      {message && <p className="note">{message}</p>}
    </details>
  );
}
