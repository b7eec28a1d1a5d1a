// `hearth bucket …`: the account's storage buckets over the SDK's S3 client (its own SigV4 signer) — create,
// list (buckets, or a bucket's objects), put, get, sync-to, sync-from, delete.
import type { Command } from 'commander';
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidParameterError } from '../../physics/errors.ts';
import { createProgress, type Progress } from '../progress.ts';
import { action, clientFromConfig, formatOf, printJson, printTable, progressEnabled, withFormat } from './config.ts';

/** A byte count for people. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let k = 0;
  while (v >= 1024 && k < units.length - 1) {
    v /= 1024;
    k++;
  }
  return `${v.toFixed(1)} ${units[k]}`;
}

/** A transfer progress bar (a terminal only); `done`/`total` in bytes. */
function transferBar(title: string): { bar: Progress; onProgress: (done: number, total: number | undefined) => void } {
  const bar = createProgress(title, progressEnabled());
  return { bar, onProgress: (done, total) => bar.update(total ? done / total : 0, `${humanBytes(done)}${total ? ` of ${humanBytes(total)}` : ''}`) };
}

/** Registers `hearth bucket …`. */
export function registerBucket(program: Command): void {
  const bucket = program.command('bucket').description('storage buckets of your account (needs "hearth config set")');

  bucket.command('create').description('create a bucket').argument('<name>', 'bucket name').action(
    action(async (name: string) => {
      await (await clientFromConfig().buckets()).create(name);
      process.stdout.write(`created ${name}\n`);
    }),
  );

  withFormat(
    bucket
      .command('list')
      .description('list your buckets, or the objects of one')
      .argument('[name]', 'a bucket: list its objects')
      .option('--prefix <prefix>', 'only keys starting with this'),
  ).action(
    action(async (name: string | undefined, f: { prefix?: string; format?: string }) => {
      const format = formatOf(f);
      const s3 = await clientFromConfig().buckets();
      if (name === undefined) {
        const list = await s3.list();
        if (format === 'json') return printJson(list);
        return printTable(['bucket', 'created'], list.map((b) => [b.name, b.creationDate]));
      }
      const objects = [];
      for await (const o of s3.objects(name, { prefix: f.prefix })) objects.push(o);
      if (format === 'json') return printJson(objects);
      printTable(['key', 'size', 'modified', 'etag'], objects.map((o) => [o.key, humanBytes(o.size), o.lastModified, o.etag]));
    }),
  );

  bucket
    .command('put')
    .description('upload a file')
    .argument('<bucket>', 'bucket name')
    .argument('<file>', 'local file')
    .argument('[key]', 'object key (default: the file name)')
    .option('--content-type <type>', 'content type', 'application/octet-stream')
    .action(
      action(async (name: string, file: string, key: string | undefined, f: { contentType: string }) => {
        let size: number;
        try {
          const st = statSync(file);
          if (!st.isFile()) throw new Error('not a regular file');
          size = st.size;
        } catch (e) {
          throw new InvalidParameterError('file', `cannot read ${file}: ${(e as Error).message}`);
        }
        const k = key ?? basename(file);
        const s3 = await clientFromConfig().buckets();
        const { bar, onProgress } = transferBar(`put ${k}`);
        try {
          await s3.put(name, k, { file }, { contentType: f.contentType, onProgress });
        } finally {
          bar.stop();
        }
        process.stdout.write(`uploaded ${file} to ${name}/${k} (${humanBytes(size)})\n`);
      }),
    );

  bucket
    .command('get')
    .description('download an object (to a file, or "-" for standard output)')
    .argument('<bucket>', 'bucket name')
    .argument('<key>', 'object key')
    .argument('[file]', 'destination (default: the key\'s last segment; "-" for stdout)')
    .action(
      action(async (name: string, key: string, file: string | undefined) => {
        const s3 = await clientFromConfig().buckets();
        if (file === '-') {
          process.stdout.write(await s3.get(name, key));
          return;
        }
        const dest = file ?? (key.split('/').pop() || 'download');
        const { bar, onProgress } = transferBar(`get ${key}`);
        let n: number;
        try {
          n = await s3.download(name, key, dest, { onProgress });
        } finally {
          bar.stop();
        }
        process.stdout.write(`downloaded ${name}/${key} to ${dest} (${humanBytes(n)})\n`);
      }),
    );

  for (const dir of ['to', 'from'] as const) {
    withFormat(
      bucket
        .command(`sync-${dir}`)
        .description(dir === 'to' ? 'upload a directory to a bucket (unchanged files skipped)' : 'download a bucket into a directory (unchanged files skipped)')
        .argument(dir === 'to' ? '<dir>' : '<bucket>', dir === 'to' ? 'local directory' : 'bucket name')
        .argument(dir === 'to' ? '<bucket>' : '<dir>', dir === 'to' ? 'bucket name (created if missing)' : 'local directory (created if missing)')
        .option('--prefix <prefix>', 'key prefix in the bucket')
        .option('--delete', 'remove what the source no longer has'),
    ).action(
      action(async (a: string, b: string, f: { prefix?: string; delete?: boolean; format?: string }) => {
        const format = formatOf(f);
        const s3 = await clientFromConfig().buckets();
        const onFile = (p: string, n: number): void => {
          if (format === 'table') process.stderr.write(`${dir === 'to' ? 'up' : 'down'} ${p} (${humanBytes(n)})\n`);
        };
        if (dir === 'to') {
          try {
            if (!statSync(a).isDirectory()) throw new Error('not a directory');
          } catch (e) {
            throw new InvalidParameterError('dir', `cannot read ${a}: ${(e as Error).message}`);
          }
        }
        const report = dir === 'to' ? await s3.syncTo(a, b, { prefix: f.prefix, delete: f.delete, onFile }) : await s3.syncFrom(a, b, { prefix: f.prefix, delete: f.delete, onFile });
        if (format === 'json') return printJson(report);
        process.stdout.write(`${report.copied.length} copied, ${report.skipped.length} unchanged, ${report.deleted.length} deleted, ${humanBytes(report.bytes)}\n`);
      }),
    );
  }

  bucket
    .command('delete')
    .description('delete objects (with keys) or an empty bucket (without; --force empties it first)')
    .argument('<bucket>', 'bucket name')
    .argument('[keys...]', 'object keys to delete')
    .option('--force', 'delete the bucket with everything in it')
    .action(
      action(async (name: string, keys: string[], f: { force?: boolean }) => {
        const s3 = await clientFromConfig().buckets();
        if (keys.length > 0) {
          for (const k of keys) await s3.deleteObject(name, k);
          process.stdout.write(`deleted ${keys.length} object${keys.length === 1 ? '' : 's'} from ${name}\n`);
          return;
        }
        await s3.delete(name, { force: f.force });
        process.stdout.write(`deleted bucket ${name}\n`);
      }),
    );
}
