// The live loop's numeric settings and their checks, apart from the loop (which imports the scheduler, the store and
// the device routes): `hearth start` checks its flags with the same rules before anything starts.
import { InvalidParameterError } from '../../physics/errors.ts';

/** The settings of FleetLoopOptions checked here (see there for their meaning and defaults). */
export interface LoopSettings {
  periodS?: number;
  offlineAfterPeriods?: number;
  offlineAfterS?: number;
  maxInfrastructureLosses?: number;
  checkpointGraceS?: number;
  checkpointTimeoutS?: number;
}

/** A checkpointing stop's default grace between SIGTERM and SIGKILL, s. */
export const DEFAULT_CHECKPOINT_GRACE_S = 10;

/** The most a checkpointing stop may wait between SIGTERM and SIGKILL, s (the device protocol's bound). */
export const MAX_CHECKPOINT_GRACE_S = 3600;

/** The numeric settings of a FleetLoop checked: a clear error naming the option, before anything starts. */
export function checkLoopOptions(o: LoopSettings): void {
  const check = (name: string, v: number | undefined, ok: (v: number) => boolean, want: string): void => {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && ok(v))) throw new InvalidParameterError(name, `must be ${want}, got ${String(v)}`);
  };
  check('periodS', o.periodS, (v) => v > 0 && v <= 3600, 'a number of seconds in (0, 3600]');
  check('offlineAfterPeriods', o.offlineAfterPeriods, (v) => v >= 1, 'at least 1');
  check('offlineAfterS', o.offlineAfterS, (v) => v >= 0, 'a number of seconds ≥ 0');
  check('maxInfrastructureLosses', o.maxInfrastructureLosses, (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
  check('checkpointGraceS', o.checkpointGraceS, (v) => v >= 0 && v <= MAX_CHECKPOINT_GRACE_S, `a number of seconds in [0, ${MAX_CHECKPOINT_GRACE_S}]`);
  const grace = o.checkpointGraceS ?? DEFAULT_CHECKPOINT_GRACE_S;
  check('checkpointTimeoutS', o.checkpointTimeoutS, (v) => v > grace && v <= 86_400, `a number of seconds above the grace (${grace} s) and at most 86400`);
}
