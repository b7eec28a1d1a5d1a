// `hearth task …`: the compute customer's tasks over the SDK — create (optionally waiting with a progress bar),
// list, info, wait, stdout/stderr (whole, fresh or followed), abort, delete, retry, results, carbon facts and bill.
import type { Command } from 'commander';
import { InvalidParameterError } from '../../physics/errors.ts';
import type { TaskCreate, TaskOutput } from '../../sdk/index.ts';
import { createProgress } from '../progress.ts';
import { action, clientFromConfig, formatOf, printFields, printJson, printTable, progressEnabled, withFormat } from './config.ts';

const collect = (v: string, acc: string[]): string[] => [...acc, v];

interface CreateFlags {
  name: string;
  profile: string;
  instances?: string;
  range?: string;
  constant: string[];
  cmd?: string;
  resource: string[];
  result?: string;
  tag: string[];
  shortname?: string;
  job?: string;
  wait?: boolean;
  timeout?: string;
  format?: string;
}

/** Parses `KEY=VALUE` (the value may hold `=`); the flag is named when malformed. */
export function parseConstant(s: string): { key: string; value: string } {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new InvalidParameterError('--constant', `expected KEY=VALUE, got ${JSON.stringify(s)}`);
  return { key: s.slice(0, eq), value: s.slice(eq + 1) };
}

/** The creation body of `hearth task create`'s flags. */
export function taskBodyOf(f: CreateFlags): TaskCreate {
  if ((f.instances === undefined) === (f.range === undefined)) throw new InvalidParameterError('--instances', 'give exactly one of --instances N and --range RANGES (e.g. 0-9,20)');
  const body: TaskCreate = { name: f.name, profile: f.profile };
  if (f.instances !== undefined) {
    const n = Number(f.instances);
    if (!Number.isInteger(n) || n < 1) throw new InvalidParameterError('--instances', `must be an integer ≥ 1, got ${f.instances}`);
    body.instanceCount = n;
  } else body.advancedRanges = f.range;
  const constants = f.constant.map(parseConstant);
  if (f.cmd !== undefined) constants.push({ key: 'DOCKER_CMD', value: f.cmd });
  if (constants.length > 0) body.constants = constants;
  if (f.resource.length > 0) body.resourceBuckets = f.resource;
  if (f.result !== undefined) body.resultBucket = f.result;
  if (f.tag.length > 0) body.tags = f.tag;
  if (f.shortname !== undefined) body.shortname = f.shortname;
  if (f.job !== undefined) body.jobUuid = f.job;
  return body;
}

/** Seconds of a `--timeout`, or undefined. */
function timeoutMs(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!Number.isFinite(v) || v <= 0) throw new InvalidParameterError('--timeout', `must be a number of seconds > 0, got ${s}`);
  return v * 1000;
}

/** Waits for a task with a progress bar on a terminal; returns the final task. */
async function waitWithProgress(uuid: string, timeout: number | undefined): Promise<TaskOutput> {
  const client = clientFromConfig();
  const bar = createProgress(`task ${uuid.slice(0, 8)}`, progressEnabled());
  try {
    return await client.tasks.wait(uuid, {
      timeoutMs: timeout,
      onProgress: (t) => bar.update(t.progress / 100, `${t.state} ${t.runningInstanceCount} running, ${t.completedInstances.length}/${t.instanceCount} done`),
    });
  } finally {
    bar.stop();
  }
}

/** Prints a task for people. */
function printTask(t: TaskOutput): void {
  printFields([
    ['uuid', t.uuid],
    ['name', t.name],
    ['shortname', t.shortname],
    ['profile', t.profile],
    ['state', t.state],
    ['progress', `${Math.round(t.progress)} %`],
    ['instances', t.instanceCount],
    ['running', t.runningInstanceCount],
    ['succeeded', t.status.succeededRange],
    ['failed', t.status.failedRange],
    ['created', t.creationDate],
    ['ended', t.endDate],
    ['wall time', t.wallTime],
    ['execution time', t.executionTime],
    ['resources', t.resourceBuckets.join(', ')],
    ['result bucket', t.resultBucket],
    ['tags', t.tags.join(', ')],
    ['job', t.jobUuid],
  ]);
  for (const e of t.errors) process.stdout.write(`error: ${e.code}: ${e.message}\n`);
  if (t.status.runningInstancesInfo.perRunningInstanceInfo.length > 0) {
    process.stdout.write('\n');
    printTable(
      ['instance', 'phase', 'progress', 'cpu', 'GHz', 'attempt'],
      t.status.runningInstancesInfo.perRunningInstanceInfo.map((p) => [p.instanceId, p.phase, `${Math.round(p.progress)} %`, `${Math.round(p.cpuUsage)} %`, p.currentFrequencyGHz.toFixed(2), p.executionAttemptCount]),
    );
  }
}

