// The device file routes under /hearth/v1/device: how an agent lists and downloads an attempt's inputs and uploads
// its results and snapshots with its own device token (it never holds the customer's storage credentials).
import { Type, type Static } from 'typebox';

/** Path parameters naming one attempt: `/assignments/{taskUuid}/{instanceId}/{attempt}`. */
export const AttemptParamsSchema = Type.Object({
  taskUuid: Type.String({ minLength: 1, maxLength: 64 }),
  instanceId: Type.Integer({ minimum: 0 }),
  attempt: Type.Integer({ minimum: 1 }),
});
export type AttemptParams = Static<typeof AttemptParamsSchema>;

/** One input object of an attempt (an object of one of the task's resource buckets). */
export const DeviceInputSchema = Type.Object({
  bucket: Type.String(),
  key: Type.String(),
  /** Bytes. */
  size: Type.Integer({ minimum: 0 }),
  /** MD5 hex of a single-part object (S3 ETag, unquoted): the agent's cache tells versions apart by it. */
  etag: Type.String(),
});
export type DeviceInput = Static<typeof DeviceInputSchema>;

/** `GET …/inputs`: every input object, bucket by bucket in the task's order, keys in binary order. */
export const DeviceInputListSchema = Type.Array(DeviceInputSchema);

/** `PUT …/results/{key}` and `PUT …/snapshots/{bucket}/{key}`: what was stored. */
export const DeviceUploadSchema = Type.Object({
  bucket: Type.String(),
  key: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  etag: Type.String(),
});
export type DeviceUpload = Static<typeof DeviceUploadSchema>;

/** The longest object key accepted, UTF-8 bytes (S3's limit). */
export const MAX_KEY_BYTES = 1024;
