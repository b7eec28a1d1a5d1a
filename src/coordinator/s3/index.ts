// The S3-compatible storage endpoint: the Fastify plugin, its blob store, SigV4 and XML helpers.
export { s3Plugin, parseRange, toS3Error, crc32c } from './plugin.ts';
export type { S3PluginOptions } from './plugin.ts';
export { BlobStore, BlobTooLargeError } from './blobs.ts';
export type { WrittenBlob, WriteOptions } from './blobs.ts';
export * from './sigv4.ts';
export { S3Error, S3_ERRORS, escapeXml, parseXml, xmlDocument, errorDocument, el, child } from './xml.ts';
export type { S3ErrorCode, XmlNode, XmlElement, XmlChild, XmlLimits } from './xml.ts';
