// Installs the npm dependencies when they are missing or older than package-lock.json, then builds the dashboard
// (src/web → src/web/dist) when its build is missing or older than any of its sources.
// Dependency-free on purpose: it runs before anything is installed (prestart/pretest).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { execFileSync, execSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs;
if (stale) {
  process.stderr.write('hearth: installing npm dependencies (npm ci)…\n');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}

const web = join(root, 'src', 'web');
const built = join(web, 'dist', 'index.html');
/** Newest modification time of the dashboard's sources (its build excluded), ms. @param {string} dir @returns {number} */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'dist' || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
if (existsSync(join(web, 'index.html'))) {
  const sources = Math.max(newest(web), statSync(lock).mtimeMs);
  if (!existsSync(built) || statSync(built).mtimeMs < sources) {
    process.stderr.write('hearth: building the dashboard (vite build src/web)…\n');
    execFileSync(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', web, '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  }
}
