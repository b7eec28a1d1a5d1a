#!/usr/bin/env node
// The `hearth` command: registers the TypeScript loader, then hands over to src/cli/main.ts.
import { register } from 'tsx/esm/api';

// A closed pipe (`hearth … | head`) ends the command quietly instead of crashing it.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
