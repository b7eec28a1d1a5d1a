// Carbon API route: `GET /carbon/v1/tasks/{uuid}/carbon-facts?comparisonDatacenter=<name>` (Qarnot's path and
// field names), computed from the task's attempts, where their heat went (registry) and a grid carbon source.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApiErrorSchema } from '../../protocol/errors.ts';
import { UuidParams } from '../../protocol/common.ts';
import { CarbonFactsQuery, CarbonFactsSchema, type CarbonFactsOutput } from '../../protocol/carbon.ts';
import { REFERENCE_DATACENTER } from '../../control/kpi.ts';
import {
  CarbonRangeError,
  carbonFacts,
  constantCarbonSource,
  DEFAULT_REFERENCE_DATACENTER,
  REFERENCE_DATACENTERS,
  referenceDatacenter,
  type AttemptEnergy,
  type AttemptHeat,
  type CarbonFacts,
  type CarbonSource,
} from '../accounting/carbon.ts';
import type { InstanceAttempt, Store } from '../store/types.ts';
import { OVERFLOW_DEVICE } from '../fleet/link.ts';
import { callerOf, type ApiContext } from './context.ts';
import { HttpError, invalid, notFound } from './http-error.ts';

/** How the carbon route finds grid intensity and where heat went. */
export interface CarbonRouteOptions {
  /** Grid carbon intensity (default: a constant DEFAULT_GRID_G_PER_KWH, 56.3 gCO2e/kWh). */
  source: CarbonSource;
  /** Where an attempt's heat went (default: {@link registryDestination} over the app's store). */
  destinationOf?: (attempt: InstanceAttempt) => AttemptHeat | Promise<AttemptHeat>;
  /** Reference datacenter when the request names none (default 'french-average'). */
  defaultDatacenter?: string;
}

/** The carbon route's plugin options: the API context, plus optional carbon settings. */
export type CarbonRoutesOptions = ApiContext & { carbon?: CarbonRouteOptions };

/**
 * The default destination of attempts, from the registry: an attempt on a `heater` row warmed a room, on a
 * `boiler` row a tank (a `board` row is resolved through its parent). An attempt held by the overflow datacenter's
 * executor (heater OVERFLOW_DEVICE), or with no heater in state `overflow`, ran in the overflow datacenter: vented, at
 * `overflowPue` (default 1.58, the reference datacenter of kpi.ts). Any
 * other attempt (no heater, or a heater the registry no longer knows) counts as vented: no saving is claimed for
 * heat we cannot place. Lookups are cached for the life of the returned function (one request).
 */
export function registryDestination(store: Store, overflowPue: number = REFERENCE_DATACENTER.pue): (attempt: InstanceAttempt) => Promise<AttemptHeat> {
  const cache = new Map<string, Promise<AttemptHeat>>();
  const ofRow = async (id: string, depth: number): Promise<AttemptHeat> => {
    const row = await store.getRegistry(id);
    if (row?.kind === 'heater') return { destination: 'room' };
    if (row?.kind === 'boiler') return { destination: 'tank' };
    if (row?.kind === 'board' && row.parentId !== null && depth < 1) return ofRow(row.parentId, depth + 1);
    return { destination: 'vented' };
  };
  return (attempt) => {
    if (attempt.heaterId === OVERFLOW_DEVICE) return Promise.resolve({ destination: 'vented', pue: overflowPue });
    if (attempt.heaterId === null) return Promise.resolve(attempt.state === 'overflow' ? { destination: 'vented', pue: overflowPue } : { destination: 'vented' });
    let p = cache.get(attempt.heaterId);
    if (!p) {
      p = ofRow(attempt.heaterId, 0);
      cache.set(attempt.heaterId, p);
    }
    return p;
  };
}

/**
 * An attempt's energy and when it was drawn: from its start to its end, or to `nowMs` while it runs (an attempt
 * with no start time is taken as drawn at its end, or now).
 */
export function attemptWindow(attempt: InstanceAttempt, nowMs: number): { startMs: number; endMs: number } {
  const endMs = attempt.endedAt ?? nowMs;
  const startMs = Math.min(attempt.startedAt ?? endMs, endMs);
  return { startMs, endMs };
}

/** The wire body (Qarnot's names) of computed carbon facts. */
export function carbonFactsOutput(f: CarbonFacts): CarbonFactsOutput {
  return {
    total_consumed_energy_Wh: f.consumedEnergyWh,
    total_energy_it_Wh: f.itEnergyWh,
    total_reused_energy_Wh: f.reusedHeatWh,
    PUE: f.pue,
    ERE: f.ere,
    ERF: f.erf,
    WUE: f.wueLPerKWh,
    equivalent_datacenter_name: f.referenceDatacenter,
    qarnot_carbon_footprint: f.footprintGCO2e,
    equivalent_DC_carbon_footprint: f.referenceFootprintGCO2e,
    saved_carbon_footprint_compute: f.computeSavedGCO2e,
    saved_carbon_footprint_heat: f.heatSavedGCO2e,
    saved_carbon_footprint_compute_heat: f.totalSavedGCO2e,
    saved_carbon_footprint_percent: f.savedPercent,
  };
}

/** Carbon routes (mounted unversioned and under /v1, like the task routes). */
export const carbonRoutes: FastifyPluginAsync<CarbonRoutesOptions> = (base, opts) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  const source = opts.carbon?.source ?? constantCarbonSource();
  const defaultName = opts.carbon?.defaultDatacenter ?? DEFAULT_REFERENCE_DATACENTER;
  const errors = { 400: ApiErrorSchema, 401: ApiErrorSchema, 404: ApiErrorSchema };

  app.get(
    '/carbon/v1/tasks/:uuid/carbon-facts',
    { schema: { tags: ['carbon'], params: UuidParams, querystring: CarbonFactsQuery, response: { 200: CarbonFactsSchema, ...errors } } },
    async (req) => {
      const { account } = callerOf(req);
      const name = req.query.comparisonDatacenter ?? defaultName;
      const reference = referenceDatacenter(name);
      if (!reference) {
        throw invalid('comparisonDatacenter', `unknown datacenter ${JSON.stringify(name)}; known: ${Object.keys(REFERENCE_DATACENTERS).join(', ')}`);
      }
      const task = await opts.store.getTask(account.id, req.params.uuid);
      if (!task) throw notFound(`task ${req.params.uuid}`);
      const attempts = await opts.store.listAttempts(account.id, task.uuid);
      const destinationOf = opts.carbon?.destinationOf ?? registryDestination(opts.store);
      const now = opts.clock();
      const energies: AttemptEnergy[] = await Promise.all(
        attempts
          .filter((a) => a.energyWh > 0)
          .map(async (a) => ({ ...(await destinationOf(a)), energyWh: a.energyWh, ...attemptWindow(a, now) })),
      );
      try {
        return carbonFactsOutput(carbonFacts(energies, source, reference));
      } catch (e) {
        // A source built with outside: 'error' and no data for these instants: a gap in the server's data.
        if (e instanceof CarbonRangeError) throw new HttpError('UNAVAILABLE', e.message);
        throw e;
      }
    },
  );
  return Promise.resolve();
};
