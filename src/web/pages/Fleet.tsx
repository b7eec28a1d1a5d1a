// Operator: the fleet at a glance — a tile per heater and boiler coloured by its room's distance from setpoint,
// busy boards, a live chart of heat asked vs delivered by source, fleet figures, energy/money/carbon, the sites map,
// and a device's detail panel with what runs on its boards.
import { lazy, memo, Suspense, useEffect, useLayoutEffect, useMemo, useRef, useState, type JSX } from 'react';
import type { DevicePlacements, FleetPlacements, FleetQueue, FleetSummary, FleetTiles, LiveSample, SiteEnergy, TelemetryBatch } from '../../protocol/platform.ts';
import { fmt, followEvents, get } from '../api.ts';
import { singleFlight } from '../single-flight.ts';
import { FLEET_TILES_PATH } from '../prefetch.ts';
import { Link } from '../router.tsx';

// uPlot is a chunk of its own, loaded and drawn once the tiles are on screen (the tiles come first).
const Chart = lazy(() => import('../Chart.tsx').then((m) => ({ default: m.Chart })));

/** Colour band of a room's air temperature against its setpoint, K. */
export function bandOf(s: LiveSample | undefined): string {
  if (!s || typeof s.airC !== 'number' || typeof s.setpointC !== 'number') return 'none';
  const d = s.airC - s.setpointC;
  if (d < -2) return 'cold3';
  if (d < -1) return 'cold2';
  if (d < -0.5) return 'cold1';
  if (d <= 0.5) return 'ok';
  if (d <= 1) return 'warm1';
  if (d <= 2) return 'warm2';
  return 'warm3';
}

/**
 * The figures of a tile answer's `latest` columns (FLEET_TILE_FIELDS of the protocol, kept here: a value import of
 * protocol/platform.ts would pull typebox into the entry chunk).
 */
const TILE_FIELDS = ['airC', 'setpointC', 'powerW', 'computeW', 'fillerW', 'boosterW', 'busyBoards', 'requestW'] as const satisfies ReadonlyArray<keyof FleetTiles['latest'] & keyof LiveSample>;

/** A site as the tiles and the map show it. */
type TileSite = FleetTiles['sites'][number];

interface Device {
  id: string;
  kind: 'heater' | 'boiler';
  name: string;
  siteId: string | null;
  roomName: string;
  boards: number;
}

/** Share of a device's boards running work, in quarters (0–4): the tile's bar. */
function utilOf(s: LiveSample | undefined, boards: number): number {
  const busy = s?.busyBoards ?? 0;
  return boards > 0 ? Math.round((Math.min(busy, boards) / boards) * 4) : 0;
}

/** What a tile shows; one class attribute carries it all, so a change is one DOM mutation. */
interface Look {
  band: string;
  util: number;
}

function tileClass(kind: string, look: Look | undefined, selected: boolean): string {
  return `tile ${kind} band-${look?.band ?? 'none'} u${look?.util ?? 0}${selected ? ' selected' : ''}`;
}

/** A tile's element, its device and what it shows now. */
interface TileRef {
  el: HTMLButtonElement;
  kind: string;
}

/**
 * Every device's tile, grouped by site: plain DOM built once per device list (one button per device, no React
 * component per tile) and then changed in place by the page — a tile's change is one class attribute write. One
 * click handler for them all.
 */
const TileGrid = memo(function TileGrid(props: { groups: Array<[string, Device[]]>; shown: Map<string, Look>; tiles: Map<string, TileRef>; selected: { current: string | null }; onSelect: (id: string) => void; onDrawn: () => void }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const { groups, shown, tiles, selected, onDrawn } = props;
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const doc = el.ownerDocument;
    const out = doc.createDocumentFragment();
    tiles.clear();
    for (const [siteName, list] of groups) {
      const group = doc.createElement('div');
      group.className = 'site-tiles';
      const h = doc.createElement('h3');
      h.textContent = siteName;
      const row = doc.createElement('div');
      row.className = 'tiles';
      for (const d of list) {
        const b = doc.createElement('button');
        b.type = 'button';
        b.className = tileClass(d.kind, shown.get(d.id), d.id === selected.current);
        b.dataset.testid = 'tile';
        b.dataset.id = d.id;
        const label = `${d.name} · ${d.roomName}`;
        b.title = label;
        b.setAttribute('aria-label', label);
        row.appendChild(b);
        tiles.set(d.id, { el: b, kind: d.kind });
      }
      group.append(h, row);
      out.appendChild(group);
    }
    el.replaceChildren(out);
    if (groups.length > 0) onDrawn();
  }, [groups, shown, tiles, selected, onDrawn]);
  return (
    <div
      ref={box}
      data-testid="tile-grid"
      onClick={(e) => {
        const id = (e.target as Element).closest<HTMLElement>('[data-testid="tile"]')?.dataset.id;
        if (id !== undefined) props.onSelect(id);
      }}
    />
  );
});

