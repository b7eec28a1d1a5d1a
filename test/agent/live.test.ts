// The live platform with a real agent: the coordinator with its embedded MQTT broker and the live loop, a heater
// enrolled by an operator, an agent connected over MQTT with its room twin, fetching inputs and sending results
// over HTTP. A task submitted over the compute API runs on the agent and reaches Success with its stdout, and the
// heater's telemetry reaches the store through the bus. Work no heater can host goes to the overflow datacenter, whose
// executor is an agent too (device `overflow`, no room): it runs there and comes back the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '../../src/coordinator/server.ts';
import { enrolDevice } from '../../src/coordinator/bus/enrol.ts';
import { Agent } from '../../src/agent/agent.ts';
import { MqttTransport } from '../../src/agent/mqtt-transport.ts';
import { HttpFiles } from '../../src/agent/http-files.ts';
import { RoomTwin } from '../../src/agent/room-twin.ts';
import { until } from '../helpers/until.ts';
import { SYSTEM } from '../../src/coordinator/store/types.ts';
import { OVERFLOW_DEVICE } from '../../src/coordinator/fleet/link.ts';

const OPERATOR = 'hth_live_test_operator_token_0123456789';

test('live: a task runs on a real agent over MQTT and reaches Success; stdout and results come back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-live-'));
  const platform = await startPlatform({ port: 0, dataDir: dir, env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR }, fleet: { bus: { port: 0 }, periodS: 0.3, demoRooms: 1 } });
  const agents: Array<{ agent: Agent; transport: MqttTransport; timer: NodeJS.Timeout }> = [];
  try {
    const broker = platform.fleet!.broker!;
    const { secret } = await enrolDevice(platform.store, 'demo-heater-1');
    const transport = await MqttTransport.connect({ url: broker.url, deviceId: 'demo-heater-1', secret, log: () => undefined });
    const agent = new Agent({
      deviceId: 'demo-heater-1',
      boards: 3,
      coresPerBoard: 4,
      workRoot: join(dir, 'agent-1'),
      files: new HttpFiles({ baseUrl: platform.url, token: secret }),
      transport,
      clock: Date.now,
      room: new RoomTwin({ spec: 'dwelling-1974-1982', heaterMaxW: 495, initialC: 17 }),
      limits: { setpointC: 20, safetyC: 28 },
    });
    const timer = setInterval(() => agent.tick(Date.now()), 200);
    agents.push({ agent, transport, timer });
    // The overflow datacenter's executor, as `hearth start` runs it: no room twin, boards of 8 cores.
    const dc = await enrolDevice(platform.store, OVERFLOW_DEVICE);
    const dcTransport = await MqttTransport.connect({ url: broker.url, deviceId: OVERFLOW_DEVICE, secret: dc.secret, log: () => undefined });
    const dcAgent = new Agent({
      deviceId: OVERFLOW_DEVICE,
      boards: 2,
      coresPerBoard: 8,
      workRoot: join(dir, 'overflow'),
      files: new HttpFiles({ baseUrl: platform.url, token: dc.secret }),
      transport: dcTransport,
      clock: Date.now,
      limits: { setpointC: 20, safetyC: 28 },
    });
    agents.push({ agent: dcAgent, transport: dcTransport, timer: setInterval(() => dcAgent.tick(Date.now()), 200) });

    const api = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> => {
      const res = await fetch(platform.url + path, { method, headers: { authorization: token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined, text };
    };
    const customer = (await api('POST', '/hearth/v1/accounts', OPERATOR, { email: 'lab@example.com', credits: 20 })).json as { token: string };
    const created = await api('POST', '/tasks', customer.token, {
      name: 'on a real agent',
      profile: 'docker-batch',
      instanceCount: 2,
      constants: [{ key: 'DOCKER_CMD', value: 'echo "agent says ${INSTANCE_ID}"; echo ${INSTANCE_ID} > out-${INSTANCE_ID}.txt' }],
      resultBucket: 'live-results',
    });
    assert.equal(created.status, 201, created.text);
    const uuid = (created.json as { uuid: string }).uuid;
    const final = await until(async () => {
      const t = (await api('GET', `/tasks/${uuid}`, customer.token)).json as { state: string; errors: unknown[] };
      return ['Success', 'Failure', 'Cancelled'].includes(t.state) ? t : undefined;
    }, 'the task to finish on the agent');
    assert.equal(final.state, 'Success', JSON.stringify(final.errors));
    const stdout = (await api('GET', `/tasks/${uuid}/stdout`, customer.token)).text;
    assert.match(stdout, /0> agent says 0/);
    assert.match(stdout, /1> agent says 1/);
    const inst = (await api('GET', `/tasks/${uuid}`, customer.token)).json as { completedInstances: Array<{ results: unknown[] }> };
    assert.equal(inst.completedInstances.length, 2);
    // The heater's telemetry reached the store through the bus.
    const tele = await api('GET', '/hearth/v1/heaters/demo-heater-1/telemetry', OPERATOR);
    assert.equal(tele.status, 200, tele.text);
    assert.match(tele.text, /meterWh/);

    // 64 cores: no heater has boards that big, so the scheduler sends it to the overflow datacenter, whose executor
    // fetches its inputs, runs it and sends its stdout and results back like a heater.
    const big = await api('POST', '/tasks', customer.token, {
      name: 'too big for a heater',
      profile: 'docker-batch',
      instanceCount: 1,
      hardwareConstraints: [{ discriminator: 'MinimumCoreHardwareConstraint', coreCount: 64 }],
      constants: [{ key: 'DOCKER_CMD', value: 'echo "ran in the datacenter"; echo done > big.txt' }],
      resultBucket: 'live-results',
    });
    assert.equal(big.status, 201, big.text);
    const bigUuid = (big.json as { uuid: string }).uuid;
    const seen = new Set<string>();
    const bigFinal = await until(async () => {
      const row = await platform.store.getInstance(SYSTEM, bigUuid, 0);
      if (row) seen.add(`${row.state}@${row.heaterId ?? '-'}`);
      const t = (await api('GET', `/tasks/${bigUuid}`, customer.token)).json as { state: string; errors: unknown[] };
      return ['Success', 'Failure', 'Cancelled'].includes(t.state) ? t : undefined;
    }, 'the overflowed task to finish');
    assert.equal(bigFinal.state, 'Success', JSON.stringify(bigFinal.errors));
    assert.ok(seen.has(`overflow@${OVERFLOW_DEVICE}`), `held by the overflow executor while it ran: ${[...seen].join(', ')}`);
    assert.ok(![...seen].some((s) => s.startsWith('running')), `never shown as running on a heater: ${[...seen].join(', ')}`);
    assert.equal((await platform.store.getInstance(SYSTEM, bigUuid, 0))?.heaterId, OVERFLOW_DEVICE);
    assert.match((await api('GET', `/tasks/${bigUuid}/stdout`, customer.token)).text, /ran in the datacenter/);
    const bigTask = (await api('GET', `/tasks/${bigUuid}`, customer.token)).json as { completedInstances: Array<{ results: unknown[] }> };
    assert.equal(bigTask.completedInstances[0].results.length, 1, JSON.stringify(bigTask.completedInstances));
  } finally {
    for (const a of agents) {
      clearInterval(a.timer);
      await a.agent.close();
      await a.transport.close();
    }
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
