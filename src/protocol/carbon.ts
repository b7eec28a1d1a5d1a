// Wire contract of the carbon API (`GET /carbon/v1/tasks/{uuid}/carbon-facts`): the query and the carbon-facts
// body, with the field names Qarnot's SDKs read (qarnot-sdk-python `CarbonFacts.from_json`), so those SDKs parse it.
import { Type, type Static } from 'typebox';

/** `?comparisonDatacenter=<name>`: the reference datacenter to compare with (absent: the server's default). */
export const CarbonFactsQuery = Type.Object({
  comparisonDatacenter: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
});
export type CarbonFactsQueryInput = Static<typeof CarbonFactsQuery>;

const Wh = (description: string) => Type.Number({ minimum: 0, description: `${description}, Wh` });
const G = (description: string) => Type.Number({ description: `${description}, gCO2e` });

/**
 * The carbon facts of a task (Qarnot's names; energies Wh, footprints gCO2e). Savings compare this platform with
 * the reference datacenter doing the same compute plus the buildings producing the reused heat themselves; a
 * saving may be negative.
 */
export const CarbonFactsSchema = Type.Object({
  /** Energy this platform drew for the task, IT and overheads (overflow datacenter's cooling), Wh. */
  total_consumed_energy_Wh: Wh('energy drawn, IT and overheads'),
  /** Energy the boards drew (measured), Wh. */
  total_energy_it_Wh: Wh('energy drawn by the boards'),
  /** Heat put to use in rooms and hot-water tanks, Wh. */
  total_reused_energy_Wh: Wh('heat reused in rooms and tanks'),
  /** Power usage effectiveness = total / IT (1 for boards in rooms and tanks: no cooling). */
  PUE: Type.Number({ minimum: 1 }),
  /** Energy reuse effectiveness = (1 − ERF)·PUE = (total − reused) / IT. */
  ERE: Type.Number({ minimum: 0 }),
  /** Energy reuse factor = reused / total, 0..1. */
  ERF: Type.Number({ minimum: 0, maximum: 1 }),
  /** Water usage effectiveness, L/kWh (0: heaters use no water). */
  WUE: Type.Number({ minimum: 0 }),
  /** Name of the reference datacenter compared with. */
  equivalent_datacenter_name: Type.String(),
  /** This platform's footprint: energy drawn × grid intensity when it was drawn, gCO2e. */
  qarnot_carbon_footprint: G("this platform's footprint"),
  /** The reference datacenter's footprint: the same IT energy × its PUE × its grid intensity, gCO2e. */
  equivalent_DC_carbon_footprint: G("the reference datacenter's footprint"),
  /** equivalent_DC_carbon_footprint − qarnot_carbon_footprint, gCO2e. */
  saved_carbon_footprint_compute: G('saved on compute'),
  /** The reused heat × grid intensity (what resistive electric heating would have emitted for it), gCO2e. */
  saved_carbon_footprint_heat: G('saved on heating'),
  /** compute + heat savings, gCO2e. */
  saved_carbon_footprint_compute_heat: G('saved in total'),
  /** Total saving as a share of the reference (datacenter + heating), %. */
  saved_carbon_footprint_percent: Type.Number({ description: 'total saving / (reference datacenter + heating footprint), %' }),
});
export type CarbonFactsOutput = Static<typeof CarbonFactsSchema>;
