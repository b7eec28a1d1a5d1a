// How the live loop talks to devices, whatever carries the messages (the in-process local executor today, the
// MQTT bus with real agents): commands out, telemetry and instance reports in, drained once per round.
import type { DeviceCommand, DeviceReport, InstanceReport } from '../../protocol/device.ts';
import type { Store } from '../store/types.ts';

/** The pseudo-device that stands for the overflow datacenter (work sent there heats nobody). */
export const OVERFLOW_DEVICE = 'overflow';

/** What arrived from the devices since the previous drain, in arrival order. */
export interface Inbox {
  reports: DeviceReport[];
  instances: InstanceReport[];
  /** Devices that said they went offline (an MQTT last will), in arrival order. */
  offline?: string[];
}

/** A transport between the coordinator and its devices. */
export interface DeviceLink {
  /** Queues a command for a device (delivered at least once, in order per device). */
  send(deviceId: string, command: DeviceCommand): void;
  /** Everything received since the previous call. */
  drain(): Inbox;
}

/**
 * A device link that also simulates its devices in this process (the local executor): it follows the registry,
 * advances its rooms to a time, and kills its processes on close.
 */
export interface LocalExecutor extends DeviceLink {
  syncDevices(nowMs: number): Promise<void>;
  step(nowMs: number): void;
  close(): Promise<void>;
  /** Its devices now (tests, diagnostics). */
  list(): Array<{ id: string; kind: string; airC: number | null; powerW: number; running: number }>;
}

/** Builds the local executor for a platform (injected by whoever composes the platform: the CLI, tests). */
export type LocalExecutorFactory = (ctx: { store: Store; dataDir: string; stepS: number; warn: (m: string) => void }) => LocalExecutor;
