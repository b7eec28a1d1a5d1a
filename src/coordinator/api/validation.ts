// Schema validation for the compute API: one Ajv 8 setup (with formats) for fastify's routes and for the entries
// of a bulk body, and the translation of Ajv errors into a field path (`constants[3].key`).
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';

/** What Ajv reports about one failure (the part we read). */
export interface AjvErrorLike {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

type Validate = ((data: unknown) => boolean) & { errors?: AjvErrorLike[] | null };
type Build = (externalSchemas: object, options: { customOptions: Record<string, unknown> }) => (args: { schema: unknown }) => Validate;

const factory = AjvCompiler() as unknown as Build;
const base = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false };
/** Bodies are validated as sent: no type coercion (`"5"` is not an integer). */
const bodyCompile = factory({}, { customOptions: { ...base, coerceTypes: false } });
/** Query strings and path parameters arrive as text: coerce to the schema's types. */
const textCompile = factory({}, { customOptions: { ...base, coerceTypes: 'array' } });

/** Fastify's validator compiler: no coercion for bodies, coercion for querystring, params and headers. */
export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyCompile : textCompile)({ schema }) as ReturnType<FastifySchemaCompiler<unknown>>;

/** Compiles a body schema with the same settings as the routes (for validating parts of a body by hand). */
export function compileBody(schema: TSchema): Validate {
  return bodyCompile({ schema });
}

/** `/constants/3/key` → `constants[3].key`; the missing or extra property is appended for those keywords. */
export function fieldOf(error: AjvErrorLike): string {
  const parts = (error.instancePath ?? '')
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const extra = error.params?.missingProperty ?? error.params?.additionalProperty;
  if (typeof extra === 'string') parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

/** A one-line human message for an Ajv error, naming the field. */
export function messageOf(error: AjvErrorLike, prefix = 'body'): string {
  const field = fieldOf(error);
  const where = field === '' ? prefix : field;
  if (error.keyword === 'required') return `${where} is required`;
  return `${where} ${error.message ?? 'is invalid'}`;
}

/** Validates a value; the first failure as `{field, message}`, or undefined when it is valid. */
export function firstError(validate: Validate, value: unknown): { field: string; message: string } | undefined {
  if (validate(value)) return undefined;
  const e = validate.errors?.[0] ?? {};
  return { field: fieldOf(e), message: messageOf(e) };
}