/**
 * Most tile changes drawn per second: changes beyond it wait (oldest first) for the next slices, so the page makes
 * a bounded number of DOM updates whatever the fleet's size or reporting rate (a device's newer figures replace
 * its waiting ones).
 */
export const TILE_UPDATES_PER_S = 250;
/** Slices per second of that budget. */
const SLICES_PER_S = 10;
/** Shortest interval between two points of the live chart, ms. */
const CHART_EVERY_MS = 1000;

/** Points kept in the live chart. */
const CHART_POINTS = 720;

/** The live chart's series (a constant: the chart is built once). */
const FLEET_SERIES = [
  { label: 'total', color: '#333' },
  { label: 'compute', color: '#d9480f' },
  { label: 'filler', color: '#f59f00' },
  { label: 'booster', color: '#1c7ed6' },
  { label: 'asked', color: '#7048e8', dash: [6, 4] },
  { label: 'overflow (instances)', color: '#868e96', dash: [2, 3], scale: 'n' },
];

export function Fleet(props: { go: (to: string) => void }): JSX.Element {
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [sites, setSites] = useState<TileSite[]>([]);
  const [summary, setSummary] = useState<FleetSummary | null>(null);
  const [queue, setQueue] = useState<FleetQueue | null>(null);
  const [energy, setEnergy] = useState<SiteEnergy[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState('');
  const latest = useRef(new Map<string, LiveSample>());
  const shown = useRef(new Map<string, Look>());
  const dirty = useRef(new Map<string, Look>());
  const boardsById = useRef(new Map<string, number>());
  const tiles = useRef(new Map<string, TileRef>());
  // Resolved once the tiles are in the DOM: the figures below the fold wait for their first paint, so that neither
  // the browser nor (on loopback) the server spends the first load's CPU on them.
  const [drawn] = useState(() => {
    let resolve = (): void => undefined;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  });
  const [chartOn, setChartOn] = useState(false);
  const lastPoint = useRef(0);
  const [chart, setChart] = useState<(number | null)[][]>([[], [], [], [], [], [], []]);
  // Instances sent to the overflow datacenter, from the latest /fleet/queue (plotted beside the heat).
  const overflowNow = useRef<number | null>(null);
  // What runs on the selected device: fetched when its panel opens, again on task state changes and when its busy
  // boards change (at most one request in flight and one waiting, whatever the events' rate).
  const [placed, setPlaced] = useState<DevicePlacements | null>(null);
  const selectedRef = useRef<string | null>(null);
  const refreshPlaced = useRef<() => void>(() => undefined);

  const addPoint = (atS: number): void => {
    if (atS * 1000 - lastPoint.current < CHART_EVERY_MS) return;
    lastPoint.current = atS * 1000;
    let power = 0;
    let compute = 0;
    let filler = 0;
    let booster = 0;
    let asked = 0;
    let askedKnown = false;
    for (const s of latest.current.values()) {
      power += s.powerW ?? 0;
      compute += s.computeW ?? 0;
      filler += s.fillerW ?? 0;
      booster += s.boosterW ?? 0;
      if (s.requestW !== undefined) {
        asked += s.requestW;
        askedKnown = true;
      }
    }
    setChart((c) => {
      const next = c.map((a) => a.slice(Math.max(0, a.length - CHART_POINTS + 1)));
      next[0].push(atS);
      next[1].push(power / 1000);
      next[2].push(compute / 1000);
      next[3].push(filler / 1000);
      next[4].push(booster / 1000);
      // A gap until the loop's first batch (the latest samples read from the store carry no request).
      next[5].push(askedKnown ? asked / 1000 : null);
      next[6].push(overflowNow.current);
      return next;
    });
  };

  const takeQueue = (q: FleetQueue): void => {
    overflowNow.current = q.overflowInstances;
    setQueue(q);
  };

  useEffect(() => {
    const ac = new AbortController();
    (async () => {
      // The tiles' data in one compact answer (index.html's script has usually asked for it already: prefetch.ts);
      // details (specs, rooms) stay on their routes.
      const t = await get<FleetTiles>(FLEET_TILES_PATH, ac.signal);
      const ss = t.sites;
      const list: Device[] = t.devices.id.map((id, k) => {
        const site = t.devices.site[k];
        return { id, kind: t.devices.kind[k], name: t.devices.name[k], siteId: site === null ? null : (ss[site]?.id ?? null), roomName: t.devices.roomName[k], boards: t.devices.boards[k] };
      });
      list.forEach((d, k) => {
        boardsById.current.set(d.id, d.boards);
        const time = t.latest.time[k];
        if (time === null) return;
        const s: LiveSample = { deviceId: d.id, time };
        for (const f of TILE_FIELDS) {
          const v = t.latest[f][k];
          if (v !== null) s[f] = v;
        }
        latest.current.set(d.id, s);
        shown.current.set(d.id, { band: bandOf(s), util: utilOf(s, d.boards) });
      });
      setSites(ss);
      setDevices(list);
      addPoint(Date.now() / 1000);
      await drawn.promise;
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      if (ac.signal.aborted) return;
      setChartOn(true);
      // Then the figures, in parallel: the summary, the queue and this month's energy per site (the first 50
      // sites: the tiles are totals).
      // The energy totals cost the server most (a month of each site's statements) and change slowly: asked when the
      // page is idle.
      await Promise.all([
        get<FleetSummary>('/hearth/v1/fleet', ac.signal).then(setSummary),
        get<FleetQueue>('/hearth/v1/fleet/queue', ac.signal).then(takeQueue),
        new Promise((r) => requestIdleCallback(r, { timeout: 2000 })).then(() =>
          ac.signal.aborted ? undefined : Promise.all(ss.slice(0, 50).map((s) => get<SiteEnergy>(`/hearth/v1/sites/${encodeURIComponent(s.id)}/energy`, ac.signal))).then(setEnergy),
        ),
      ]);
    })().catch((e: unknown) => {
      if (!ac.signal.aborted) setError(String((e as Error).message));
    });
    const stop = followEvents((events) => {
      let changed = false;
      for (const e of events) {
        if (e.type === 'task.state') refreshPlaced.current();
        if (e.type === 'telemetry.batch') {
          for (const s of (e.payload as TelemetryBatch).samples) {
            if (s.deviceId === selectedRef.current && s.busyBoards !== latest.current.get(s.deviceId)?.busyBoards) refreshPlaced.current();
            latest.current.set(s.deviceId, s);
            const look = { band: bandOf(s), util: utilOf(s, boardsById.current.get(s.deviceId) ?? 0) };
            const cur = shown.current.get(s.deviceId);
            dirty.current.delete(s.deviceId); // re-inserted last: the oldest waiting changes go first
            if (!cur || cur.band !== look.band || cur.util !== look.util) dirty.current.set(s.deviceId, look);
          }
          changed = true;
        }
      }
      if (changed) addPoint(Date.now() / 1000);
    });
    // Draws the waiting tile changes within the budget, one slice at a time, straight into the tiles' elements.
    const drawer = setInterval(() => {
      if (dirty.current.size === 0) return;
      let n = Math.ceil(TILE_UPDATES_PER_S / SLICES_PER_S);
      for (const [id, look] of dirty.current) {
        if (n-- <= 0) break;
        shown.current.set(id, look);
        dirty.current.delete(id);
        const t = tiles.current.get(id);
        if (t) t.el.className = tileClass(t.kind, look, id === selectedRef.current);
      }
    }, 1000 / SLICES_PER_S);
    // The summary's counts (online devices) are refreshed twice a minute; tiles and chart are live.
    const timer = setInterval(() => {
      get<FleetSummary>('/hearth/v1/fleet').then(setSummary, () => undefined);
      get<FleetQueue>('/hearth/v1/fleet/queue').then(takeQueue, () => undefined);
    }, 30_000);
    return () => {
      ac.abort();
      stop();
      clearInterval(timer);
      clearInterval(drawer);
    };
  }, []);

  useEffect(() => {
    const before = selectedRef.current;
    selectedRef.current = selected;
    for (const id of [before, selected]) {
      const t = id === null ? undefined : tiles.current.get(id);
      if (t && id !== null) t.el.className = tileClass(t.kind, shown.current.get(id), id === selected);
    }
    setPlaced(null);
    if (selected === null) return;
    const ac = new AbortController();
    const load = singleFlight(
      () =>
        get<FleetPlacements>(`/hearth/v1/fleet/placements?deviceId=${encodeURIComponent(selected)}`, ac.signal).then((p) =>
          setPlaced(p.devices.find((d) => d.deviceId === selected) ?? { deviceId: selected, kind: null, name: null, instances: [] }),
        ),
      () => ac.signal.aborted,
    );
    refreshPlaced.current = load;
    load();
    return () => {
      ac.abort();
      refreshPlaced.current = () => undefined;
    };
  }, [selected]);

  const bySite = useMemo(() => {
    const m = new Map<string, Device[]>();
    for (const d of devices ?? []) {
      const k = d.siteId ?? '';
      const list = m.get(k) ?? [];
      list.push(d);
      m.set(k, list);
    }
    return m;
  }, [devices]);
  const siteName = useMemo(() => new Map(sites.map((s) => [s.id, s.name])), [sites]);
  const groups = useMemo(() => [...bySite.entries()].map(([siteId, list]): [string, Device[]] => [siteName.get(siteId) ?? siteId, list]), [bySite, siteName]);

  if (error) return <p className="error">{error}</p>;
  if (!devices) return <p className="muted">Loading the fleet…</p>;
  const sel = selected === null ? undefined : devices.find((d) => d.id === selected);
  const selSample = sel ? latest.current.get(sel.id) : undefined;
  const total = (f: (e: SiteEnergy) => number): number => energy.reduce((s, e) => s + f(e), 0);

  return (
    <div className="fleet" data-testid="fleet">
      <section className="kpis">
        <Kpi label="Heaters" value={String(summary?.heaters ?? devices.filter((d) => d.kind === 'heater').length)} />
        <Kpi label="Boilers" value={String(summary?.boilers ?? devices.filter((d) => d.kind === 'boiler').length)} />
        <Kpi label="Online" value={summary ? `${summary.online}` : '—'} />
        <Kpi label="Boards busy" value={summary ? `${summary.busyBoards} / ${summary.boards}` : '—'} />
        <Kpi label="Power now" value={summary ? `${fmt(summary.powerW / 1000, 1)} kW` : '—'} />
        <Kpi label="Mean |setpoint error|" value={summary ? `${fmt(summary.meanAbsSetpointErrorC, 2)} K` : '—'} />
        <Kpi label="Queued instances" value={queue ? String(queue.queuedInstances) : '—'} testId="kpi-queue" />
        <Kpi label="Running · overflow" value={queue ? `${queue.runningInstances} · ${queue.overflowInstances}` : '—'} />
        <Kpi label="Tasks done last hour" value={queue ? `${queue.succeededLastHour} ok · ${queue.failedLastHour} failed` : '—'} />
        <Kpi label="Deadline risk" value={queue ? `${queue.deadlineAtRisk} at risk · ${queue.deadlineMissed} late` : '—'} />
        <Kpi label="Heat reused this month" value={`${fmt(total((e) => e.totalKWh), 1)} kWh`} testId="kpi-energy" />
        <Kpi label="Owed to hosts" value={`€${fmt(total((e) => e.totalOwedEUR), 2)}`} />
        <Kpi label="Carbon" value={`${fmt(total((e) => e.totalCarbonKg), 2)} kg CO₂e`} />
      </section>

      <section>
        <h2>Heat asked and delivered, live</h2>
        {chartOn ? (
          <Suspense fallback={<div className="chart" />}>
            <Chart title="Fleet power (kW)" testId="heat-chart" series={FLEET_SERIES} data={chart} />
          </Suspense>
        ) : (
          <div className="chart" />
        )}
      </section>

      <section>
        <h2>Sites</h2>
        <SitesMap sites={sites} devices={bySite} go={props.go} />
      </section>

      <section>
        <h2>
          Devices <span className="legend">
            <i className="band-cold3" /> cold <i className="band-ok" /> at setpoint <i className="band-warm3" /> warm · dark bar: share of boards running work
          </span>
        </h2>
        {sel && (
          <div className="detail" data-testid="device-detail">
            <strong>{sel.name}</strong> ({sel.kind}) · {siteName.get(sel.siteId ?? '') ?? ''} · {sel.roomName}
            <br />
            air {fmt(selSample?.airC)} °C, setpoint {fmt(selSample?.setpointC)} °C · {fmt(selSample?.powerW, 0)} W (compute {fmt(selSample?.computeW, 0)}, filler {fmt(selSample?.fillerW, 0)}, booster{' '}
            {fmt(selSample?.boosterW, 0)}) · {selSample?.busyBoards ?? 0}/{sel.boards} boards running work{selSample?.requestW !== undefined ? ` · asked ${fmt(selSample.requestW, 0)} W` : ''}
            <Placements placed={placed !== null && placed.deviceId === sel.id ? placed : null} />
          </div>
        )}
        <TileGrid groups={groups} shown={shown.current} tiles={tiles.current} selected={selectedRef} onSelect={setSelected} onDrawn={drawn.resolve} />
      </section>
    </div>
  );
}

/** What runs on a device's boards: task, instance, board, state, progress. */
function Placements(props: { placed: DevicePlacements | null }): JSX.Element {
  const p = props.placed;
  if (p === null) return <p className="muted">Loading what runs on it…</p>;
  if (p.instances.length === 0) return <p className="muted" data-testid="placements-none">No compute placed on it.</p>;
  return (
    <table className="placements" data-testid="placements">
      <thead>
        <tr>
          <th>Board</th>
          <th>Task</th>
          <th>Instance</th>
          <th>State</th>
          <th>Progress</th>
          <th>Account</th>
        </tr>
      </thead>
      <tbody>
        {p.instances.map((i) => (
          <tr key={`${i.taskUuid}/${i.instanceId}`} data-testid="placement">
            <td>{i.boardIndex ?? '—'}</td>
            <td title={i.taskUuid}>{i.taskName || i.taskUuid}</td>
            <td>{i.instanceId}</td>
            <td>{i.state}</td>
            <td>{fmt(i.progress, 0)} %</td>
            <td>{i.accountEmail ?? i.accountId ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Kpi(props: { label: string; value: string; testId?: string }): JSX.Element {
  return (
    <div className="kpi" data-testid={props.testId}>
      <span className="kpi-label">{props.label}</span>
      <span className="kpi-value">{props.value}</span>
    </div>
  );
}

/** Buildings placed by their spec's layout (x, y), scaled into the box; sites without one go in a row below. */
function SitesMap(props: { sites: TileSite[]; devices: Map<string, Device[]>; go: (to: string) => void }): JSX.Element {
  const placed = props.sites.map((s) => ({ s, at: s.layout }));
  const xs = placed.flatMap((p) => (p.at ? [p.at.x] : []));
  const ys = placed.flatMap((p) => (p.at ? [p.at.y] : []));
  const [x0, x1, y0, y1] = [Math.min(...xs, 0), Math.max(...xs, 1), Math.min(...ys, 0), Math.max(...ys, 1)];
  let free = 0;
  return (
    <div className="map" data-testid="sites-map">
      {placed.map(({ s, at }) => {
        const left = at ? ((at.x - x0) / (x1 - x0 || 1)) * 80 + 2 : ((free % 6) * 16 + 2);
        const top = at ? ((at.y - y0) / (y1 - y0 || 1)) * 70 + 5 : 80;
        if (!at) free++;
        const n = props.devices.get(s.id)?.length ?? 0;
        return (
          <Link key={s.id} to={`/sites/${encodeURIComponent(s.id)}`} go={props.go} className="building building-box" testId="site-link" style={{ left: `${left}%`, top: `${top}%` }}>
            {s.name}
            <small>{n} devices</small>
          </Link>
        );
      })}
    </div>
  );
}
