// Enrolment on the bus: a heater or boiler (its account, role `device`, scoped to its id) and Home Assistant (an
// account of its own, role `resident`, scoped to rooms); each gets a secret shown once, stored hashed like every API
// token. Enrolling a device again rotates its secret.
import { randomBytes } from 'node:crypto';
import { issueToken } from '../auth/tokens.ts';
import { SYSTEM } from '../store/types.ts';
import type { Account, Store } from '../store/types.ts';
import { DEVICE_ID_PATTERN, isDeviceId, isHaUsername, isRoomId } from '../../protocol/mqtt.ts';

/** The email that names a device's account: `device+{deviceId}@devices.hearth.local`. */
export function deviceEmail(deviceId: string): string {
  return `device+${deviceId}@devices.hearth.local`;
}

export interface EnrolResult {
  account: Account;
  /** The device's MQTT password (an API token, `hth_…`): this is the only time it is ever visible. */
  secret: string;
  /** True when the device was enrolled before: its previous secrets are revoked. */
  rotated: boolean;
}

/**
 * Enrols a device (creates its account) or rotates its secret (revokes every live token, issues a new one), in
 * one transaction. Connections already open with the old secret stay up until they reconnect; the broker's
 * `disconnect(deviceId)` ends them at once.
 * @param options.sealKey also store the secret sealed (needed if the device signs S3 requests with it)
 * @throws TypeError for a device id outside the bus alphabet; Error when the email belongs to another kind of account
 */
export async function enrolDevice(store: Store, deviceId: string, options: { sealKey?: Buffer } = {}): Promise<EnrolResult> {
  if (!isDeviceId(deviceId)) throw new TypeError(`invalid device id ${JSON.stringify(deviceId)}: expected ${DEVICE_ID_PATTERN.source}`);
  const email = deviceEmail(deviceId);
  return store.transaction(async (tx) => {
    let account = await tx.getAccountByEmail(email);
    let rotated = false;
    if (account) {
      if (account.role !== 'device' || account.scope.deviceId !== deviceId) {
        throw new Error(`the account ${email} exists but is not the device account of ${deviceId}`);
      }
      for (const t of await tx.listTokens(account.id)) await tx.revokeToken(SYSTEM, t.id);
      rotated = true;
    } else {
      account = await tx.createAccount({ email, role: 'device', scope: { deviceId } });
    }
    const { token } = await issueToken(tx, account.id, { name: rotated ? 'device secret (rotated)' : 'device secret', sealKey: options.sealKey });
    return { account, secret: token, rotated };
  });
}

/** The domain of Home Assistant accounts' emails: `{username}@integrations.hearth.local`. */
const HA_EMAIL_DOMAIN = 'integrations.hearth.local';

/** The email of a Home Assistant MQTT user's account. */
export function haEmail(username: string): string {
  return `${username}@${HA_EMAIL_DOMAIN}`;
}

/** True when the account is the Home Assistant account of this MQTT username. */
export function isHaAccount(account: Pick<Account, 'email' | 'role'>, username: string): boolean {
  return isHaUsername(username) && account.role === 'resident' && account.email === haEmail(username);
}

export interface HaEnrolResult {
  account: Account;
  /** Home Assistant's MQTT username (`ha+…`). */
  username: string;
  /** Its MQTT password (an API token, `hth_…`): this is the only time it is ever visible. */
  secret: string;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Issues a Home Assistant MQTT login for rooms: a new account (role `resident`, scoped to the rooms, no credits, so
 * through the API too it can only read those rooms and set their setpoints and schedules) and its secret. The rooms
 * are fixed at issue time; revoking the account's token (or issuing another login) is how an operator changes them.
 * @throws TypeError when a room id cannot appear in topics or the list is empty
 */
export async function enrolHomeAssistant(store: Store, roomIds: string[], options: { sealKey?: Buffer; issuedBy?: string } = {}): Promise<HaEnrolResult> {
  if (roomIds.length === 0) throw new TypeError('a Home Assistant login needs at least one room');
  for (const id of roomIds) if (!isRoomId(id)) throw new TypeError(`room id ${JSON.stringify(id)} cannot appear in topics`);
  const bytes = randomBytes(16);
  const username = `ha+${Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join('')}`;
  return store.transaction(async (tx) => {
    const scope = { roomIds: [...roomIds], ...(options.issuedBy !== undefined ? { issuedBy: options.issuedBy } : {}) };
    const account = await tx.createAccount({ email: haEmail(username), role: 'resident', scope });
    const { token } = await issueToken(tx, account.id, { name: 'home assistant mqtt', sealKey: options.sealKey });
    return { account, username, secret: token };
  });
}

/** A Home Assistant login as listed: its account, username, rooms, issuer and whether it still connects. */
export interface HaLoginRecord {
  account: Account;
  username: string;
  roomIds: string[];
  issuedBy: string | null;
  revoked: boolean;
}

/** The username of a Home Assistant account (from its email), or undefined for any other account. */
function haUsernameOf(account: Account): string | undefined {
  const suffix = `@${HA_EMAIL_DOMAIN}`;
  if (account.role !== 'resident' || !account.email.endsWith(suffix)) return undefined;
  const username = account.email.slice(0, -suffix.length);
  return isHaUsername(username) ? username : undefined;
}

async function loginRecord(store: Store, account: Account, username: string): Promise<HaLoginRecord> {
  const live = (await store.listTokens(account.id)).length > 0;
  const roomIds = Array.isArray(account.scope.roomIds) ? account.scope.roomIds : [];
  return { account, username, roomIds, issuedBy: typeof account.scope.issuedBy === 'string' ? account.scope.issuedBy : null, revoked: !live };
}

/** Every Home Assistant login (revoked ones too), oldest first; `issuedBy`: only those that account issued. */
export async function listHomeAssistantLogins(store: Store, filter: { issuedBy?: string } = {}): Promise<HaLoginRecord[]> {
  const out: HaLoginRecord[] = [];
  let pageToken: string | null = null;
  do {
    const page = await store.listAccounts({ role: 'resident', limit: 1000, pageToken });
    for (const account of page.items) {
      const username = haUsernameOf(account);
      if (username === undefined) continue;
      if (filter.issuedBy !== undefined && account.scope.issuedBy !== filter.issuedBy) continue;
      out.push(await loginRecord(store, account, username));
    }
    pageToken = page.nextToken;
  } while (pageToken !== null);
  return out.sort((a, b) => a.account.createdAt - b.account.createdAt || a.username.localeCompare(b.username));
}

/** The Home Assistant login of this username, revoked or not. */
export async function getHomeAssistantLogin(store: Store, username: string): Promise<HaLoginRecord | undefined> {
  if (!isHaUsername(username)) return undefined;
  const account = await store.getAccountByEmail(haEmail(username));
  return account && haUsernameOf(account) === username ? loginRecord(store, account, username) : undefined;
}

/**
 * Revokes a Home Assistant login: every token of its account, so its password no longer connects (the broker checks
 * it at each CONNECT; connections already open are ended by whoever tells the broker, see `disconnectLogin`).
 * @returns how many tokens were revoked (0: it was revoked already)
 */
export async function revokeHomeAssistant(store: Store, username: string): Promise<number> {
  const login = await getHomeAssistantLogin(store, username);
  if (!login) return 0;
  let n = 0;
  for (const t of await store.listTokens(login.account.id)) if (await store.revokeToken(SYSTEM, t.id)) n++;
  return n;
}
