// The agent's file link over HTTP: lists and downloads an attempt's inputs and uploads its results (and snapshots,
// and checkpoints: uploaded by the attempt stopped, downloaded by the attempt that resumes) through the
// coordinator's device routes (coordinator/api/device-files.ts), with the device's own token. A device never
// holds the customer's storage credentials; the coordinator checks the attempt is this device's.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import type { Assignment } from '../protocol/device.ts';
import { AgentFilesError, type AgentFiles } from './agent.ts';
import type { InputRef } from './input-cache.ts';

/** Options of {@link HttpFiles}. */
export interface HttpFilesOptions {
  /** The coordinator's base URL (e.g. `http://coordinator:8080`; a path prefix is kept). */
  baseUrl: string;
  /** The device's API token (an account of role `device` scoped to this device). */
  token: string;
  /** A request with no progress for this long fails (retryably), ms. Default 60,000. */
  idleTimeoutMs?: number;
}

/** The device routes' prefix under the base URL. */
export const DEVICE_FILES_PREFIX = '/hearth/v1/device';

/** The most bytes of an error answer read for its message. */
const MAX_ERROR_BODY = 64 * 1024;
/** The most bytes of an input listing accepted. */
const MAX_LISTING_BODY = 64 * 1024 * 1024;

/** See the file comment. Errors are {@link AgentFilesError}s: retryable for network faults, 429 and 5xx. */
export class HttpFiles implements AgentFiles {
  private readonly base: URL;
  private readonly token: string;
  private readonly idleTimeoutMs: number;

  constructor(options: HttpFilesOptions) {
    this.base = new URL(options.baseUrl);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') throw new Error(`coordinator URL must be http(s), got ${options.baseUrl}`);
    this.token = options.token;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  }

  /** The path of an attempt's routes (every variable part percent-encoded as one segment). */
  private attemptPath(a: Assignment): string {
    const root = this.base.pathname.replace(/\/+$/, '');
    return `${root}${DEVICE_FILES_PREFIX}/assignments/${seg(a.taskUuid)}/${a.instanceId}/${a.attempt}`;
  }

