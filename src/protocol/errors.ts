// The error shape of every JSON API response and the small taxonomy of error codes (HTTP status, retry or not).
import { Type, type Static } from 'typebox';

/** Every error code the compute API answers with, its HTTP status and whether a client should retry. */
export const ERROR_CODES = {
  /** The body, query or path failed validation; `field` names the failing path. */
  VALIDATION: { status: 400, retryable: false },
  /** The request is malformed in a way no field explains (bad JSON, empty body where one is needed). */
  BAD_REQUEST: { status: 400, retryable: false },
  /** No token, or a token that is unknown or revoked. */
  UNAUTHORIZED: { status: 401, retryable: false },
  /** The account has no credits left. */
  NO_CREDITS: { status: 402, retryable: false },
  /** The caller's role may not do this (e.g. a customer creating accounts). */
  FORBIDDEN: { status: 403, retryable: false },
  /** An account quota (tasks, running tasks, buckets…) is reached. */
  QUOTA_REACHED: { status: 403, retryable: false },
  /** No such resource, or it belongs to another account. */
  NOT_FOUND: { status: 404, retryable: false },
  /** A uniqueness rule (shortname, email…) is broken. */
  CONFLICT: { status: 409, retryable: false },
  /** The resource is in a state that forbids the operation (e.g. retrying a running task). */
  INVALID_STATE: { status: 409, retryable: false },
  /** The body is over the size limit. */
  TOO_LARGE: { status: 413, retryable: false },
  /** The body's content type is not JSON. */
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  /** Too many requests for this token: retry after `Retry-After` seconds. */
  RATE_LIMITED: { status: 429, retryable: true },
  /** An unexpected server fault (never details). */
  INTERNAL: { status: 500, retryable: true },
  /** The server cannot answer now (shutting down, store unavailable). */
  UNAVAILABLE: { status: 503, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

/** A stable error code (see {@link ERROR_CODES}). */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when a request that failed with this code may succeed if sent again unchanged. */
export function isRetryable(code: ErrorCode): boolean {
  return ERROR_CODES[code].retryable;
}

/** The code a bare HTTP status maps to when nothing more specific is known. */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400: return 'BAD_REQUEST';
    case 401: return 'UNAUTHORIZED';
    case 402: return 'NO_CREDITS';
    case 403: return 'FORBIDDEN';
    case 404: return 'NOT_FOUND';
    case 409: return 'CONFLICT';
    case 413: return 'TOO_LARGE';
    case 415: return 'UNSUPPORTED_MEDIA_TYPE';
    case 429: return 'RATE_LIMITED';
    case 503: return 'UNAVAILABLE';
    default: return status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
  }
}

/** The body of every error response: a human message, a stable code and, for validation errors, the field path. */
export const ApiErrorSchema = Type.Object(
  {
    message: Type.String(),
    code: Type.String(),
    field: Type.Optional(Type.String()),
  },
);
export type ApiErrorBody = Static<typeof ApiErrorSchema>;
