// `hearth fleet --placements` as a real process against a platform on loopback (in-process coordinator with the
// local executor): what runs where, as a table and as JSON, for one device, for a site; refused to a customer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHearth, type CliRun } from '../helpers/cli.ts';
import { startPlatform, type Platform } from '../../src/coordinator/server.ts';
import { localExecutor } from '../../src/cli/local-fleet.ts';
import { HearthClient, type FleetPlacements } from '../../src/sdk/index.ts';

const OPERATOR_TOKEN = 'hth_test_operator_token_cli_placements_01';
let platform: Platform;
let dir: string;

type Run = CliRun;

/** Runs `hearth …` as a child process with the URL and token from the environment. */
function hearth(args: string[], token: string): Promise<Run> {
  return runHearth(args, { cwd: dir, env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'xdg'), HOME: dir, HEARTH_CONFIG_DIR: undefined, HEARTH_API_URL: platform.url, HEARTH_TOKEN: token, CI: '1' } });
}

async function ok(args: string[], token = OPERATOR_TOKEN): Promise<Run> {
  const r = await hearth(args, token);
  assert.equal(r.status, 0, `hearth ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-cli-placements-'));
  platform = await startPlatform({ port: 0, dataDir: join(dir, 'data'), env: { HEARTH_BOOTSTRAP_TOKEN: OPERATOR_TOKEN }, fleet: { executor: localExecutor, periodS: 0.2, demoRooms: 2 } });
});

after(async () => {
  await platform.close();
  rmSync(dir, { recursive: true, force: true });
});

test('hearth fleet --placements: what runs where (table, json, one device, one site); operators only', async () => {
  const operator = new HearthClient({ url: platform.url, token: OPERATOR_TOKEN });
  const customerToken = (await operator.platform.createAccount({ email: 'where@example.com', credits: 20 })).token;
  const customer = new HearthClient({ url: platform.url, token: customerToken });

  assert.match((await ok(['fleet', '--placements'])).stdout, /^nothing runs on the fleet's boards\n0 instance\(s\) in the overflow datacenter\n$/);

  const h = await customer.tasks.submit({ name: 'cli render', profile: 'docker-batch', instanceCount: 2, constants: [{ key: 'DOCKER_CMD', value: 'sleep 60' }] });
  try {
    let p: FleetPlacements | undefined;
    for (let k = 0; k < 300; k++) {
      const got = JSON.parse((await ok(['fleet', '--placements', '--format', 'json'])).stdout) as FleetPlacements;
      if (got.devices.flatMap((d) => d.instances).filter((i) => i.taskUuid === h.uuid && i.state === 'running').length === 2) {
        p = got;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(p, 'both instances placed');
    const placed = p.devices.flatMap((d) => d.instances.map((i) => ({ deviceId: d.deviceId, ...i })));
    assert.deepEqual(placed.map((i) => [i.taskName, i.accountEmail]), [['cli render', 'where@example.com'], ['cli render', 'where@example.com']]);

    const table = (await ok(['fleet', '--placements'])).stdout;
    const lines = table.trimEnd().split('\n');
    assert.match(lines[0], /^device\s+board\s+task\s+instance\s+state\s+progress\s+account$/);
    for (const i of placed) {
      assert.ok(
        lines.some((l) => l.includes(i.deviceId) && new RegExp(`\\s${i.boardIndex}\\s+cli render \\(${h.uuid}\\)\\s+${i.instanceId}\\s+running\\s+\\d+ %\\s+where@example\\.com$`).test(l)),
        `a line for instance ${i.instanceId} on ${i.deviceId}/${i.boardIndex}:\n${table}`,
      );
    }
    assert.equal(lines.at(-1), '0 instance(s) in the overflow datacenter');

    // One device: only what runs on it.
    const dev = placed[0].deviceId;
    const one = JSON.parse((await ok(['fleet', '--placements', '--device', dev, '--format', 'json'])).stdout) as FleetPlacements;
    assert.deepEqual(one.devices.map((d) => d.deviceId), [dev]);
    // One site: the demo site has every device; another site none.
    const site = JSON.parse((await ok(['fleet', '--placements', '--site', 'demo-site', '--format', 'json'])).stdout) as FleetPlacements;
    assert.equal(site.devices.flatMap((d) => d.instances).filter((i) => i.taskUuid === h.uuid).length, 2);
    assert.deepEqual((JSON.parse((await ok(['fleet', '--placements', '--site', 'nowhere', '--format', 'json'])).stdout) as FleetPlacements).devices, []);

    // --device alone is a usage error; a customer is refused.
    const lone = await hearth(['fleet', '--device', dev], OPERATOR_TOKEN);
    assert.notEqual(lone.status, 0);
    assert.match(lone.stderr, /--device: goes with --placements/);
    const denied = await hearth(['fleet', '--placements'], customerToken);
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /FORBIDDEN \(403\)/);
  } finally {
    await h.abort();
  }
});
