// An instance's working directory on a real filesystem: keys that would escape are refused, symlinks are never
// followed (staging or collecting), results are filtered, unchanged inputs are not uploaded back.
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { collectResults, createWorkDir, removeWorkDir, safeJoin, snapshotFiles, stageFile } from '../../src/agent/workdir.ts';

let base: string;
let outside: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'hearth-workdir-'));
  outside = join(base, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'secret');
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

let n = 0;
const fresh = (): Promise<string> => createWorkDir(join(base, 'work'), `w${n++}`);

test('safeJoin maps keys to nested paths under root', () => {
  assert.equal(safeJoin('/data/w1', 'a/b/c.txt'), '/data/w1/a/b/c.txt');
  assert.equal(safeJoin('/data/w1/', 'out.png'), '/data/w1/out.png');
  assert.equal(safeJoin('/data/w1', 'é/日本/..x/x..'), '/data/w1/é/日本/..x/x..');
  assert.equal(safeJoin('/', 'etc'), '/etc');
});

test('safeJoin refuses what could escape or is malformed, saying why', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['../x', /'\.\.'/],
    ['a/../../x', /'\.\.'/],
    ['a/..', /'\.\.'/],
    ['a//b', /empty segment/],
    ['a/', /empty segment/],
    ['./a', /'\.' segment/],
    ['a\0b', /NUL/],
  ];
  for (const [key, why] of cases) assert.throws(() => safeJoin('/data/w1', key), why, JSON.stringify(key));
});

test('property: safeJoin either throws or returns a path strictly inside root', () => {
  const root = '/data/work/w1';
  const segment = fc.oneof(
    fc.constantFrom('..', '.', '', '/', '\0', 'a', 'é', '日本', '\u{1F525}', '..\0', ' ', '\\..', '%2e%2e'),
    fc.string({ unit: 'binary', maxLength: 8 }),
  );
  const key = fc.oneof(
    fc.array(segment, { maxLength: 8 }).map((parts) => parts.join('/')),
    fc.array(segment, { maxLength: 8 }).map((parts) => parts.join('')),
    fc.string({ unit: 'binary', maxLength: 30 }),
  );
  let accepted = 0;
  let refused = 0;
  fc.assert(
    fc.property(key, (k) => {
      let out: string;
      try {
        out = safeJoin(root, k);
      } catch (e) {
        assert.ok(e instanceof Error && e.message.length > 0);
        refused++;
        return;
      }
      accepted++;
      const rel = relative(root, out);
      assert.ok(out.startsWith(root + sep), out);
      assert.ok(rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel), rel);
      assert.equal(rel.split(sep).join('/'), k, 'the key is the relative path');
      assert.ok(!out.includes('\0'));
    }),
    { numRuns: 1000 },
  );
  assert.ok(accepted > 50 && refused > 50, `both outcomes exercised: ${accepted} accepted, ${refused} refused`);
});

test('stageFile writes buffers and streams into nested directories, replacing what was there', async () => {
  const dir = await fresh();
  assert.equal(await stageFile(dir, 'a/b/c.txt', Buffer.from('hello')), 5);
  assert.equal(await stageFile(dir, 'a/d.bin', new Uint8Array([1, 2, 3])), 3);
  assert.equal(await stageFile(dir, 'stream/é.txt', Readable.from([Buffer.from('str'), Buffer.from('eam'), 'ing'])), 9);
  assert.equal(await stageFile(dir, 'a/b/c.txt', Buffer.from('hi')), 2);
  assert.equal(await readFile(join(dir, 'a/b/c.txt'), 'utf8'), 'hi');
  assert.deepEqual([...(await readFile(join(dir, 'a/d.bin')))], [1, 2, 3]);
  assert.equal(await readFile(join(dir, 'stream/é.txt'), 'utf8'), 'streaming');
  await assert.rejects(stageFile(dir, '../escape.txt', Buffer.from('x')), /'\.\.'/);
  await assert.rejects(stageFile(dir, 'a/b', Buffer.from('x')), /regular file|EISDIR/, 'a directory is not overwritten');
});

test('stageFile never follows a symlink out of the working directory', async () => {
  const dir = await fresh();
  await symlink(outside, join(dir, 'evil-dir'));
  await symlink(join(outside, 'secret.txt'), join(dir, 'evil-file'));
  await writeFile(join(dir, 'plain'), 'p');
  await assert.rejects(stageFile(dir, 'evil-dir/planted.txt', Buffer.from('x')), /symlink/);
  await assert.rejects(stageFile(dir, 'evil-dir/sub/planted.txt', Buffer.from('x')), /symlink/);
  await assert.rejects(stageFile(dir, 'evil-file', Buffer.from('overwritten')), /symlink/);
  await assert.rejects(stageFile(dir, 'plain/x', Buffer.from('x')), /not a directory/);
  assert.deepEqual((await readdir(outside)).sort(), ['secret.txt']);
  assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'secret');
});

