// Building manager (an operator, or the site's host): the rooms and tanks of one site, temperatures against
// setpoints over the last day or week, heat delivered free, a comfort report and the hot water.
import { useEffect, useRef, useState, type JSX } from 'react';
import { EVENT_TYPES, isLiveEvent, type Boiler, type BoilerSpec, type Heater, type Room, type RoomSpec, type RoomTelemetry, type Site, type SiteEnergy, type TelemetryHistory } from '../../protocol/platform.ts';
import { fmt, followEvents, get } from '../api.ts';
import { Chart } from '../Chart.tsx';

type Range = 'day' | 'week';
const RANGES: Record<Range, { ms: number; bucketS: number }> = { day: { ms: 86_400_000, bucketS: 900 }, week: { ms: 7 * 86_400_000, bucketS: 3600 } };

interface Series {
  t: number[];
  air: (number | null)[];
  set: (number | null)[];
}

function seriesOf(h: TelemetryHistory): Series {
  const b = h.buckets ?? [];
  return { t: b.map((x) => Date.parse(x.time) / 1000), air: b.map((x) => x.mean.airC ?? null), set: b.map((x) => x.mean.setpointC ?? null) };
}

/** The last non-null value of a series, or null. */
function lastValue(v: readonly (number | null)[]): number | null {
  for (let k = v.length - 1; k >= 0; k--) if (v[k] !== null) return v[k];
  return null;
}

/** Comfort over a series: share of buckets no more than 1 K below setpoint, mean deficit, worst deficit, K. */
function comfortOf(s: Series): { okShare: number | null; meanC: number | null; worstC: number | null } {
  const d: number[] = [];
  s.air.forEach((a, k) => {
    const sp = s.set[k];
    if (a !== null && sp !== null) d.push(sp - a);
  });
  if (d.length === 0) return { okShare: null, meanC: null, worstC: null };
  return { okShare: d.filter((x) => x <= 1).length / d.length, meanC: d.reduce((a, b) => a + b, 0) / d.length, worstC: Math.max(...d) };
}

