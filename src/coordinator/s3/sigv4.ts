// AWS Signature Version 4 for the S3 endpoint: parsing the Authorization header (or presigned query), the
// canonical request as S3 defines it, verification against a candidate secret in constant time, the clock-skew
// window, and the aws-chunked body decoder (signed chunks, unsigned chunks with trailing checksums). Pure: no
// I/O, no wall clock (the caller passes "now"); a signer is included for tests and clients.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The only algorithm S3 SigV4 uses. */
export const ALGORITHM = 'AWS4-HMAC-SHA256';
/** Largest accepted difference between the request's x-amz-date and the server clock: 15 minutes. */
export const MAX_SKEW_MS = 15 * 60 * 1000;
/** Hex SHA-256 of the empty string. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The parts of an HTTP request SigV4 covers. */
export interface SigV4Request {
  method: string;
  /** The request target as received (path and query, percent-encoded, not decoded), e.g. `/s3/b/k%20x?uploads`. */
  url: string;
  /**
   * Headers as received, alternating name/value (Node's `rawHeaders`), so that repeated headers canonicalise
   * as AWS specifies (values joined by commas).
   */
  rawHeaders: readonly string[];
}

/** How the body is protected, from `x-amz-content-sha256`. */
export type PayloadMode =
  | { kind: 'hash'; sha256: string }
  | { kind: 'unsigned' }
  /** aws-chunked; `signed`: per-chunk signatures; `trailer`: trailing headers (checksums) after the last chunk. */
  | { kind: 'chunked'; signed: boolean; trailer: boolean };

/** A syntactically valid SigV4 request, not yet checked against a secret. */
export interface ParsedSigV4 {
  accessKeyId: string;
  /** yyyymmdd of the credential scope. */
  scopeDate: string;
  region: string;
  service: string;
  /** `date/region/service/aws4_request`. */
  scope: string;
  /** yyyymmddThhmmssZ */
  amzDate: string;
  signedHeaders: string[];
  /** Lower-case hex, 64 characters. */
  signature: string;
  presigned: boolean;
  payload: PayloadMode;
  /** SHA-256 hex of each candidate canonical request (the first is the spec's; the second the raw path). */
  canonicalRequestHashes: string[];
}

/** Why a request was refused, in S3's vocabulary. */
export type SigV4ErrorCode =
  | 'AccessDenied'
  | 'AuthorizationHeaderMalformed'
  | 'AuthorizationQueryParametersError'
  | 'RequestTimeTooSkewed'
  | 'SignatureDoesNotMatch'
  | 'InvalidArgument';

/** A refusal: S3 error code and a message safe to show. */
export class SigV4Error extends Error {
  constructor(
    readonly code: SigV4ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SigV4Error';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Encoding and canonical form

/** RFC 3986 encoding as SigV4 wants it: everything but A–Z a–z 0–9 - _ . ~ percent-encoded (UTF-8, upper hex). */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Splits a request target into its path and query (without `?`). */
export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

function tryDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * The canonical URI candidates for a raw path. S3 does not normalise paths (no `.`/`..` removal) and encodes
 * once: each segment decoded then re-encoded. A client that encoded differently (e.g. left `!` bare) signed
 * its own bytes, so the raw path is the second candidate.
 */
export function canonicalUris(rawPath: string): string[] {
  const path = rawPath === '' ? '/' : rawPath;
  const segs = path.split('/').map((s) => {
    const d = tryDecode(s);
    return d === undefined ? s : uriEncode(d);
  });
  const spec = segs.join('/');
  return spec === path ? [spec] : [spec, path];
}

/** Parses a raw query string into decoded pairs, in order (a name without `=` has value ''). Undecodable parts stay raw. */
export function parseQuery(query: string): Array<[string, string]> {
  if (query === '') return [];
  return query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const k = eq < 0 ? p : p.slice(0, eq);
      const v = eq < 0 ? '' : p.slice(eq + 1);
      return [tryDecode(k) ?? k, tryDecode(v) ?? v];
    });
}

/** Canonical query string: names and values URI-encoded, sorted by name then value, `X-Amz-Signature` excluded. */
export function canonicalQuery(pairs: ReadonlyArray<[string, string]>, excludeSignature = false): string {
  const enc = pairs
    .filter(([k]) => !(excludeSignature && k === 'X-Amz-Signature'))
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  enc.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return enc.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Header values by lower-case name, repeated headers joined by `,`, each value trimmed with inner spaces collapsed. */
export function headerMap(rawHeaders: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = rawHeaders[i + 1].trim().replace(/\s+/g, ' ');
    const prev = m.get(name);
    m.set(name, prev === undefined ? value : `${prev},${value}`);
  }
  return m;
}

