// The coordinator's side of the device bus when the broker is the embedded one (broker.ts), in the same process: no
// MQTT connection, no second serialisation and parse. The broker hands over every message it accepted on a device
// channel — authenticated, authorised and validated exactly as for any subscriber, the decoded value the broker
// already checked — and the link files them for drain() (link-inbox.ts). Commands go back through the broker with the
// coordinator's authorisation, at QoS 1, routed to the device's session like any publish. An external broker needs
// mqtt-link.ts instead; the live loop sees the same DeviceLink either way.
import type { DeviceCommand } from '../../protocol/device.ts';
import { deviceTopic, encodePayload } from '../../protocol/mqtt.ts';
import type { DeviceBroker } from './broker.ts';
import { InboxLink, LinkInbox } from './link-inbox.ts';

export interface LocalLinkOptions {
  /** Where dropped messages and send failures are reported; default console.warn. */
  log?: (line: string) => void;
  /** Most reports of each kind held between two drains; beyond it new ones are dropped and counted. Default 100 000. */
  maxQueued?: number;
}

/** A DeviceLink inside the embedded broker's process. Create it with {@link LocalLink.attach}. */
export class LocalLink extends InboxLink {
  readonly #broker: DeviceBroker;
  #detach: (() => Promise<void>) | undefined;
  #closing: Promise<void> | undefined;

  private constructor(broker: DeviceBroker, inbox: LinkInbox) {
    super(inbox);
    this.#broker = broker;
  }

  /** Attaches to the broker; resolves once subscribed (with the devices' retained states already filed). */
  static async attach(broker: DeviceBroker, options: LocalLinkOptions = {}): Promise<LocalLink> {
    const log = options.log ?? ((line: string) => console.warn(line));
    const inbox = new LinkInbox('local link', log, options.maxQueued ?? 100_000);
    const link = new LocalLink(broker, inbox);
    link.#detach = await broker.tap({
      message: (message, topic) => inbox.accept(message, topic),
      cleared: (deviceId) => inbox.setState(deviceId, undefined),
    });
    return link;
  }


  /** True until closed (the broker is in this process). */
  get connected(): boolean {
    return this.#closing === undefined;
  }

  /**
   * Publishes a command for a device at QoS 1 through the broker (queued in its session while it is offline).
   * @throws TypeError for an invalid device id or command (a bug on the coordinator's side)
   */
  send(deviceId: string, command: DeviceCommand): void {
    const topic = deviceTopic(deviceId, 'commands');
    const payload = encodePayload('commands', command);
    if (this.#closing) {
      this.inbox.sendError(`${command.kind} command for ${deviceId} not delivered: the link is closed`);
      return;
    }
    this.#broker.publishAsCoordinator(topic, payload, (e) => {
      if (e) this.inbox.sendError(`${command.kind} command for ${deviceId} not delivered: ${e.message}`);
    });
  }





  /** Stops receiving. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= this.#detach?.() ?? Promise.resolve());
  }
}
