// Progress display for long commands: a bar on a terminal (stderr), nothing otherwise.
import { SingleBar, Presets } from 'cli-progress';

/** A progress reporter: `update(fraction, label?)` then `stop()`. Silent unless stderr is a terminal. */
export interface Progress {
  update(fraction: number, label?: string): void;
  stop(): void;
}

/** Creates a progress bar titled `title` on stderr when it is a TTY (and CI is unset); otherwise a no-op. */
export function createProgress(title: string, enabled = Boolean(process.stderr.isTTY) && !process.env.CI): Progress {
  if (!enabled) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    { format: `${title} [{bar}] {percentage}% | {label}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    Presets.shades_classic,
  );
  bar.start(1000, 0, { label: '' });
  return {
    update: (f, label = '') => bar.update(Math.round(Math.min(1, Math.max(0, f)) * 1000), { label }),
    stop: () => bar.stop(),
  };
}
