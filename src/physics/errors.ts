// Errors raised by the pure core when parameters or input files are invalid: each names the field or line.

/** An invalid parameter: `field` is the dotted path of the offending value (e.g. `rooms[3].capacityJK`). */
export class InvalidParameterError extends Error {
  readonly code = 'INVALID_PARAMETER';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvalidParameterError';
  }
}

/** A malformed input file: `line` is 1-based; `source` names the file or format. */
export class ParseError extends Error {
  readonly code = 'PARSE_ERROR';
  constructor(
    readonly source: string,
    readonly line: number,
    message: string,
  ) {
    super(`${source}:${line}: ${message}`);
    this.name = 'ParseError';
  }
}

/** Throws InvalidParameterError unless `value` is a finite number (optionally within [min, max]). */
export function requireFinite(field: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidParameterError(field, `must be a finite number, got ${String(value)}`);
  }
  if (value < min) throw new InvalidParameterError(field, `must be ≥ ${min}, got ${value}`);
  if (value > max) throw new InvalidParameterError(field, `must be ≤ ${max}, got ${value}`);
  return value;
}

/** Whether a value is an array (a plain boolean, so typed callers' element types are kept). */
export const isList = (x: unknown): boolean => Array.isArray(x);