/** Ends the command non-zero unless the task succeeded. */
function requireSuccess(t: TaskOutput): void {
  if (t.state === 'Success') return;
  const why = t.errors.map((e) => e.message).filter(Boolean).join('; ');
  throw new Error(`task ${t.uuid} ended in ${t.state}${why ? `: ${why}` : ''}`);
}

/** Registers `hearth task …`. */
export function registerTask(program: Command): void {
  const task = program.command('task').description('compute tasks of your account (needs "hearth config set")');

  withFormat(
    task
      .command('create')
      .description('create and submit a task')
      .requiredOption('--name <name>', 'task name')
      .option('--profile <profile>', 'profile', 'docker-batch')
      .option('--instances <n>', 'number of instances (ids 0…n-1)')
      .option('--range <ranges>', 'instance ids instead of --instances, e.g. 0-9,20')
      .option('--constant <KEY=VALUE>', 'a task constant (repeatable)', collect, [])
      .option('--cmd <command>', 'shortcut for --constant DOCKER_CMD=<command>')
      .option('--resource <bucket>', 'input bucket copied into each instance (repeatable)', collect, [])
      .option('--result <bucket>', 'bucket receiving the files each instance leaves')
      .option('--tag <tag>', 'a tag (repeatable)', collect, [])
      .option('--shortname <shortname>', 'unique short name')
      .option('--job <uuid>', 'job the task belongs to')
      .option('--wait', 'wait until the task ends (exit 1 unless it succeeds)')
      .option('--timeout <seconds>', 'with --wait: give up after this long'),
  ).action(
    action(async (f: CreateFlags) => {
      const format = formatOf(f);
      const body = taskBodyOf(f);
      const timeout = timeoutMs(f.timeout);
      const client = clientFromConfig();
      const uuid = await client.tasks.create(body);
      if (!f.wait) {
        if (format === 'json') printJson({ uuid });
        else process.stdout.write(`${uuid}\n`);
        return;
      }
      if (format === 'table') process.stderr.write(`submitted ${uuid}, waiting…\n`);
      const t = await waitWithProgress(uuid, timeout);
      if (format === 'json') printJson(t);
      else printTask(t);
      requireSuccess(t);
    }),
  );

  withFormat(task.command('list').description('list your tasks').option('--tag <tag>', 'only tasks carrying this tag (repeatable)', collect, [])).action(
    action(async (f: { tag: string[]; format?: string }) => {
      const format = formatOf(f);
      const list = await clientFromConfig().tasks.summaries({ tags: f.tag.length > 0 ? f.tag : undefined });
      if (format === 'json') return printJson(list);
      printTable(
        ['uuid', 'name', 'state', 'progress', 'instances', 'running', 'created'],
        list.map((t) => [t.uuid, t.name, t.state, `${Math.round(t.progress)} %`, t.instanceCount, t.runningInstanceCount, t.creationDate]),
      );
    }),
  );

  withFormat(task.command('info').description('show a task').argument('<uuid>', 'task uuid')).action(
    action(async (uuid: string, f: { format?: string }) => {
      const format = formatOf(f);
      const t = await clientFromConfig().tasks.get(uuid);
      if (format === 'json') printJson(t);
      else printTask(t);
    }),
  );

  withFormat(task.command('wait').description('wait until a task ends; exit 1 unless it succeeds').argument('<uuid>', 'task uuid').option('--timeout <seconds>', 'give up after this long')).action(
    action(async (uuid: string, f: { timeout?: string; format?: string }) => {
      const format = formatOf(f);
      const t = await waitWithProgress(uuid, timeoutMs(f.timeout));
      if (format === 'json') printJson(t);
      else process.stdout.write(`${t.uuid} ${t.state}\n`);
      requireSuccess(t);
    }),
  );

  for (const stream of ['stdout', 'stderr'] as const) {
    task
      .command(stream)
      .description(`print a task's ${stream} (lines prefixed "<instance>> " unless --instance)`)
      .argument('<uuid>', 'task uuid')
      .option('--instance <id>', 'only this instance (raw lines)')
      .option('--fresh', 'only what is new since the previous --fresh read with this token')
      .option('--follow', 'keep printing new output until the task ends')
      .action(
        action(async (uuid: string, f: { instance?: string; fresh?: boolean; follow?: boolean }) => {
          let instanceId: number | undefined;
          if (f.instance !== undefined) {
            instanceId = Number(f.instance);
            if (!Number.isInteger(instanceId) || instanceId < 0) throw new InvalidParameterError('--instance', `must be an instance id ≥ 0, got ${f.instance}`);
          }
          const client = clientFromConfig();
          if (f.follow) {
            for await (const chunk of client.tasks.streamOutput(uuid, stream, { instanceId })) process.stdout.write(chunk);
            return;
          }
          const text = f.fresh ? await client.tasks.fresh(uuid, stream, { instanceId }) : await client.tasks.output(uuid, stream, { instanceId });
          process.stdout.write(text);
        }),
      );
  }

  task.command('abort').description('abort a task (its running instances are killed)').argument('<uuid>', 'task uuid').action(
    action(async (uuid: string) => {
      await clientFromConfig().tasks.abort(uuid);
      process.stdout.write(`aborted ${uuid}\n`);
    }),
  );

  task.command('delete').description('delete a task (aborting it first if needed)').argument('<uuid>', 'task uuid').action(
    action(async (uuid: string) => {
      await clientFromConfig().tasks.delete(uuid);
      process.stdout.write(`deleted ${uuid}\n`);
    }),
  );

  task
    .command('retry')
    .description('run the failed instances of an ended task again')
    .argument('<uuid>', 'task uuid')
    .option('--recover', 'also the cancelled instances')
    .action(
      action(async (uuid: string, f: { recover?: boolean }) => {
        await clientFromConfig().tasks.retry(uuid, f.recover ? 'recover' : 'retry');
        process.stdout.write(`relaunched ${uuid}\n`);
      }),
    );

  withFormat(task.command('results').description("download a task's result bucket into a directory").argument('<uuid>', 'task uuid').argument('[dir]', 'destination directory', '.')).action(
    action(async (uuid: string, dir: string, f: { format?: string }) => {
      const format = formatOf(f);
      const report = await clientFromConfig().tasks.downloadResults(uuid, dir, { onFile: (p, n) => format === 'table' && process.stderr.write(`${p} (${n} B)\n`) });
      if (format === 'json') printJson(report);
      else process.stdout.write(`${report.copied.length} downloaded, ${report.skipped.length} unchanged, ${report.bytes} bytes\n`);
    }),
  );

  withFormat(
    task
      .command('carbon-facts')
      .description("a task's energy, heat reused and carbon footprint against a reference datacenter")
      .argument('<uuid>', 'task uuid')
      .option('--datacenter <name>', 'reference datacenter to compare with'),
  ).action(
    action(async (uuid: string, f: { datacenter?: string; format?: string }) => {
      const format = formatOf(f);
      const c = await clientFromConfig().tasks.carbonFacts(uuid, { comparisonDatacenter: f.datacenter });
      if (format === 'json') return printJson(c);
      const wh = (x: number): string => `${x.toFixed(2)} Wh`;
      const g = (x: number): string => `${x.toFixed(2)} gCO2e`;
      printFields([
        ['energy consumed', wh(c.total_consumed_energy_Wh)],
        ['IT energy', wh(c.total_energy_it_Wh)],
        ['heat reused', wh(c.total_reused_energy_Wh)],
        ['footprint (hearth)', g(c.qarnot_carbon_footprint)],
        [`footprint (${c.equivalent_datacenter_name})`, g(c.equivalent_DC_carbon_footprint)],
        ['saved (compute)', g(c.saved_carbon_footprint_compute)],
        ['saved (heat)', g(c.saved_carbon_footprint_heat)],
        ['saved (total)', `${g(c.saved_carbon_footprint_compute_heat)} (${c.saved_carbon_footprint_percent.toFixed(1)} %)`],
        ['PUE / ERE / ERF / WUE', `${c.PUE.toFixed(2)} / ${c.ERE.toFixed(2)} / ${c.ERF.toFixed(2)} / ${c.WUE.toFixed(2)}`],
      ]);
    }),
  );

  withFormat(task.command('bill').description('what a task was billed so far (also after it was deleted)').argument('<uuid>', 'task uuid')).action(
    action(async (uuid: string, f: { format?: string }) => {
      const format = formatOf(f);
      const b = await clientFromConfig().tasks.bill(uuid);
      if (format === 'json') return printJson(b);
      printFields([
        ['task', b.taskUuid],
        ['billed', `${b.billed.eur.toFixed(6)} €`],
        ['billed core-hours', `${b.billed.coreHours.toFixed(4)} (wall time × cores × clock ratio)`],
        ...b.billed.byType.map((t): [string, string] => [`  ${t.schedulingType}`, `${t.eur.toFixed(6)} € for ${t.coreHours.toFixed(4)} core-h (${t.charges} charges)`]),
      ]);
    }),
  );
}