  async listInputs(a: Assignment): Promise<InputRef[]> {
    const res = await this.send('GET', `${this.attemptPath(a)}/inputs`, {});
    const text = (await readBody(res, MAX_LISTING_BODY)).toString('utf8');
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new AgentFilesError('input listing is not JSON', true, res.statusCode);
    }
    if (!Array.isArray(v)) throw new AgentFilesError('input listing is not a list', false, res.statusCode);
    return v.map((x: unknown, i) => {
      const o = (x ?? {}) as Record<string, unknown>;
      if (typeof o.key !== 'string' || typeof o.size !== 'number' || !(o.size >= 0)) throw new AgentFilesError(`input listing [${i}] lacks a key or a size`, false);
      return {
        key: o.key,
        size: o.size,
        ...(typeof o.bucket === 'string' ? { bucket: o.bucket } : {}),
        ...(typeof o.etag === 'string' ? { etag: o.etag } : {}),
      };
    });
  }

  async download(a: Assignment, input: InputRef): Promise<Readable> {
    if (input.bucket === undefined) throw new AgentFilesError(`input ${JSON.stringify(input.key)} names no bucket`, false);
    const res = await this.send('GET', `${this.attemptPath(a)}/inputs/${seg(input.bucket)}/${keySeg(input.key)}`, {});
    // A connection lost midway is a retryable failure, whatever the socket says.
    const out = new PassThrough();
    res.on('data', (c: Buffer) => {
      if (!out.write(c)) res.pause();
    });
    out.on('drain', () => res.resume());
    res.on('end', () => out.end());
    res.on('error', (e) => out.destroy(new AgentFilesError(`download of ${JSON.stringify(input.key)} interrupted: ${e.message}`, true)));
    out.on('close', () => {
      if (!res.complete) res.destroy();
    });
    return out;
  }

  async upload(a: Assignment, key: string, body: Readable, size: number): Promise<void> {
    const res = await this.send('PUT', `${this.attemptPath(a)}/results/${keySeg(key)}`, { body, size });
    await readBody(res, MAX_ERROR_BODY);
  }

  async uploadSnapshot(a: Assignment, bucket: string, key: string, body: Readable, size: number): Promise<void> {
    const res = await this.send('PUT', `${this.attemptPath(a)}/snapshots/${seg(bucket)}/${keySeg(key)}`, { body, size });
    await readBody(res, MAX_ERROR_BODY);
  }

  async uploadCheckpoint(a: Assignment, body: Readable, size: number): Promise<void> {
    const res = await this.send('PUT', `${this.attemptPath(a)}/checkpoint`, { body, size });
    await readBody(res, MAX_ERROR_BODY);
  }

  /** 503 (not arrived yet) is retryable; 404 (there is none and will be none) is not. */
  async downloadCheckpoint(a: Assignment, fromAttempt: number): Promise<Readable> {
    if (!Number.isInteger(fromAttempt) || fromAttempt < 1) throw new AgentFilesError(`bad checkpoint attempt ${fromAttempt}`, false);
    const res = await this.send('GET', `${this.attemptPath(a)}/checkpoint/${fromAttempt}`, {});
    const out = new PassThrough();
    res.on('data', (c: Buffer) => {
      if (!out.write(c)) res.pause();
    });
    out.on('drain', () => res.resume());
    res.on('end', () => (res.complete ? out.end() : out.destroy(new AgentFilesError('checkpoint download interrupted', true))));
    res.on('error', (e) => out.destroy(new AgentFilesError(`checkpoint download interrupted: ${e.message}`, true)));
    out.on('close', () => {
      if (!res.complete) res.destroy();
    });
    return out;
  }

  /** One request; resolves with a 2xx response (body unread), rejects with an AgentFilesError otherwise. */
  private send(method: 'GET' | 'PUT', path: string, o: { body?: Readable; size?: number }): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      let settled = false;
      const fail = (e: AgentFilesError): void => {
        if (settled) return;
        settled = true;
        o.body?.destroy();
        reject(e);
      };
      const headers: Record<string, string> = { authorization: this.token, accept: 'application/json, application/octet-stream' };
      if (o.body) {
        headers['content-type'] = 'application/octet-stream';
        headers['content-length'] = String(o.size ?? 0);
      }
      const request = this.base.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request({ protocol: this.base.protocol, hostname: this.base.hostname.replace(/^\[|\]$/g, ''), port: this.base.port || undefined, method, path, headers }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          settled = true;
          resolve(res);
          return;
        }
        readBody(res, MAX_ERROR_BODY).then(
          (buf) => {
            let message = `${method} ${status}`;
            try {
              const j = JSON.parse(buf.toString('utf8')) as { message?: unknown };
              if (typeof j.message === 'string') message = `${message}: ${j.message}`;
            } catch {
              /* not JSON */
            }
            fail(new AgentFilesError(message, status === 429 || status >= 500, status));
          },
          (e: unknown) => fail(new AgentFilesError(`${method} ${status}: ${(e as Error).message}`, true, status)),
        );
      });
      req.setTimeout(this.idleTimeoutMs, () => req.destroy(new Error(`no progress for ${this.idleTimeoutMs} ms`)));
      req.on('error', (e) => fail(new AgentFilesError(`coordinator unreachable: ${e.message}`, true)));
      if (o.body) {
        o.body.on('error', (e) => {
          fail(new AgentFilesError(`cannot read the file to upload: ${e.message}`, false));
          req.destroy();
        });
        o.body.pipe(req);
      } else {
        req.end();
      }
    });
  }
}

/** One path segment. */
function seg(s: string): string {
  return encodeURIComponent(s);
}

/**
 * An object key as one path segment ('/' encoded too, so '..' inside a key is never a path step). The keys '.' and
 * '..' cannot be expressed (HTTP clients and proxies collapse them) and are refused.
 */
function keySeg(key: string): string {
  if (key === '' || key === '.' || key === '..') throw new AgentFilesError(`key ${JSON.stringify(key)} cannot travel in a URL`, false);
  return encodeURIComponent(key);
}

/** Reads a response body whole (at most `max` bytes). */
async function readBody(res: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of res as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > max) {
        res.destroy();
        throw new AgentFilesError(`answer over ${max} bytes`, false, res.statusCode);
      }
      chunks.push(c);
    }
  } catch (e) {
    if (e instanceof AgentFilesError) throw e;
    throw new AgentFilesError(`answer interrupted: ${(e as Error).message}`, true, res.statusCode);
  }
  return Buffer.concat(chunks);
}
