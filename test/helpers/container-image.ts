// A container image for tests and the runtime flags this machine needs. No registry is reachable from CI, so tests
// build their own image: a rootfs holding the static busybox of the busybox-static package (and a few applet links),
// imported as localhost/hearth-test:busybox.
//
// Runtime flags: when HEARTH_CONTAINER_RUNTIME is not set, setUpContainers first tries the runtime's defaults (plain
// `podman`/`docker`), and only if a hello container fails with them does it use the flags a root sandbox with hybrid
// cgroups v1 needs (the CI machine): `podman --runtime runc --storage-driver vfs --cgroup-manager cgroupfs` (crun:
// "cgroups in hybrid mode not supported") and run flags `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024`
// (otherwise "setrlimit RLIMIT_NOFILE: Operation not permitted"). It sets the two environment variables
// src/agent/container.ts reads before its first call, so the module's detection sees them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, copyFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { containerRuntime, containerRuntimeWhy, splitArgs } from '../../src/agent/container.ts';

export const IMAGE = 'localhost/hearth-test:busybox';
const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'echo', 'cat', 'ls', 'sleep', 'head', 'tail', 'wc', 'env', 'tar', 'dd', 'kill', 'pwd', 'true', 'nc'];
/** What this machine needs when the defaults fail (see the header). */
const FALLBACK = {
  runtime: 'podman --runtime runc --storage-driver vfs --cgroup-manager cgroupfs',
  runArgs: '--ulimit nofile=1024:1024 --ulimit nproc=1024:1024',
};

export function sh(argv: string[], timeoutMs = 120_000): { ok: boolean; out: string; err: string } {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error?.message ?? '') };
}

function isStaticBusybox(): boolean {
  if (!existsSync(BUSYBOX)) return false;
  // A dynamic ELF names its interpreter (/lib64/ld-linux…) near the start of the file.
  const head = readFileSync(BUSYBOX).subarray(0, 4096).toString('latin1');
  return head.startsWith('\x7fELF') && !head.includes('ld-linux') && !head.includes('ld-musl');
}

/** Builds the test image with `rt` (unless it is there already) and runs hello in it; '' when it worked, else why not. */
function prepare(rt: string[], runArgs: string[], dir: string): string {
  if (!sh([...rt, 'image', 'inspect', IMAGE]).ok) {
    const root = join(dir, 'rootfs');
    mkdirSync(join(root, 'bin'), { recursive: true });
    for (const d of ['tmp', 'proc', 'sys', 'dev', 'etc']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    for (const a of APPLETS) symlinkSync('busybox', join(root, 'bin', a));
    const tar = join(dir, 'rootfs.tar');
    const t = sh(['tar', '-cf', tar, '-C', root, '.']);
    if (!t.ok) return `tar failed: ${t.err.trim()}`;
    const imp = sh([...rt, 'import', tar, IMAGE]);
    if (!imp.ok) return `${rt.join(' ')} import failed: ${imp.err.trim().split('\n').pop() ?? ''}`;
  }
  const hello = sh([...rt, 'run', '--rm', '--network', 'none', ...runArgs, IMAGE, '/bin/sh', '-c', 'echo hello']);
  return hello.ok && hello.out.trim() === 'hello' ? '' : `${rt.join(' ')} run failed: ${hello.err.trim().split('\n').pop() ?? ''}`;
}

/** Chooses the runtime flags (see the header); '' when containers work, else why the suite skips. */
export function setUpContainers(dir: string): string {
  if (!isStaticBusybox()) return `${BUSYBOX} from busybox-static is missing (apt-get install busybox-static)`;
  if (process.env.HEARTH_CONTAINER_RUNTIME) {
    if (containerRuntime() === null) return containerRuntimeWhy();
    return prepare(splitArgs(process.env.HEARTH_CONTAINER_RUNTIME), splitArgs(process.env.HEARTH_CONTAINER_RUN_ARGS ?? ''), dir);
  }
  const whys: string[] = [];
  for (const cmd of ['podman', 'docker']) {
    if (!sh(['sh', '-c', `command -v ${cmd}`]).ok || !sh([cmd, 'info'], 20_000).ok) continue;
    const why = prepare([cmd], splitArgs(process.env.HEARTH_CONTAINER_RUN_ARGS ?? ''), dir);
    if (why === '') {
      process.env.HEARTH_CONTAINER_RUNTIME = cmd;
      return containerRuntime() === null ? containerRuntimeWhy() : '';
    }
    whys.push(why);
  }
  if (sh(['sh', '-c', 'command -v podman && command -v runc']).ok) {
    const why = prepare(splitArgs(FALLBACK.runtime), splitArgs(FALLBACK.runArgs), dir);
    if (why === '') {
      process.env.HEARTH_CONTAINER_RUNTIME = FALLBACK.runtime;
      process.env.HEARTH_CONTAINER_RUN_ARGS = FALLBACK.runArgs;
      return containerRuntime() === null ? containerRuntimeWhy() : '';
    }
    whys.push(why);
  }
  return `no working container runtime: ${whys.join('; ') || 'neither podman nor docker works here'}`;
}

