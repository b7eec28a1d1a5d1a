// `hearth agent`: runs one heater's (or boiler's) agent — connects to the coordinator's MQTT bus with the device's
// id and secret, runs what it is assigned in the sandbox, follows its power, keeps its room safe and warm on its
// own, and buffers reports on disk while the coordinator is unreachable. With --room-twin the room is simulated.
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { InvalidParameterError } from '../../physics/errors.ts';
// The agent is loaded when the command runs, not when the CLI starts.
import type { RoomTwin } from '../../agent/room-twin.ts';
import { DEVICE_ID_PATTERN } from '../../protocol/mqtt.ts';

interface AgentFlags {
  coordinator: string;
  mqtt: string;
  deviceId: string;
  secret?: string;
  boards: string;
  cores: string;
  memory?: string;
  containers?: boolean;
  work: string;
  roomTwin?: string;
  climate: string;
  outdoor?: string;
  speed: string;
  setpoint: string;
  safety: string;
  tick: string;
  exitWithParent?: boolean;
}

/** How long a stop may take before the process exits anyway, ms. */
const STOP_GRACE_MS = 8000;

/** Registers `hearth agent`. */
export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run a heater agent: MQTT to the coordinator, tasks in the sandbox, local thermostat and safety')
    .requiredOption('--coordinator <url>', 'the coordinator base URL (inputs and results), e.g. http://127.0.0.1:8080')
    .option('--mqtt <url>', 'the device bus', 'mqtt://127.0.0.1:1883')
    .requiredOption('--device-id <id>', 'this heater or boiler id (as enrolled)')
    .option('--secret <secret>', 'the device secret (or env HEARTH_DEVICE_SECRET)')
    .option('--boards <n>', 'boards in this heater', '3')
    .option('--cores <n>', 'cores per board', '4')
    .option('--memory <MB>', 'memory of one board, MiB: what one instance may use (default: this machine\'s memory shared by the boards)')
    .option('--containers', 'run docker-batch images in a container when this node has a working runtime (podman or docker; HEARTH_CONTAINER_RUNTIME, HEARTH_CONTAINER_RUN_ARGS)')
    .option('--work <dir>', 'working directory (runs, input cache, outbox)', './agent-data')
    .option('--room-twin <archetype>', 'simulate the room: dwelling-<era>[:m²], office-<era>[:m²] or tank[-litres]')
    .option('--climate <zone>', 'room twin: the synthetic weather of this French climate zone (H1a … H3), sun included', 'H2c')
    .option('--outdoor <C>', 'room twin: a constant outdoor temperature instead of a climate, °C (no sun)')
    .option('--speed <x>', 'room twin: simulated seconds per wall second (demos only)', '1')
    .option('--setpoint <C>', 'comfort setpoint until the coordinator sends one, °C', '19')
    .option('--safety <C>', 'pause everything above this air temperature, °C', '28')
    .option('--tick <s>', 'seconds between telemetry reports', '5')
    .option('--exit-with-parent', 'stop when the process that started this agent exits (agents spawned by hearth start)')
    .action(async (f: AgentFlags) => {
      const { Agent } = await import('../../agent/agent.ts');
      const { HttpFiles } = await import('../../agent/http-files.ts');
      const { MqttTransport } = await import('../../agent/mqtt-transport.ts');
      const { RoomTwin, climateZoneFrom } = await import('../../agent/room-twin.ts');
      if (!DEVICE_ID_PATTERN.test(f.deviceId)) throw new InvalidParameterError('--device-id', 'use letters, digits and . _ : - (1–128)');
      const secret = f.secret ?? process.env.HEARTH_DEVICE_SECRET;
      if (!secret) throw new InvalidParameterError('--secret', 'give the device secret (--secret or HEARTH_DEVICE_SECRET)');
      const num = (flag: string, v: string, min: number, max: number): number => {
        const x = Number(v);
        if (!Number.isFinite(x) || x < min || x > max) throw new InvalidParameterError(flag, `must be a number in ${min}..${max}, got ${v}`);
        return x;
      };
      const boards = num('--boards', f.boards, 1, 32);
      const cores = num('--cores', f.cores, 1, 1024);
      const memoryPerBoardMB = f.memory === undefined ? undefined : num('--memory', f.memory, 16, 16 * 1024 * 1024);
      const speed = num('--speed', f.speed, 0.001, 10_000);
      const setpointC = num('--setpoint', f.setpoint, 5, 90);
      const safetyC = num('--safety', f.safety, setpointC, 90);
      const tickS = num('--tick', f.tick, 0.05, 3600);
      const outdoorC = f.outdoor === undefined ? undefined : num('--outdoor', f.outdoor, -60, 60);
      let zone;
      try {
        zone = climateZoneFrom(f.climate);
      } catch (e) {
        throw new InvalidParameterError('--climate', (e as Error).message);
      }
      let room: RoomTwin | undefined;
      if (f.roomTwin) {
        try {
          // The room's clock starts at today's date and hour, so the demo shows this season's weather.
          room = new RoomTwin({ spec: f.roomTwin, speed, climate: outdoorC === undefined ? { zone, startMs: Date.now() } : undefined });
        } catch (e) {
          throw new InvalidParameterError('--room-twin', (e as Error).message);
        }
      }
      const twin = room;
      const log = (line: string): void => void process.stderr.write(`${new Date().toISOString()} ${f.deviceId} ${line}\n`);
      const transport = await MqttTransport.connect({ url: f.mqtt, deviceId: f.deviceId, secret, log });
      const agent = new Agent({
        deviceId: f.deviceId,
        boards,
        coresPerBoard: cores,
        memoryPerBoardMB,
        containers: f.containers === true,
        workRoot: resolve(join(f.work, f.deviceId)),
        files: new HttpFiles({ baseUrl: f.coordinator, token: secret }),
        transport,
        clock: Date.now,
        room,
        outdoorC: twin?.outdoorC != null ? () => twin.outdoorC ?? 5 : outdoorC !== undefined ? () => outdoorC : undefined,
        limits: { setpointC, safetyC },
        onWarning: log,
      });
      process.stdout.write(`hearth agent ${f.deviceId}: connected to ${f.mqtt}${room ? `, room twin ${f.roomTwin} at ×${speed}, ${outdoorC === undefined ? `climate ${zone}` : `outside ${outdoorC} °C`}` : ''}\n`);
      const timer = setInterval(() => agent.tick(Date.now()), tickS * 1000);
      const parent = process.ppid;
      await new Promise<void>((done) => {
        // Spawned by `hearth start`: a coordinator killed with -9 must not leave its demo agents behind.
        const watch = f.exitWithParent ? setInterval(() => process.ppid !== parent && stop(), 1000) : undefined;
        const stop = (): void => {
          if (watch) clearInterval(watch);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          clearInterval(timer);
          // A clean stop flushes what it can; one that hangs (no broker to say goodbye to) is cut short.
          setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
          void agent
            .close()
            .then(() => transport.close())
            .finally(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
