// S3's XML: the error type the endpoint throws (code, HTTP status, message), escaping, a small element builder
// for responses, and a small strict parser for the request bodies S3 takes (DeleteObjects,
// CompleteMultipartUpload, CreateBucketConfiguration). No DTDs, no entities beyond XML's five and numeric ones.

/** S3 error codes the endpoint answers, with their HTTP status. */
export const S3_ERRORS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  TooManyBuckets: 400,
  XAmzContentSHA256Mismatch: 400,
} as const;

/** One of {@link S3_ERRORS}' codes. */
export type S3ErrorCode = keyof typeof S3_ERRORS;

/** An S3 error response: `<Error><Code>…</Code><Message>…</Message>…</Error>` with the code's status. */
export class S3Error extends Error {
  readonly status: number;
  /**
   * @param extra further elements of the error document (BucketName, Key, UploadId…), in order
   * @param headers response headers to add (e.g. Content-Range on InvalidRange)
   */
  constructor(
    readonly code: S3ErrorCode,
    message: string,
    readonly extra: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3Error';
    this.status = S3_ERRORS[code];
  }
}

// ---------------------------------------------------------------------------------------------------------
// Writing

/**
 * Escapes text for XML content or attribute values: the five special characters, and every character XML 1.0
 * cannot carry literally (control characters, U+FFFE/U+FFFF) as a numeric reference, as S3 does.
 */
export function escapeXml(s: string): string {
  // eslint-disable-next-line no-control-regex -- these are exactly the characters to escape
  return s.replace(/[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`;
    }
  });
}

/** A child of an element: text, a nested element, or nothing (skipped). */
export type XmlChild = XmlElement | string | number | boolean | null | undefined;
/** An element under construction: `[name, children]`. */
export type XmlElement = readonly [string, readonly XmlChild[]];

/** Shorthand for an element; a lone scalar child becomes the text. */
export function el(name: string, ...children: XmlChild[]): XmlElement {
  return [name, children];
}

function render(e: XmlElement, out: string[]): void {
  const [name, children] = e;
  out.push(`<${name}>`);
  for (const c of children) {
    if (c === null || c === undefined) continue;
    if (typeof c === 'object') render(c, out);
    else out.push(escapeXml(String(c)));
  }
  out.push(`</${name}>`);
}

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** A full document: declaration and the root element (in S3's namespace unless `ns` is false). */
export function xmlDocument(root: XmlElement, ns = true): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  render(root, out);
  if (ns) out[1] = `<${root[0]} xmlns="${S3_NS}">`;
  return out.join('');
}

/** The error document of an S3 error. */
export function errorDocument(err: S3Error, resource: string, requestId: string): string {
  return xmlDocument(
    el('Error', el('Code', err.code), el('Message', err.message), ...Object.entries(err.extra).map(([k, v]) => el(k, v)), el('Resource', resource), el('RequestId', requestId)),
    false,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Reading

/** A parsed element: local name (namespace prefix dropped), child elements, and its text content. */
export interface XmlNode {
  name: string;
  children: XmlNode[];
  text: string;
}

/** Limits on what {@link parseXml} accepts. */
export interface XmlLimits {
  maxDepth?: number;
  maxElements?: number;
}

function malformed(message: string): S3Error {
  return new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate: ${message}`);
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);|&/g, (all, ent: string | undefined) => {
    if (ent === undefined) throw malformed('bare &');
    switch (ent) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default: {
        const cp = ent[1] === 'x' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
        if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw malformed(`bad character reference ${all}`);
        return String.fromCodePoint(cp);
      }
    }
  });
}

/**
 * Parses a small XML document into a tree. Strict enough for request bodies: one root, matched tags, no DTD or
 * processing instructions other than the declaration; attributes are ignored; CDATA is text.
 * @throws S3Error MalformedXML
 */
export function parseXml(text: string, limits: XmlLimits = {}): XmlNode {
  const maxDepth = limits.maxDepth ?? 16;
  const maxElements = limits.maxElements ?? 20000;
  let i = 0;
  let count = 0;
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  const texts: string[][] = [];
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = text.slice(i, lt < 0 ? text.length : lt);
    if (chunk !== '') {
      if (stack.length === 0) {
        if (chunk.trim() !== '') throw malformed('text outside the root element');
      } else texts[texts.length - 1].push(decodeEntities(chunk));
    }
    if (lt < 0) break;
    if (text.startsWith('<?', lt)) {
      const end = text.indexOf('?>', lt);
      if (end < 0 || root !== undefined || stack.length > 0) throw malformed('misplaced processing instruction');
      i = end + 2;
    } else if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      if (end < 0) throw malformed('unterminated comment');
      i = end + 3;
    } else if (text.startsWith('<![CDATA[', lt)) {
      const end = text.indexOf(']]>', lt);
      if (end < 0 || stack.length === 0) throw malformed('misplaced CDATA');
      texts[texts.length - 1].push(text.slice(lt + 9, end));
      i = end + 3;
    } else if (text.startsWith('<!', lt)) {
      throw malformed('DTDs are not allowed');
    } else if (text[lt + 1] === '/') {
      const end = text.indexOf('>', lt);
      if (end < 0) throw malformed('unterminated end tag');
      const name = text.slice(lt + 2, end).trim();
      const top = stack.pop();
      if (!top || top.name !== name) throw malformed(`unexpected </${name}>`);
      top.text = texts.pop()!.join('');
      top.name = localName(top.name);
      if (stack.length === 0) root = top;
      i = end + 1;
    } else {
      const end = findTagEnd(text, lt);
      let inner = text.slice(lt + 1, end);
      const selfClosing = inner.endsWith('/');
      if (selfClosing) inner = inner.slice(0, -1);
      const m = /^([A-Za-z_][\w.:-]*)(\s[^]*)?$/.exec(inner);
      if (!m) throw malformed('bad start tag');
      if (root !== undefined) throw malformed('more than one root element');
      if (++count > maxElements) throw malformed('too many elements');
      if (stack.length >= maxDepth) throw malformed('too deeply nested');
      const node: XmlNode = { name: m[1], children: [], text: '' };
      stack[stack.length - 1]?.children.push(node);
      if (selfClosing) {
        node.name = localName(node.name);
        if (stack.length === 0) root = node;
      } else {
        stack.push(node);
        texts.push([]);
      }
      i = end + 1;
    }
  }
  if (stack.length > 0 || root === undefined) throw malformed('unterminated document');
  return root;
}

// Open elements keep their qualified name until closed (to match the end tag), then become local names.
function localName(n: string): string {
  const c = n.indexOf(':');
  return c < 0 ? n : n.slice(c + 1);
}

function findTagEnd(text: string, from: number): number {
  let quote: string | undefined;
  for (let j = from + 1; j < text.length; j++) {
    const ch = text[j];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '>') return j;
    else if (ch === '<') break;
  }
  throw malformed('unterminated start tag');
}

/** The first child element with this local name. */
export function child(node: XmlNode, name: string): XmlNode | undefined {
  return node.children.find((c) => c.name === name);
}
