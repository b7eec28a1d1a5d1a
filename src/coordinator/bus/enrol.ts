// Enrolment of a heater or boiler on the device bus: its account (role `device`, scoped to its id) and a secret
// shown once, stored hashed like every API token. Enrolling again rotates the secret.
import { issueToken } from '../auth/tokens.ts';
import { SYSTEM } from '../store/types.ts';
import type { Account, Store } from '../store/types.ts';
import { DEVICE_ID_PATTERN, isDeviceId } from '../../protocol/mqtt.ts';

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
