// Keeps the shape of the house: each part imports only what DESIGN.md allows, and the pure core does no I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { repoRoot } from '../helpers/shared-data.ts';

const ALLOWED: Record<string, string[]> = {
  physics: [],
  control: ['physics'],
  scheduler: ['control', 'physics'],
  sim: ['physics', 'control', 'scheduler'],
  protocol: [],
  coordinator: ['protocol', 'scheduler', 'control', 'physics'],
  agent: ['protocol', 'control', 'physics'],
  sdk: ['protocol'],
  cli: ['sdk', 'sim', 'coordinator', 'agent', 'protocol', 'physics', 'control', 'scheduler'],
  web: ['protocol'],
};
const PURE = new Set(['physics', 'control', 'scheduler']);
const IMPURE_MODULES = /^(node:)?(fs|fs\/promises|net|http|https|child_process|worker_threads|dgram|dns|tls|cluster|readline|process)$/;
const IMPURE_CALLS = /\b(Date\.now|new Date\(\)|Math\.random|performance\.now|process\.(env|argv|hrtime|stdout|stderr))\b/;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : /\.(ts|tsx)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

const src = join(repoRoot, 'src');
const files = walk(src).map((f) => ({ path: f, part: relative(src, f).split(sep)[0], text: readFileSync(f, 'utf8') }));
const importRe = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

test('every source file belongs to a part of DESIGN.md', () => {
  for (const f of files) assert.ok(f.part in ALLOWED, `${relative(repoRoot, f.path)} is outside the parts`);
});

test('parts import only what DESIGN.md allows', () => {
  const bad: string[] = [];
  for (const f of files) {
    for (const m of f.text.matchAll(importRe)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith('.')) continue;
      const target = relative(src, join(f.path, '..', spec)).split(sep)[0];
      if (target !== f.part && !ALLOWED[f.part].includes(target)) bad.push(`${relative(repoRoot, f.path)} imports ${spec} (${target})`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the pure core (physics, control, scheduler) does no I/O and reads no wall clock', () => {
  const bad: string[] = [];
  for (const f of files.filter((x) => PURE.has(x.part))) {
    for (const m of f.text.matchAll(importRe)) {
      const spec = m[1] ?? m[2];
      if (IMPURE_MODULES.test(spec)) bad.push(`${relative(repoRoot, f.path)} imports ${spec}`);
    }
    const code = f.text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    const call = IMPURE_CALLS.exec(code);
    if (call) bad.push(`${relative(repoRoot, f.path)} uses ${call[0]}`);
  }
  assert.deepEqual(bad, []);
});
