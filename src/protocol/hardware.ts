// Hardware constraints of a task: a list discriminated by `discriminator`, as Qarnot's API spells them.
import { Type, type Static } from 'typebox';

const C = <D extends string, P extends Record<string, ReturnType<typeof Type.Integer> | ReturnType<typeof Type.String>>>(d: D, props: P) =>
  Type.Object({ discriminator: Type.Literal(d), ...props });

const Count = Type.Integer({ minimum: 1, maximum: 4096 });
const MemoryMB = Type.Integer({ minimum: 1, maximum: 1 << 30 });

export const MinimumCoreHardwareConstraint = C('MinimumCoreHardwareConstraint', { coreCount: Count });
export const MaximumCoreHardwareConstraint = C('MaximumCoreHardwareConstraint', { coreCount: Count });
export const MinimumRamHardwareConstraint = C('MinimumRamHardwareConstraint', { minimumMemoryMB: MemoryMB });
export const MaximumRamHardwareConstraint = C('MaximumRamHardwareConstraint', { maximumMemoryMB: MemoryMB });
export const CpuModelHardwareConstraint = C('CpuModelHardwareConstraint', { cpuModel: Type.String({ minLength: 1, maxLength: 256 }) });
export const SpecificHardwareConstraint = C('SpecificHardwareConstraint', { specificationKey: Type.String({ minLength: 1, maxLength: 256 }) });
export const GpuHardwareConstraint = C('GpuHardwareConstraint', {});
export const NoGpuHardwareConstraint = C('NoGpuHardwareConstraint', {});
export const SSDHardwareConstraint = C('SSDHardwareConstraint', {});
export const NoSSDHardwareConstraint = C('NoSSDHardwareConstraint', {});

/** One hardware constraint (discriminated by `discriminator`). */
export const HardwareConstraintSchema = Type.Union([
  MinimumCoreHardwareConstraint,
  MaximumCoreHardwareConstraint,
  MinimumRamHardwareConstraint,
  MaximumRamHardwareConstraint,
  CpuModelHardwareConstraint,
  SpecificHardwareConstraint,
  GpuHardwareConstraint,
  NoGpuHardwareConstraint,
  SSDHardwareConstraint,
  NoSSDHardwareConstraint,
]);
export type HardwareConstraint = Static<typeof HardwareConstraintSchema>;

/** Every discriminator value. */
export const HARDWARE_CONSTRAINT_KINDS = [
  'MinimumCoreHardwareConstraint',
  'MaximumCoreHardwareConstraint',
  'MinimumRamHardwareConstraint',
  'MaximumRamHardwareConstraint',
  'CpuModelHardwareConstraint',
  'SpecificHardwareConstraint',
  'GpuHardwareConstraint',
  'NoGpuHardwareConstraint',
  'SSDHardwareConstraint',
  'NoSSDHardwareConstraint',
] as const satisfies ReadonlyArray<HardwareConstraint['discriminator']>;

/** `GET /hardware-constraints` query and answer. */
export const HardwareConstraintsQuery = Type.Object({
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
});
export type HardwareConstraintsQuery = Static<typeof HardwareConstraintsQuery>;
export const HardwareConstraintsPage = Type.Object({
  data: Type.Array(HardwareConstraintSchema),
  offset: Type.Integer(),
  limit: Type.Integer(),
  total: Type.Integer(),
});
export type HardwareConstraintsPage = Static<typeof HardwareConstraintsPage>;
