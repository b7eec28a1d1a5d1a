// The control part's front door: a factory for room controllers by kind, and re-exports of the controllers,
// forecast helpers and KPIs that the twin, the scheduler and the coordinator use.
import { InvalidParameterError } from '../physics/errors.ts';
import { HysteresisController } from './hysteresis.ts';
import type { HysteresisOptions } from './hysteresis.ts';
import { MpcController } from './mpc.ts';
import type { MpcOptions } from './mpc.ts';
import { PiController } from './pi.ts';
import type { PiOptions } from './pi.ts';
import type { RoomController } from './types.ts';

export * from './types.ts';
export * from './forecast.ts';
export * from './kpi.ts';
export * from './hysteresis.ts';
export * from './pi.ts';
export * from './mpc.ts';
export * from './tank.ts';

/** Kinds of room controller, as in RoomController.kind. */
export type RoomControllerKind = RoomController['kind'];

/** Options by controller kind. */
export interface RoomControllerOptionsByKind {
  hysteresis: HysteresisOptions;
  pi: PiOptions;
  mpc: MpcOptions;
}

/**
 * Creates a room controller of the given kind ('hysteresis' | 'pi' | 'mpc') with its options (see each class; the
 * MPC needs `model` from buildMpcModel, built once per archetype). Throws InvalidParameterError naming the field for
 * an unknown kind or invalid options.
 */
export function createRoomController<K extends RoomControllerKind>(kind: K, options?: RoomControllerOptionsByKind[K]): RoomController;
export function createRoomController(kind: RoomControllerKind, options?: HysteresisOptions | PiOptions | MpcOptions): RoomController {
  switch (kind) {
    case 'hysteresis':
      return new HysteresisController(options as HysteresisOptions | undefined);
    case 'pi':
      return new PiController(options as PiOptions | undefined);
    case 'mpc':
      if (options === undefined) throw new InvalidParameterError('options.model', 'an MPC needs the model of its archetype (buildMpcModel)');
      return new MpcController(options as MpcOptions);
    default:
      throw new InvalidParameterError('kind', `must be 'hysteresis', 'pi' or 'mpc', got '${String(kind)}'`);
  }
}
