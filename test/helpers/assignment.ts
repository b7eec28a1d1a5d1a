// The work order a device receives, for tests: one board, no buckets, no limits; the fields given override.
import type { Assignment } from '../../src/protocol/device.ts';

export function testAssignment(fields: Partial<Assignment> & Pick<Assignment, 'command'>): Assignment {
  return {
    taskUuid: 'task-test',
    instanceId: 0,
    attempt: 1,
    accountId: 'acct',
    boardIndex: 0,
    env: {},
    resourceBuckets: [],
    resultBucket: null,
    resultsWhitelist: null,
    resultsBlacklist: null,
    progressRegexes: [],
    cores: 1,
    memoryMB: 0,
    checkpointable: false,
    wallTimeLimitS: null,
    ...fields,
  };
}
