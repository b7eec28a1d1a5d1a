// The one error type route handlers throw: a code of the protocol's taxonomy, a message and the failing field.
import type { FastifyReply } from 'fastify';
import { ERROR_CODES, type ErrorCode } from '../../protocol/errors.ts';

/** An error the central handler turns into `{message, code, field?}` with the code's HTTP status. */
export class HttpError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = ERROR_CODES[code].status;
  }
}

/** 400 naming the failing field. */
export function invalid(field: string, message: string): HttpError {
  return new HttpError('VALIDATION', message, field);
}

/** 404 for a resource that does not exist or belongs to another account. */
export function notFound(what: string): HttpError {
  return new HttpError('NOT_FOUND', `${what} not found`);
}

/** Answers 200 with an empty body (what Qarnot answers to abort, delete, retry…). */
export function emptyOk(reply: unknown): FastifyReply {
  return (reply as FastifyReply).code(200).send();
}
