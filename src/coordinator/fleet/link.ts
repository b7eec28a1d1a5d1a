// How the live loop talks to devices, whatever carries the messages (the in-process local executor today, the
// MQTT bus with real agents): commands out, telemetry and instance reports in, drained once per round.
import type { DeviceCommand, DeviceReport, InstanceReport } from '../../protocol/device.ts';

/** The pseudo-device that stands for the overflow datacenter (work sent there heats nobody). */
export const OVERFLOW_DEVICE = 'overflow';

/** What arrived from the devices since the previous drain, in arrival order. */
export interface Inbox {
  reports: DeviceReport[];
  instances: InstanceReport[];
}

/** A transport between the coordinator and its devices. */
export interface DeviceLink {
  /** Queues a command for a device (delivered at least once, in order per device). */
  send(deviceId: string, command: DeviceCommand): void;
  /** Everything received since the previous call. */
  drain(): Inbox;
}
