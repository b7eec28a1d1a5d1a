// A checkpointable program for the tests that move an instance (agents, the local executor).

/**
 * Counts from what `count` holds to 40, one step per 0.2 s, writing each step to `count`; on SIGTERM it saves the
 * count and exits (what a checkpointable program does). At the end it writes where this run started.
 */
export const COUNTER = [
  "n=$(cat count 2>/dev/null || echo 0); start=$n",
  "trap 'echo $n > count; echo \"saved $n\"; exit 143' TERM",
  'echo "resume from $start"',
  'while [ $n -lt 40 ]; do n=$((n+1)); echo $n > count; echo "count $n"; sleep 0.2; done',
  'echo "done $n started at $start" > result.txt',
].join('\n');
