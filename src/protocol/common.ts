// Building blocks shared by the wire schemas: nullable optionals (Qarnot's SDKs send `null` for unset fields).
import { Type, type TSchema, type TOptional, type TUnion, type TNull } from 'typebox';

/** `T | null`. */
export function Nullable<T extends TSchema>(schema: T): TUnion<[T, TNull]> {
  return Type.Union([schema, Type.Null()]);
}

/** An optional field that may also be sent as `null` (meaning: not set). */
export function Opt<T extends TSchema>(schema: T): TOptional<TUnion<[T, TNull]>> {
  return Type.Optional(Nullable(schema));
}

/** A lowercase hyphenated UUID (any version). */
export const Uuid = Type.String({ format: 'uuid' });

/** A path parameter `{uuid}`. */
export const UuidParams = Type.Object({ uuid: Uuid });
