// Wire schemas of the account-level endpoints: settings, info, versions, profiles and (ext) account creation.
import { Type, type Static } from 'typebox';

/** `GET /settings`. */
export const SettingsSchema = Type.Object({ storage: Type.String() });
export type Settings = Static<typeof SettingsSchema>;

/** `GET /versions`. */
export const VersionsSchema = Type.Array(Type.Object({ version: Type.String(), endOfLife: Type.Union([Type.String(), Type.Null()]) }));
export type Versions = Static<typeof VersionsSchema>;

const Int = Type.Integer();
const QuotaBlock = Type.Object({ maxInstances: Int, maxCores: Int, runningInstancesCount: Int, runningCoresCount: Int });

/** `GET /info`: the account with its quotas and usage. */
export const InfoSchema = Type.Object({
  email: Type.String(),
  maxBucket: Int,
  bucketCount: Int,
  quotaBytesBucket: Type.Number(),
  usedQuotaBytesBucket: Type.Number(),
  quotaBytes: Type.Number(),
  usedQuotaBytes: Type.Number(),
  maxTask: Int,
  taskCount: Int,
  maxJob: Int,
  jobCount: Int,
  maxPool: Int,
  poolCount: Int,
  maxRunningTask: Int,
  runningTaskCount: Int,
  maxRunningPool: Int,
  runningPoolCount: Int,
  runningInstanceCount: Int,
  runningCoreCount: Int,
  maxInstances: Int,
  maxCores: Int,
  maxFlexInstances: Int,
  maxFlexCores: Int,
  maxOnDemandInstances: Int,
  maxOnDemandCores: Int,
  computingQuotas: Type.Object({
    userQuotas: Type.Object({ flex: QuotaBlock, onDemand: QuotaBlock, reserved: Type.Array(Type.Unknown()) }),
    organizationQuotas: Type.Object({ flex: QuotaBlock, onDemand: QuotaBlock, reserved: Type.Array(Type.Unknown()) }),
  }),
  defaultScheduling: Type.String(),
  /** (ext) remaining credits, euros. */
  credits: Type.Number(),
});
export type Info = Static<typeof InfoSchema>;

/** One constant of a profile. */
export const ProfileConstantSchema = Type.Object({ name: Type.String(), value: Type.String(), description: Type.String() });
/** `GET /profiles/{name}`. */
export const ProfileSchema = Type.Object({ name: Type.String(), constants: Type.Array(ProfileConstantSchema), licenses: Type.Array(Type.String()) });
export type Profile = Static<typeof ProfileSchema>;
export const ProfileParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }) });

/** (ext) `POST /hearth/v1/accounts` body (operator only). */
export const AccountCreateSchema = Type.Object({
  email: Type.String({ format: 'email', maxLength: 320 }),
  /** Starting credits, euros. */
  credits: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12 })),
  role: Type.Optional(Type.Union([Type.Literal('customer'), Type.Literal('operator'), Type.Literal('resident')])),
  /** A resident's rooms (what they see and may set); residents only. */
  roomIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 256 })),
});
export type AccountCreate = Static<typeof AccountCreateSchema>;

/** (ext) `PUT /hearth/v1/accounts/{id}/rooms` body (operator only): a resident's rooms from now on. */
export const AccountRoomsSchema = Type.Object({
  roomIds: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 256 }),
});
export type AccountRooms = Static<typeof AccountRoomsSchema>;

/** (ext) answer: the resident's rooms now, and the Home Assistant logins they issued that reached other rooms (revoked). */
export const AccountRoomsOutputSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  roomIds: Type.Array(Type.String()),
  revokedLogins: Type.Array(Type.String()),
});
export type AccountRoomsOutput = Static<typeof AccountRoomsOutputSchema>;

/** (ext) answer: the new account and its token, shown this once. */
export const AccountCreatedSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Type.String(),
  credits: Type.Number(),
  token: Type.String(),
  /** A resident's rooms. */
  roomIds: Type.Optional(Type.Array(Type.String())),
});
export type AccountCreated = Static<typeof AccountCreatedSchema>;
