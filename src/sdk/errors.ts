// The errors the SDK throws: an API answer that is not a success (with the server's code and field path), a
// storage (S3) error, a request that never got an answer, and a wait that ran out of time.
import { codeForStatus, type ApiErrorBody } from '../protocol/errors.ts';

/**
 * The server answered with an error: `status` (HTTP), `code` (the protocol's stable code, e.g. `VALIDATION`,
 * `NOT_FOUND`, or an S3 code like `NoSuchKey` for storage), the server's `message`, and for validation errors the
 * failing `field` path.
 */
export class HearthApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** The request, `METHOD /path`. */
    readonly request?: string,
    /** Seconds the server asked to wait before retrying (429/503), when it said. */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'HearthApiError';
  }

  /** One line: `code (status) field: message`. */
  describe(): string {
    return `${this.code} (${this.status})${this.field ? ` ${this.field}` : ''}: ${this.message}`;
  }
}

/** The request could not be sent or its answer not read (connection refused, reset, DNS…), after any retries. */
export class HearthNetworkError extends Error {
  constructor(
    message: string,
    readonly request: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HearthNetworkError';
  }
}

/** A wait (e.g. for a task to finish) ran past its `timeoutMs`. */
export class HearthTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HearthTimeoutError';
  }
}

/** Builds a {@link HearthApiError} from an error response's status and body text (JSON `{message, code, field?}` when the server sent one). */
export function apiErrorOf(status: number, text: string, request: string, retryAfterS?: number): HearthApiError {
  let body: Partial<ApiErrorBody> & { error?: { message?: unknown } } = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') body = parsed;
  } catch {
    // not JSON: the text itself is the message
  }
  const message =
    typeof body.message === 'string' ? body.message : typeof body.error?.message === 'string' ? body.error.message : text.trim().slice(0, 500) || `HTTP ${status}`;
  const code = typeof body.code === 'string' ? body.code : codeForStatus(status);
  const field = typeof body.field === 'string' ? body.field : undefined;
  return new HearthApiError(status, code, message, field, request, retryAfterS);
}