export function Building(props: { siteId: string }): JSX.Element {
  const { siteId } = props;
  const [range, setRange] = useState<Range>('day');
  const [site, setSite] = useState<Site | null>(null);
  const [rooms, setRooms] = useState<Room[]>([]);
  const [heaters, setHeaters] = useState<Heater[]>([]);
  const [boilers, setBoilers] = useState<Boiler[]>([]);
  const [energy, setEnergy] = useState<SiteEnergy | null>(null);
  const [history, setHistory] = useState<Map<string, Series>>(new Map());
  const [error, setError] = useState('');
  const [reload, setReload] = useState(0);
  const [loadedAt, setLoadedAt] = useState(() => Date.now());
  // Each room's figures now, from the live stream (room.telemetry for a host; operators' come from telemetry.batch).
  const [now, setNow] = useState<ReadonlyMap<string, Pick<RoomTelemetry, 'airC' | 'powerW'>>>(new Map());

  useEffect(() => {
    const ac = new AbortController();
    const id = encodeURIComponent(siteId);
    (async () => {
      const [s, rs, hs, bs, en] = await Promise.all([
        get<Site>(`/hearth/v1/sites/${id}`, ac.signal),
        get<Room[]>(`/hearth/v1/sites/${id}/rooms`, ac.signal),
        get<Heater[]>('/hearth/v1/heaters', ac.signal),
        get<Boiler[]>(`/hearth/v1/sites/${id}/boilers`, ac.signal),
        get<SiteEnergy>(`/hearth/v1/sites/${id}/energy`, ac.signal),
      ]);
      setSite(s);
      setRooms(rs);
      const mine = hs.filter((h) => h.siteId === siteId);
      setHeaters(mine);
      setBoilers(bs);
      setEnergy(en);
      const { ms, bucketS } = RANGES[range];
      const from = new Date(Date.now() - ms).toISOString();
      const m = new Map<string, Series>();
      const devices: Array<[string, string]> = [...mine.map((h): [string, string] => ['heaters', h.id]), ...bs.map((b): [string, string] => ['boilers', b.id])];
      await Promise.all(
        devices.map(async ([kind, d]) => {
          const h = await get<TelemetryHistory>(`/hearth/v1/${kind}/${encodeURIComponent(d)}/telemetry?from=${encodeURIComponent(from)}&bucket=${bucketS}`, ac.signal);
          m.set(d, seriesOf(h));
        }),
      );
      setHistory(m);
      setLoadedAt(Date.now());
      // Until the live stream's first figures arrive (one loop period), a room shows its latest bucket's air.
      setNow((cur) => {
        const next = new Map(cur);
        for (const h of mine) {
          const air = h.roomId === null || next.has(h.roomId) ? null : lastValue(m.get(h.id)?.air ?? []);
          if (air !== null && h.roomId !== null) next.set(h.roomId, { airC: air });
        }
        return next;
      });
    })().catch((e: unknown) => {
      if (!ac.signal.aborted) setError(String((e as Error).message));
    });
    return () => ac.abort();
  }, [siteId, range, reload]);

  // A setpoint or registry change in this site reloads the page's data (at most once per animation frame).
  useEffect(
    () =>
      followEvents((events) => {
        if (events.some((e) => (e.type === 'setpoint' && (e.payload as { siteId?: string }).siteId === siteId) || e.type === 'registry')) setReload((r) => r + 1);
        const fresh = new Map<string, Pick<RoomTelemetry, 'airC' | 'powerW'>>();
        for (const e of events) {
          if (isLiveEvent(e, EVENT_TYPES.roomTelemetry)) {
            for (const r of e.payload.rooms) if (r.siteId === siteId) fresh.set(r.roomId, { airC: r.airC, powerW: r.powerW });
          } else if (isLiveEvent(e, EVENT_TYPES.telemetryBatch)) {
            // Operators: the batch is per device; a room's heater stands for the room (as in the charts).
            for (const s of e.payload.samples) {
              const roomId = heaterRoom.current.get(s.deviceId);
              if (roomId !== undefined) fresh.set(roomId, { airC: s.airC, powerW: s.powerW });
            }
          }
        }
        if (fresh.size > 0) setNow((cur) => new Map([...cur, ...fresh]));
      }),
    [siteId],
  );
  const heaterRoom = useRef(new Map<string, string>());
  heaterRoom.current = new Map(heaters.filter((h) => h.roomId !== null).map((h) => [h.id, h.roomId!]));

  if (error) return <p className="error">{error}</p>;
  if (!site) return <p className="muted">Loading the building…</p>;
  const nowS = loadedAt / 1000;
  const xRange: [number, number] = [nowS - RANGES[range].ms / 1000, nowS];
  const kWhOf = (id: string): number => energy?.devices.find((d) => d.id === id)?.kWh ?? 0;
  return (
    <div className="building-page" data-testid="building">
      <h1>{site.name}</h1>
      <p className="muted">{(site.spec as { address?: string } | null)?.address ?? ''}</p>
      <section className="kpis">
        <div className="kpi" data-testid="heat-free">
          <span className="kpi-label">Heat delivered free this month</span>
          <span className="kpi-value">{fmt(energy?.totalKWh, 1)} kWh</span>
        </div>
        <div className="kpi">
          <span className="kpi-label">Owed to the host</span>
          <span className="kpi-value">€{fmt(energy?.totalOwedEUR, 2)}</span>
        </div>
        <div className="kpi">
          <span className="kpi-label">Rooms · tanks</span>
          <span className="kpi-value">
            {rooms.length} · {boilers.length}
          </span>
        </div>
      </section>
      <div className="range">
        {(['day', 'week'] as const).map((r) => (
          <button key={r} type="button" className={r === range ? 'active' : undefined} onClick={() => setRange(r)} data-testid={`range-${r}`}>
            last {r}
          </button>
        ))}
      </div>

      <h2>Comfort report</h2>
      <table className="comfort" data-testid="comfort">
        <thead>
          <tr>
            <th>Room</th>
            <th>Now</th>
            <th>Setpoint</th>
            <th>Limits</th>
            <th>Time within 1 K</th>
            <th>Mean deficit</th>
            <th>Worst</th>
            <th>Heat (month)</th>
          </tr>
        </thead>
        <tbody>
          {rooms.map((r) => {
            const spec = r.spec as RoomSpec;
            const hs = heaters.filter((h) => h.roomId === r.id);
            const series = hs.map((h) => history.get(h.id)).find((s) => s !== undefined);
            const c = series ? comfortOf(series) : { okShare: null, meanC: null, worstC: null };
            return (
              <tr key={r.id} data-testid="room-row" data-room={r.id}>
                <td>{r.name}</td>
                <td data-testid="room-now">{fmt(now.get(r.id)?.airC)} °C</td>
                <td>{fmt(spec.comfortC)} °C</td>
                <td>
                  {fmt(spec.minC)}–{fmt(spec.maxC)} °C
                </td>
                <td>{c.okShare === null ? '—' : `${Math.round(c.okShare * 100)} %`}</td>
                <td>{fmt(c.meanC, 2)} K</td>
                <td>{fmt(c.worstC, 2)} K</td>
                <td>{fmt(hs.reduce((s, h) => s + kWhOf(h.id), 0), 2)} kWh</td>
              </tr>
            );
          })}
        </tbody>
      </table>

      <h2>Rooms: temperature against setpoint</h2>
      <div className="charts">
        {rooms.map((r) => {
          const h = heaters.find((x) => x.roomId === r.id);
          const s = h ? history.get(h.id) : undefined;
          if (!s) return null;
          return (
            <Chart
              key={`${r.id}-${range}`}
              title={r.name}
              series={[
                { label: 'air °C', color: '#d9480f' },
                { label: 'setpoint °C', color: '#555', dash: [6, 4] },
              ]}
              data={[s.t, s.air, s.set]}
              height={180}
              xRange={xRange}
            />
          );
        })}
      </div>

      <h2>Hot water</h2>
      {boilers.length === 0 && <p className="muted">No computing boiler in this building.</p>}
      {boilers.map((b) => {
        const spec = b.spec as BoilerSpec;
        const s = history.get(b.id);
        const last = lastValue(s?.air ?? []);
        return (
          <div key={b.id} className="boiler" data-testid="boiler">
            <p>
              <strong>{b.name}</strong>: {spec.volumeL} L, water {fmt(last)} °C (setpoint {spec.setpointC} °C, never above {spec.safetyC} °C) · heat this month {fmt(kWhOf(b.id), 2)} kWh
            </p>
            {s && (
              <Chart
                key={`${b.id}-${range}`}
                title={`${b.name}: water top °C`}
                series={[
                  { label: 'water °C', color: '#1c7ed6' },
                  { label: 'setpoint °C', color: '#555', dash: [6, 4] },
                ]}
                data={[s.t, s.air, s.set]}
                height={160}
                xRange={xRange}
              />
            )}
          </div>
        );
      })}
    </div>
  );
}