test('collectResults lists regular files, sorted, skipping symlinks (never followed)', async () => {
  const dir = await fresh();
  await mkdir(join(dir, 'out/frames'), { recursive: true });
  await writeFile(join(dir, 'out/frames/2.png'), '22');
  await writeFile(join(dir, 'out/frames/10.png'), '1010');
  await writeFile(join(dir, 'log.txt'), 'log');
  await writeFile(join(dir, 'é.txt'), '');
  await symlink('/etc', join(dir, 'etc-link'));
  await symlink('/etc/hostname', join(dir, 'hostname-link'));
  await symlink(outside, join(dir, 'out/outside-link'));
  const files = await collectResults(dir);
  assert.deepEqual(files, [
    { path: 'log.txt', size: 3 },
    { path: 'out/frames/10.png', size: 4 },
    { path: 'out/frames/2.png', size: 2 },
    { path: 'é.txt', size: 0 },
  ]);
  assert.deepEqual(await collectResults(await fresh()), []);
});

test('collectResults filters with the task\'s whitelist and blacklist regexes', async () => {
  const dir = await fresh();
  for (const f of ['out/a.png', 'out/b.png', 'out/b.tmp', 'log.txt', 'core']) await stageFile(dir, f, Buffer.from('x'));
  const paths = async (o: { whitelist?: string; blacklist?: string }): Promise<string[]> => (await collectResults(dir, o)).map((f) => f.path);
  assert.deepEqual(await paths({ whitelist: '\\.png$' }), ['out/a.png', 'out/b.png']);
  assert.deepEqual(await paths({ blacklist: '\\.tmp$|^core$' }), ['log.txt', 'out/a.png', 'out/b.png']);
  assert.deepEqual(await paths({ whitelist: '^out/', blacklist: 'b\\.' }), ['out/a.png']);
  assert.deepEqual(await paths({ whitelist: '', blacklist: '' }), ['core', 'log.txt', 'out/a.png', 'out/b.png', 'out/b.tmp'], 'empty means unset');
  await assert.rejects(paths({ whitelist: '(' }), /resultsWhitelist/);
  await assert.rejects(paths({ blacklist: '[z-a]' }), /resultsBlacklist/);
});

test('staged inputs are skipped unless the instance changed them; new files are kept', async () => {
  const dir = await fresh();
  await stageFile(dir, 'in/unchanged.dat', Buffer.from('same'));
  await stageFile(dir, 'in/appended.dat', Buffer.from('short'));
  await stageFile(dir, 'in/rewritten.dat', Buffer.from('abcd'));
  await stageFile(dir, 'in/excluded.dat', Buffer.from('x'));
  const staged = await snapshotFiles(dir);
  assert.deepEqual([...staged.keys()].sort(), ['in/appended.dat', 'in/excluded.dat', 'in/rewritten.dat', 'in/unchanged.dat']);
  assert.equal(staged.get('in/unchanged.dat')?.size, 4);
  // What an instance does: append, rewrite in place (same size, later mtime), write new files.
  await writeFile(join(dir, 'in/appended.dat'), 'short and longer');
  await writeFile(join(dir, 'in/rewritten.dat'), 'wxyz');
  const later = new Date((staged.get('in/rewritten.dat')?.mtimeMs ?? 0) + 5000);
  await utimes(join(dir, 'in/rewritten.dat'), later, later);
  await writeFile(join(dir, 'in/excluded.dat'), 'changed but excluded');
  await writeFile(join(dir, 'result.txt'), 'r');
  const files = await collectResults(dir, { unchangedSince: staged, exclude: new Set(['in/excluded.dat']) });
  assert.deepEqual(files, [
    { path: 'in/appended.dat', size: 16 },
    { path: 'in/rewritten.dat', size: 4 },
    { path: 'result.txt', size: 1 },
  ]);
});

test('createWorkDir makes a fresh private directory; removeWorkDir removes it without following symlinks', async () => {
  const parent = join(base, 'fresh-parent', 'nested');
  const dir = await createWorkDir(parent, 'task-1-0');
  assert.equal(dir, join(parent, 'task-1-0'));
  assert.equal((await lstat(dir)).mode & 0o777, 0o700);
  await writeFile(join(dir, 'leftover'), 'x');
  assert.equal(await createWorkDir(parent, 'task-1-0'), dir);
  assert.deepEqual(await readdir(dir), [], 'a leftover of an earlier attempt is cleared');
  await assert.rejects(createWorkDir(parent, 'a/b'), /single path segment/);
  await assert.rejects(createWorkDir(parent, '..'), /'\.\.'/);

  await mkdir(join(dir, 'locked/inner'), { recursive: true });
  await writeFile(join(dir, 'locked/inner/f'), 'f');
  await chmod(join(dir, 'locked/inner'), 0o500);
  await chmod(join(dir, 'locked'), 0o500);
  await symlink(outside, join(dir, 'to-outside'));
  await symlink(join(outside, 'secret.txt'), join(dir, 'secret-link'));
  await removeWorkDir(dir);
  await assert.rejects(lstat(dir), /ENOENT/);
  assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'secret', 'the symlink target survives');
  await removeWorkDir(dir); // already gone: fine
  await assert.rejects(removeWorkDir('/'), /root/);
  await assert.rejects(removeWorkDir('relative/dir'), /absolute/);
});
