// The live platform with a real agent: the coordinator with its embedded MQTT broker and the live loop, a heater
// enrolled by an operator, an agent connected over MQTT with its room twin, fetching inputs and sending results
// over HTTP. A task submitted over the compute API runs on the agent and reaches Success with its stdout, and the
// heater's telemetry reaches the store through the bus.
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
