// Linear time-invariant state-space models, continuous and discretised: the common currency of the thermal physics.
// Matrices are dense, row-major Float64Arrays.

/** Continuous model dx/dt = A x + B u, y = C x + D u. Units: x in °C, u in °C or W, time in s. */
export interface StateSpace {
  readonly nx: number;
  readonly nu: number;
  readonly ny: number;
  /** nx × nx */
  readonly A: Float64Array;
  /** nx × nu */
  readonly B: Float64Array;
  /** ny × nx */
  readonly C: Float64Array;
  /** ny × nu */
  readonly D: Float64Array;
  readonly stateNames: readonly string[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Heat capacity of each state node, J/K (for energy bookkeeping). */
  readonly capacityJK: Float64Array;
}

/**
 * Exact zero-order-hold discretisation of a StateSpace at step dtS:
 *   x(k+1) = Ad x(k) + Bd u(k)
 *   ∫_0^dt x dt = Sx x(k) + Su u(k)        (exact integral of the state over the step, for means and energy)
 * Outputs keep C, D of the continuous model.
 */
export interface DiscreteStateSpace extends StateSpace {
  readonly dtS: number;
  /** nx × nx */
  readonly Ad: Float64Array;
  /** nx × nu */
  readonly Bd: Float64Array;
  /** nx × nx: ∫_0^dt e^{As} ds */
  readonly Sx: Float64Array;
  /** nx × nu: ∫_0^dt ∫_0^s e^{Ar} dr ds · B */
  readonly Su: Float64Array;
}
