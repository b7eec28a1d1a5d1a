// One read at a time for the pages that follow live events (no DOM: unit-tested under Node).

/**
 * A read that follows live events without piling up requests: the function returned starts `fn`, or, while a run
 * is in flight, asks for one more after it (however often it is asked meanwhile: one). The run after is dropped once
 * `stopped()` says the reader is gone. Failures of `fn` are ignored: the next ask reads again.
 */
export function singleFlight(fn: () => Promise<unknown>, stopped: () => boolean = () => false): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    again = false;
    fn()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        if (again && !stopped()) run();
      });
  };
  return run;
}