/** The canonical request (method, URI, query, headers, signed-header list, payload hash), `\n`-joined. */
export function canonicalRequest(
  method: string,
  canonicalUri: string,
  canonicalQueryString: string,
  headers: ReadonlyMap<string, string>,
  signedHeaders: readonly string[],
  payloadHash: string,
): string {
  const canonHeaders = signedHeaders.map((h) => `${h}:${headers.get(h) ?? ''}\n`).join('');
  return [method.toUpperCase(), canonicalUri, canonicalQueryString, canonHeaders, signedHeaders.join(';'), payloadHash].join('\n');
}

/** Hex SHA-256. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Uint8Array | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** The string to sign of a request. */
export function stringToSign(amzDate: string, scope: string, canonicalRequestHash: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${canonicalRequestHash}`;
}

/** The derived signing key: HMAC chain over date, region, service and `aws4_request`. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/** Hex HMAC-SHA256 of a string to sign under a signing key. */
export function signatureOf(key: Uint8Array, toSign: string): string {
  return createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
}

/** Constant-time equality of two hex signatures (false when lengths differ). */
export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

// ---------------------------------------------------------------------------------------------------------
// Parsing and verification

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Milliseconds of an ISO basic date-time (`20150830T123600Z`), or undefined when malformed. */
export function parseAmzDate(s: string): number | undefined {
  const m = AMZ_DATE.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, se);
  const back = new Date(t);
  if (back.getUTCDate() !== d || back.getUTCMonth() !== mo - 1 || back.getUTCHours() !== h) return undefined;
  return t;
}

/** yyyymmddThhmmssZ of a time. */
export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function payloadMode(value: string | undefined, presigned: boolean): PayloadMode {
  if (value === undefined) {
    if (presigned) return { kind: 'unsigned' };
    throw new SigV4Error('InvalidArgument', 'x-amz-content-sha256 must be provided with header authentication');
  }
  switch (value) {
    case 'UNSIGNED-PAYLOAD':
      return { kind: 'unsigned' };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'chunked', signed: false, trailer: true };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { kind: 'chunked', signed: true, trailer: false };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { kind: 'chunked', signed: true, trailer: true };
    default:
      if (/^[0-9a-f]{64}$/i.test(value)) return { kind: 'hash', sha256: value.toLowerCase() };
      throw new SigV4Error('InvalidArgument', 'x-amz-content-sha256 is not a SHA-256 hex digest or a known payload mode');
  }
}

function parseCredential(cred: string, malformed: SigV4ErrorCode): { accessKeyId: string; scopeDate: string; region: string; service: string } {
  // The access key (an email) may itself contain '/'; the last four fields are fixed.
  const parts = cred.split('/');
  if (parts.length < 5) throw new SigV4Error(malformed, 'the Credential must be access-key/date/region/service/aws4_request');
  const [scopeDate, region, service, term] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (term !== 'aws4_request' || !/^\d{8}$/.test(scopeDate) || accessKeyId === '' || region === '' || service !== 's3') {
    throw new SigV4Error(malformed, 'the Credential scope must be date/region/s3/aws4_request');
  }
  return { accessKeyId, scopeDate, region, service };
}

/**
 * Parses and checks everything about a request's SigV4 authentication that does not need the secret: the
 * header (or presigned query) syntax, the scope, the clock skew (or presigned expiry) against `nowMs`, that
 * `host` and every `x-amz-*` header present are signed; and computes the canonical request hashes.
 * @returns undefined when the request carries no SigV4 authentication at all (anonymous)
 * @throws SigV4Error
 */
export function parseSigV4(req: SigV4Request, nowMs: number): ParsedSigV4 | undefined {
  const headers = headerMap(req.rawHeaders);
  const { path, query } = splitUrl(req.url);
  const pairs = parseQuery(query);
  const auth = headers.get('authorization');
  const qp = new Map(pairs);
  let accessKeyId: string, scopeDate: string, region: string, service: string;
  let signedHeaders: string[];
  let signature: string;
  let amzDate: string;
  let presigned = false;
  if (auth !== undefined) {
    if (!auth.startsWith(`${ALGORITHM} `)) throw new SigV4Error('AuthorizationHeaderMalformed', `only ${ALGORITHM} (Signature Version 4) is supported`);
    const fields = new Map<string, string>();
    for (const part of auth.slice(ALGORITHM.length + 1).split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0) throw new SigV4Error('AuthorizationHeaderMalformed', 'malformed Authorization header');
      fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const cred = fields.get('Credential');
    const sh = fields.get('SignedHeaders');
    const sig = fields.get('Signature');
    if (cred === undefined || sh === undefined || sig === undefined) {
      throw new SigV4Error('AuthorizationHeaderMalformed', 'the Authorization header needs Credential, SignedHeaders and Signature');
    }
    ({ accessKeyId, scopeDate, region, service } = parseCredential(cred, 'AuthorizationHeaderMalformed'));
    signedHeaders = sh.split(';');
    signature = sig;
    const d = headers.get('x-amz-date');
    if (d === undefined) throw new SigV4Error('AccessDenied', 'x-amz-date must be provided');
    amzDate = d;
  } else if (qp.has('X-Amz-Algorithm') || qp.has('X-Amz-Signature')) {
    presigned = true;
    if (qp.get('X-Amz-Algorithm') !== ALGORITHM) throw new SigV4Error('AuthorizationQueryParametersError', `X-Amz-Algorithm must be ${ALGORITHM}`);
    const cred = qp.get('X-Amz-Credential');
    const sh = qp.get('X-Amz-SignedHeaders');
    const sig = qp.get('X-Amz-Signature');
    const d = qp.get('X-Amz-Date');
    const exp = qp.get('X-Amz-Expires');
    if (cred === undefined || sh === undefined || sig === undefined || d === undefined || exp === undefined) {
      throw new SigV4Error('AuthorizationQueryParametersError', 'presigned URLs need X-Amz-Credential, -SignedHeaders, -Signature, -Date and -Expires');
    }
    ({ accessKeyId, scopeDate, region, service } = parseCredential(cred, 'AuthorizationQueryParametersError'));
    signedHeaders = sh.split(';');
    signature = sig;
    amzDate = d;
    if (!/^\d{1,6}$/.test(exp) || Number(exp) < 1 || Number(exp) > 604800) {
      throw new SigV4Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be 1…604800 seconds');
    }
    const t = parseAmzDate(amzDate);
    if (t !== undefined && nowMs > t + Number(exp) * 1000) throw new SigV4Error('AccessDenied', 'Request has expired');
  } else {
    return undefined;
  }

  if (!/^[0-9a-f]{64}$/.test(signature)) throw new SigV4Error('SignatureDoesNotMatch', 'the signature is not 64 lower-case hex digits');
  const t = parseAmzDate(amzDate);
  if (t === undefined) throw new SigV4Error('AccessDenied', 'x-amz-date is not yyyymmddThhmmssZ');
  if (amzDate.slice(0, 8) !== scopeDate) throw new SigV4Error('SignatureDoesNotMatch', 'the credential date does not match x-amz-date');
  if (presigned ? t - nowMs > MAX_SKEW_MS : Math.abs(t - nowMs) > MAX_SKEW_MS) {
    throw new SigV4Error('RequestTimeTooSkewed', 'The difference between the request time and the server time is too large');
  }
  if (signedHeaders.length === 0 || signedHeaders.some((h) => h === '' || h !== h.toLowerCase())) {
    throw new SigV4Error('AuthorizationHeaderMalformed', 'SignedHeaders must be lower-case names separated by ;');
  }
  for (let i = 1; i < signedHeaders.length; i++) {
    if (signedHeaders[i - 1] >= signedHeaders[i]) throw new SigV4Error('AuthorizationHeaderMalformed', 'SignedHeaders must be sorted and unique');
  }
  if (!signedHeaders.includes('host')) throw new SigV4Error('AccessDenied', 'the host header must be signed');
  for (const name of headers.keys()) {
    if (name.startsWith('x-amz-') && name !== 'x-amz-content-sha256' && !signedHeaders.includes(name)) {
      throw new SigV4Error('AccessDenied', 'There were headers present in the request which were not signed');
    }
  }
  const contentSha = headers.get('x-amz-content-sha256');
  if (contentSha !== undefined && !presigned && !signedHeaders.includes('x-amz-content-sha256')) {
    throw new SigV4Error('AccessDenied', 'x-amz-content-sha256 must be signed');
  }
  const payload = payloadMode(contentSha, presigned);
  const payloadHash = presigned ? (contentSha ?? 'UNSIGNED-PAYLOAD') : contentSha!;
  const cq = canonicalQuery(pairs, presigned);
  const canonicalRequestHashes = canonicalUris(path).map((uri) =>
    sha256Hex(canonicalRequest(req.method, uri, cq, headers, signedHeaders, payloadHash)),
  );
  return {
    accessKeyId,
    scopeDate,
    region,
    service,
    scope: `${scopeDate}/${region}/${service}/aws4_request`,
    amzDate,
    signedHeaders,
    signature,
    presigned,
    payload,
    canonicalRequestHashes,
  };
}

/**
 * Checks a parsed request against one candidate secret (an account may hold several tokens: try each).
 * @returns the signing key when the signature matches (needed to verify signed chunks), else undefined
 */
export function verifySigV4(parsed: ParsedSigV4, secret: string): Buffer | undefined {
  const key = signingKey(secret, parsed.scopeDate, parsed.region, parsed.service);
  let ok = false;
  for (const h of parsed.canonicalRequestHashes) {
    // Evaluate every candidate (no early exit) so timing does not depend on which one matched.
    if (signaturesEqual(signatureOf(key, stringToSign(parsed.amzDate, parsed.scope, h)), parsed.signature)) ok = true;
  }
  return ok ? key : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Signing (tests, and clients of our own)

/** What to sign: a request and credentials. */
export interface SignInput {
  method: string;
  /** Path and query, already percent-encoded as they will be sent. */
  url: string;
  /** Header names (any case) to values; `host` must be present. x-amz-date and x-amz-content-sha256 are added. */
  headers: Record<string, string>;
  accessKeyId: string;
  secret: string;
  region?: string;
  nowMs: number;
  /** x-amz-content-sha256 value (default: hash of `body`, or of the empty string). */
  payloadHash?: string;
  body?: Uint8Array | string;
}

/** Signs a request with header authentication; returns the headers to send (input plus x-amz-*, authorization). */
export function signRequest(input: SignInput): Record<string, string> {
  const region = input.region ?? 'us-east-1';
  const amzDate = formatAmzDate(input.nowMs);
  const date = amzDate.slice(0, 8);
  const payloadHash = input.payloadHash ?? sha256Hex(input.body ?? '');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v;
  headers['x-amz-date'] = amzDate;
  headers['x-amz-content-sha256'] = payloadHash;
  const raw = Object.entries(headers).flat();
  const map = headerMap(raw);
  const signed = [...map.keys()].sort();
  const { path, query } = splitUrl(input.url);
  const cr = canonicalRequest(input.method, canonicalUris(path)[0], canonicalQuery(parseQuery(query)), map, signed, payloadHash);
  const scope = `${date}/${region}/s3/aws4_request`;
  const sig = signatureOf(signingKey(input.secret, date, region, 's3'), stringToSign(amzDate, scope, sha256Hex(cr)));
  headers.authorization = `${ALGORITHM} Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${sig}`;
  return headers;
}

// ---------------------------------------------------------------------------------------------------------
// aws-chunked bodies

/** Checks run on a chunked body; the decoder throws SigV4Error / ChunkedBodyError. */
export interface ChunkedOptions {
  /** For signed chunks: the request's signing key, signature (seed), date and scope. */
  signing?: { key: Uint8Array; seedSignature: string; amzDate: string; scope: string };
  /** Expect trailing headers after the last chunk. */
  trailer: boolean;
  /** Called with the trailing headers (lower-case names) once the body is complete. */
  onTrailers?: (trailers: Map<string, string>) => void;
}

/** A malformed aws-chunked body (S3: IncompleteBody / InvalidRequest). */
export class ChunkedBodyError extends Error {
  constructor(
    readonly code: 'IncompleteBody' | 'InvalidRequest' | 'SignatureDoesNotMatch',
    message: string,
  ) {
    super(message);
    this.name = 'ChunkedBodyError';
  }
}

const MAX_LINE = 4096;

/**
 * Decodes an aws-chunked body (`size[;chunk-signature=sig]\r\n data \r\n` … `0…\r\n` [trailers] `\r\n`),
 * yielding the payload bytes as they arrive. Verifies each chunk's signature (chained from the seed) when
 * signing is given; the final checks run when the terminating chunk has been read.
 */
export async function* decodeAwsChunked(source: AsyncIterable<Uint8Array>, opts: ChunkedOptions): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  let done = false;
  let prevSig = opts.signing?.seedSignature ?? '';
  const it = source[Symbol.asyncIterator]();
  const more = async (): Promise<boolean> => {
    const r = await it.next();
    if (r.done) return false;
    buf = buf.length === 0 ? Buffer.from(r.value) : Buffer.concat([buf, r.value]);
    return true;
  };
  const line = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        const l = buf.subarray(0, i).toString('latin1');
        buf = buf.subarray(i + 2);
        return l;
      }
      if (buf.length > MAX_LINE) throw new ChunkedBodyError('InvalidRequest', 'aws-chunked line too long');
      if (!(await more())) throw new ChunkedBodyError('IncompleteBody', 'the aws-chunked body ended early');
    }
  };
  try {
    while (!done) {
      const header = await line();
      const m = /^([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(header);
      if (!m) throw new ChunkedBodyError('InvalidRequest', 'malformed aws-chunked chunk header');
      const size = parseInt(m[1], 16);
      if (!Number.isSafeInteger(size)) throw new ChunkedBodyError('InvalidRequest', 'aws-chunked chunk too large');
      const chunkSig = m[2];
      if (opts.signing && chunkSig === undefined) throw new ChunkedBodyError('SignatureDoesNotMatch', 'missing chunk-signature');
      const hash = opts.signing ? createHash('sha256') : undefined;
      let left = size;
      while (left > 0) {
        if (buf.length === 0 && !(await more())) throw new ChunkedBodyError('IncompleteBody', 'the aws-chunked body ended early');
        const take = buf.subarray(0, Math.min(left, buf.length));
        buf = buf.subarray(take.length);
        left -= take.length;
        hash?.update(take);
        yield take;
      }
      if (opts.signing) {
        const s = opts.signing;
        const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', s.amzDate, s.scope, prevSig, EMPTY_SHA256, hash!.digest('hex')].join('\n');
        const expect = signatureOf(s.key, toSign);
        if (!signaturesEqual(expect, chunkSig)) throw new ChunkedBodyError('SignatureDoesNotMatch', 'a chunk signature does not match');
        prevSig = expect;
      }
      if (size > 0) {
        if ((await line()) !== '') throw new ChunkedBodyError('InvalidRequest', 'aws-chunked chunk not terminated by CRLF');
        continue;
      }
      done = true;
      const trailers = new Map<string, string>();
      const trailerLines: string[] = [];
      for (;;) {
        const l = await line();
        if (l === '') break;
        const c = l.indexOf(':');
        if (c <= 0) throw new ChunkedBodyError('InvalidRequest', 'malformed trailing header');
        const name = l.slice(0, c).trim().toLowerCase();
        const value = l.slice(c + 1).trim();
        if (name === 'x-amz-trailer-signature') {
          if (!opts.signing) continue;
          const toSign = ['AWS4-HMAC-SHA256-TRAILER', opts.signing.amzDate, opts.signing.scope, prevSig, sha256Hex(trailerLines.join(''))].join('\n');
          if (!signaturesEqual(signatureOf(opts.signing.key, toSign), value)) {
            throw new ChunkedBodyError('SignatureDoesNotMatch', 'the trailer signature does not match');
          }
          trailers.set(name, value);
          continue;
        }
        trailerLines.push(`${name}:${value}\n`);
        trailers.set(name, value);
        if (trailers.size > 16) throw new ChunkedBodyError('InvalidRequest', 'too many trailing headers');
      }
      if (opts.signing && opts.trailer && !trailers.has('x-amz-trailer-signature')) {
        throw new ChunkedBodyError('SignatureDoesNotMatch', 'missing x-amz-trailer-signature');
      }
      opts.onTrailers?.(trailers);
    }
  } catch (e) {
    await it.return?.();
    throw e;
  }
  // Read the source to its end (so the connection stays usable); bytes after the last chunk are an error.
  let extra = buf.length;
  for (let r = await it.next(); !r.done; r = await it.next()) extra += r.value.length;
  if (extra > 0) throw new ChunkedBodyError('InvalidRequest', 'data after the last aws-chunked chunk');
}
