// `hearth account create`: an operator's command on the coordinator's machine — creates a customer (or another
// role; a resident with the rooms they live in) directly in the store of a data directory and prints its token,
// shown this once.
import type { Command } from 'commander';
import { InvalidParameterError } from '../../physics/errors.ts';
import type { Role } from '../../coordinator/store/types.ts';

const ROLES: readonly Role[] = ['customer', 'operator', 'resident', 'device'];
const EMAIL = /^[^\s@]+@[^\s@]+$/;

interface CreateFlags {
  email: string;
  credits: string;
  role: string;
  data: string;
  db?: string;
  json?: boolean;
  room: string[];
}

/** Registers `hearth account …`. */
export function registerAccount(program: Command): void {
  const account = program.command('account').description('manage accounts in a data directory (operator, on the coordinator machine)');
  account
    .command('create')
    .description('create an account and print its token (shown once)')
    .requiredOption('--email <email>', 'account email (also its S3 access key)')
    .option('--credits <eur>', 'starting credits, euros', '0')
    .option('--role <role>', `one of ${ROLES.join(', ')}`, 'customer')
    .option('--data <dir>', 'data directory of the platform', './data')
    .option('--db <url>', 'store URL (default: the SQLite file of the data directory; env HEARTH_DB)')
    .option('--room <id>', 'a room the resident lives in (repeatable; residents only)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print {id, email, role, credits, token} as JSON')
    .action(async (f: CreateFlags) => {
      if (!EMAIL.test(f.email) || f.email.length > 320) throw new InvalidParameterError('--email', `not an email address: ${JSON.stringify(f.email)}`);
      const credits = Number(f.credits);
      if (!Number.isFinite(credits) || credits < 0 || credits > 1e12) throw new InvalidParameterError('--credits', `must be a number of euros ≥ 0, got ${f.credits}`);
      if (!(ROLES as readonly string[]).includes(f.role)) throw new InvalidParameterError('--role', `must be one of ${ROLES.join(', ')}`);
      const rooms = f.room ?? [];
      if (rooms.length > 0 && f.role !== 'resident') throw new InvalidParameterError('--room', `only a resident has rooms (role is ${f.role})`);
      // Loaded here, not when the CLI starts.
      const { openDataDir } = await import('../../coordinator/server.ts');
      const { createAccount } = await import('../../coordinator/auth/tokens.ts');
      const { StoreConflictError } = await import('../../coordinator/store/types.ts');
      const { store, sealKey } = await openDataDir(f.data, f.db ?? (process.env.HEARTH_DB?.trim() || undefined));
      try {
        for (const id of rooms) {
          if ((await store.getRegistry(id))?.kind !== 'room') throw new InvalidParameterError('--room', `no room ${JSON.stringify(id)}`);
        }
        const scope = f.role === 'resident' ? { scope: { roomIds: rooms } } : {};
        const { account: a, token } = await createAccount(store, { email: f.email, credits, role: f.role as Role, sealKey, ...scope });
        if (f.json) process.stdout.write(JSON.stringify({ id: a.id, email: a.email, role: a.role, credits: a.creditsEUR, token }) + '\n');
        else process.stdout.write(`created ${a.role} ${a.email} (${a.id}) with ${a.creditsEUR} € of credits\ntoken (shown once): ${token}\n`);
      } catch (e) {
        if (e instanceof StoreConflictError) throw new InvalidParameterError('--email', `an account with email ${f.email} exists already`);
        throw e;
      } finally {
        await store.close();
      }
    });
}
