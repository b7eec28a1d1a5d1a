// `hearth job …`: jobs (groups of tasks, optionally with dependencies) over the SDK — create, list, info,
// terminate, delete.
import type { Command } from 'commander';
import { InvalidParameterError } from '../../physics/errors.ts';
import type { JobCreate, JobOutput } from '../../sdk/index.ts';
import { action, clientFromConfig, formatOf, printFields, printJson, printTable, withFormat } from './config.ts';

function printJob(j: JobOutput): void {
  printFields([
    ['uuid', j.uuid],
    ['name', j.name],
    ['shortname', j.shortname],
    ['state', j.state],
    ['dependencies', j.useDependencies ? 'yes' : 'no'],
    ['max wall time', j.maxWallTime],
    ['tasks', j.taskCount],
    ['created', j.creationDate],
    ['ended', j.endDate],
  ]);
}

/** Registers `hearth job …`. */
export function registerJob(program: Command): void {
  const job = program.command('job').description('jobs: groups of tasks (needs "hearth config set")');

  withFormat(
    job
      .command('create')
      .description('create a job')
      .requiredOption('--name <name>', 'job name')
      .option('--shortname <shortname>', 'unique short name')
      .option('--use-dependencies', 'tasks of the job may depend on each other')
      .option('--max-wall-time <span>', 'longest life of the job: seconds or d.hh:mm:ss'),
  ).action(
    action(async (f: { name: string; shortname?: string; useDependencies?: boolean; maxWallTime?: string; format?: string }) => {
      const format = formatOf(f);
      const body: JobCreate = { name: f.name };
      if (f.shortname !== undefined) body.shortname = f.shortname;
      if (f.useDependencies) body.useDependencies = true;
      if (f.maxWallTime !== undefined) {
        if (f.maxWallTime.trim() === '') throw new InvalidParameterError('--max-wall-time', 'must not be empty');
        body.maxWallTime = /^\d+(\.\d+)?$/.test(f.maxWallTime) ? Number(f.maxWallTime) : f.maxWallTime;
      }
      const uuid = await clientFromConfig().jobs.create(body);
      if (format === 'json') printJson({ uuid });
      else process.stdout.write(`${uuid}\n`);
    }),
  );

  withFormat(job.command('list').description('list your jobs')).action(
    action(async (f: { format?: string }) => {
      const format = formatOf(f);
      const list = await clientFromConfig().jobs.list();
      if (format === 'json') return printJson(list);
      printTable(['uuid', 'name', 'state', 'tasks', 'created'], list.map((j) => [j.uuid, j.name, j.state, j.taskCount, j.creationDate]));
    }),
  );

  withFormat(job.command('info').description('show a job and its tasks').argument('<uuid>', 'job uuid')).action(
    action(async (uuid: string, f: { format?: string }) => {
      const format = formatOf(f);
      const client = clientFromConfig();
      const [j, tasks] = await Promise.all([client.jobs.get(uuid), client.jobs.tasks(uuid)]);
      if (format === 'json') return printJson({ ...j, tasks });
      printJob(j);
      if (tasks.length > 0) {
        process.stdout.write('\n');
        printTable(['task', 'name', 'state', 'progress'], tasks.map((t) => [t.uuid, t.name, t.state, `${Math.round(t.progress)} %`]));
      }
    }),
  );

  job.command('terminate').description('terminate a job (its live tasks are aborted)').argument('<uuid>', 'job uuid').action(
    action(async (uuid: string) => {
      await clientFromConfig().jobs.terminate(uuid);
      process.stdout.write(`terminated ${uuid}\n`);
    }),
  );

  job
    .command('delete')
    .description('delete a job')
    .argument('<uuid>', 'job uuid')
    .option('--force', 'also abort its live tasks')
    .action(
      action(async (uuid: string, f: { force?: boolean }) => {
        await clientFromConfig().jobs.delete(uuid, { force: f.force });
        process.stdout.write(`deleted ${uuid}\n`);
      }),
    );
}
