// The SDK's own AWS Signature Version 4 signer (header authentication, node:crypto only): what the storage
// endpoint verifies. Access key = the account's email, secret = its API token, service `s3`.
import { createHash, createHmac } from 'node:crypto';

/** `x-amz-content-sha256` of a body the signer does not hash (a streamed file). */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** SHA-256 of the empty string. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** URI-encodes per SigV4: every byte but `A–Z a–z 0–9 - _ . ~` as `%XX` (upper case); `/` kept when `keepSlash`. */
export function uriEncode(s: string, keepSlash = false): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Hex SHA-256 of a string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Uint8Array | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** `yyyymmddThhmmssZ` of a time. */
export function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** What to sign. */
export interface SignRequest {
  method: string;
  /** The path exactly as sent (already URI-encoded), e.g. `/storage/my-bucket/a%20b.txt`. */
  path: string;
  /** Decoded query parameters (`[name, value]`, a bare name has value ''). */
  query?: ReadonlyArray<[string, string]>;
  /** `host[:port]` as the Host header will carry it. */
  host: string;
  /** Further headers to sign (lower-case names), e.g. `content-type`, `range`. */
  headers?: Record<string, string>;
  /** Hex SHA-256 of the body, or {@link UNSIGNED_PAYLOAD}. */
  payloadHash: string;
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
  /** Signing time, ms since the epoch (default now). */
  nowMs?: number;
}

/** The canonical query string: names and values URI-encoded, sorted by name then value. */
export function canonicalQueryString(query: ReadonlyArray<[string, string]>): string {
  const enc = query.map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  enc.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return enc.map(([k, v]) => `${k}=${v}`).join('&');
}

/**
 * Signs a request; returns the headers to send with it (`authorization`, `x-amz-date`, `x-amz-content-sha256`
 * and the given ones; the Host header is the URL's, which fetch sets itself).
 */
export function signV4(req: SignRequest): Record<string, string> {
  const region = req.region ?? 'us-east-1';
  const now = amzDate(req.nowMs ?? Date.now());
  const date = now.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  headers['x-amz-date'] = now;
  headers['x-amz-content-sha256'] = req.payloadHash;
  const toSign: Record<string, string> = { ...headers, host: req.host };
  const names = Object.keys(toSign).sort();
  const canonicalHeaders = names.map((n) => `${n}:${toSign[n].trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const canonical = [req.method.toUpperCase(), req.path === '' ? '/' : req.path, canonicalQueryString(req.query ?? []), canonicalHeaders, signedHeaders, req.payloadHash].join('\n');
  const scope = `${date}/${region}/s3/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${now}\n${scope}\n${sha256Hex(canonical)}`;
  const key = hmac(hmac(hmac(hmac(`AWS4${req.secretAccessKey}`, date), region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${req.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
