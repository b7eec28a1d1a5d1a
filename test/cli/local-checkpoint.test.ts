// Checkpoints with the local executor (`hearth start --local`): the scenario of test/agent/migrate.test.ts, with the
// demo heaters simulated in the coordinator's process instead of agents over MQTT. A task whose program counts in a
// file of its working directory starts on one heater; a move ordered through the loop (the same path as the
// policy's `migrate`) stops it with SIGTERM, the local executor saves its working directory where the device routes
// keep agents' checkpoints, and the other heater resumes from the count it had reached. Real processes, real store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform } from '../../src/coordinator/server.ts';
import { SYSTEM } from '../../src/coordinator/store/types.ts';
import { localExecutor } from '../../src/cli/local-fleet.ts';
import { checkpointFilePath, defaultCheckpointDir } from '../../src/coordinator/api/device-files.ts';
import { until } from '../helpers/until.ts';
import { COUNTER } from '../helpers/counter.ts';

const OPERATOR = 'hth_local_checkpoint_test_operator_0123456';

test('local executor: a checkpointable instance moved from heater A resumes on heater B from the count it had reached', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-local-ckpt-'));
  const warnings: string[] = [];
  const platform = await startPlatform({
    port: 0,
    dataDir: dir,
    env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR },
    fleet: { executor: localExecutor, periodS: 0.3, demoRooms: 2, policy: 'first-fit', checkpointGraceS: 4, checkpointTimeoutS: 300, hooks: { onWarning: (m) => warnings.push(m) } },
  });
  const api = async (method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> => {
    const res = await fetch(platform.url + path, { method, headers: { authorization: token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined, text };
  };
  try {
    const customer = (await api('POST', '/hearth/v1/accounts', OPERATOR, { email: 'local-mover@example.com', credits: 20 })).json as { token: string };
    const submittedMs = Date.now();
    const created = await api('POST', '/tasks', customer.token, {
      name: 'counter',
      profile: 'docker-batch',
      instanceCount: 1,
      checkpoint: 'snapshot',
      constants: [{ key: 'DOCKER_CMD', value: COUNTER }],
      resultBucket: 'local-mover-results',
    });
    assert.equal(created.status, 201, created.text);
    const uuid = (created.json as { uuid: string }).uuid;
    await until(async () => (/count 8\b/.test((await api('GET', `/tasks/${uuid}/stdout`, customer.token)).text) ? true : undefined), 'the count to reach 8 on heater A', 30_000);
    const a = (await platform.store.getInstance(SYSTEM, uuid, 0))?.heaterId;
    assert.ok(a, 'the instance runs on a heater');
    const b = platform.fleet!.loop.snapshot().find((d) => d.kind === 'heater' && d.online && d.id !== a)?.id;
    assert.ok(b, 'another heater is online');
    platform.fleet!.loop.orderMove({ taskUuid: uuid, instanceId: 0, deviceId: b, board: 0 });

    const final = await until(async () => {
      const t = (await api('GET', `/tasks/${uuid}`, customer.token)).json as { state: string; errors: unknown[] };
      return ['Success', 'Failure', 'Cancelled'].includes(t.state) ? t : undefined;
    }, 'the task to finish', 40_000);
    const stdout = (await api('GET', `/tasks/${uuid}/stdout`, customer.token)).text;
    assert.equal(final.state, 'Success', `${JSON.stringify(final.errors)}\n${stdout}\nwarnings:\n${warnings.join('\n')}`);
    const saved = /saved (\d+)/.exec(stdout);
    assert.ok(saved, `A saved its count on SIGTERM:\n${stdout}`);
    assert.ok(Number(saved[1]) >= 8);
    const resumed = [...stdout.matchAll(/resume from (\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(resumed, [0, Number(saved[1])], `B resumed from the saved count, not from zero:\n${stdout}\nwarnings:\n${warnings.join('\n')}`);
    assert.equal([...stdout.matchAll(/count 3\n/g)].length, 1, 'no step was counted twice from zero');
    assert.match(stdout, /count 40/);

    const inst = await platform.store.getInstance(SYSTEM, uuid, 0);
    assert.equal(inst?.heaterId, b);
    assert.equal(inst?.attempt, 2);
    const info = inst?.info as Record<string, unknown>;
    assert.equal(info.checkpointRestoredFrom, 1, JSON.stringify(info));
    assert.ok(typeof info.checkpointFiles === 'number' && info.checkpointFiles >= 1, JSON.stringify(info));
    // The first attempt's `checkpointed` report reached the loop, which marked the checkpoint arrived (sequence
    // 1e9 + 7e8 on attempt 1, loop.ts's CHECKPOINT_READY_SEQ): no wait for the checkpoint timeout.
    const marks = await platform.store.listInstanceEvents(SYSTEM, uuid, 0, { minSequence: 1e9 });
    assert.ok(marks.some((m) => m.attempt === 1 && m.sequence === 1e9 + 7e8), JSON.stringify(marks));
    const attempts = await platform.store.listAttempts(SYSTEM, uuid, 0);
    assert.equal(attempts.length, 2);
    // Accounting: both attempts' wall time together is no more than the task's life (no overlap counted twice).
    const wall = attempts.reduce((s, x) => s + x.wallTimeSec, 0);
    assert.ok(wall > 0 && wall <= (Date.now() - submittedMs) / 1000 + 1, `wall time ${wall} s`);
    // The archive was kept where the device routes keep agents' checkpoints (swept later, once the task has ended).
    const ckptDir = defaultCheckpointDir(join(dir, 'blobs'));
    assert.equal(ckptDir, join(dir, 'checkpoints'));
    assert.ok(existsSync(checkpointFilePath(ckptDir, uuid, 0, 1)), readdirSync(ckptDir).join(', '));
    assert.ok(!warnings.some((w) => /checkpoint .* lost/.test(w)), warnings.join('\n'));
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
