// Runs the store conformance suite on PostgreSQL: a throwaway cluster on loopback (or HEARTH_TEST_PG_URL).
// Skips, saying why, where no PostgreSQL is installed — but never in CI (CI=true), where it must run.
import { skipUnlessPostgres, startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { runStoreConformance } from './store-conformance.ts';

let pg: TestPostgres | undefined;
runStoreConformance({
  name: 'postgres',
  skip: skipUnlessPostgres(),
  start: async () => {
    pg = await startTestPostgres();
    return pg.url;
  },
  stop: async () => {
    await pg?.stop();
  },
});
