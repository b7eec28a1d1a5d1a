// mqtt.js client helpers shared by the broker's tests (device bus, Home Assistant logins).
import type { MqttClient } from 'mqtt';

/** The QoS the broker granted each filter (0x80: refused); mqtt.js rejects when any is refused, this returns them. */
export async function grants(client: MqttClient, filters: Record<string, { qos: 0 | 1 | 2 }>): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters)).map((g) => g.qos);
  } catch (e) {
    const granted = (e as { packet?: { granted?: number[] } }).packet?.granted;
    if (granted) return granted;
    throw e;
  }
}

/** Resolves when the client's connection closes (at once when it is not connected). */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (client.disconnected || !client.connected) return resolve();
    client.once('close', () => resolve());
  });
}
