// stdout/stderr as text: a whole task's output with each line prefixed `<instanceId>> `, or one instance's raw.
import type { OutputChunk, OutputStream, Store } from '../store/types.ts';

/** Chunks read per store call. */
const PAGE = 10_000;

/** Every chunk of a task's stream (optionally one instance), oldest first; undefined when the task is invisible. */
export async function readAllOutput(store: Store, owner: string, uuid: string, stream: OutputStream, instanceId?: number): Promise<OutputChunk[] | undefined> {
  const all: OutputChunk[] = [];
  let afterSeq: number | undefined;
  for (;;) {
    const page = await store.readOutput(owner, uuid, stream, { instanceId, afterSeq, limit: PAGE });
    if (!page) return undefined;
    all.push(...page);
    if (page.length < PAGE) return all;
    afterSeq = page[page.length - 1].seq;
  }
}

/** Everything new since this reader's previous fresh read; undefined when the task is invisible. */
export async function readAllFresh(store: Store, owner: string, uuid: string, stream: OutputStream, readerId: string, instanceId?: number): Promise<OutputChunk[] | undefined> {
  const all: OutputChunk[] = [];
  for (;;) {
    const page = await store.readFreshOutput(owner, uuid, stream, readerId, { instanceId, limit: PAGE });
    if (!page) return undefined;
    all.push(...page);
    if (page.length < PAGE) return all;
  }
}

/**
 * Joins chunks of several instances into lines prefixed `<instanceId>> `. A chunk that ends mid-line is held
 * until its instance completes the line, so lines of different instances never interleave; what is still
 * unterminated at the end is emitted as a last line of its instance.
 */
export function prefixedLines(chunks: OutputChunk[]): string {
  const pending = new Map<number, string>();
  let out = '';
  for (const c of chunks) {
    const text = (pending.get(c.instanceId) ?? '') + c.text;
    const lines = text.split('\n');
    const rest = lines.pop() ?? '';
    for (const line of lines) out += `${c.instanceId}> ${line}\n`;
    if (rest === '') pending.delete(c.instanceId);
    else pending.set(c.instanceId, rest);
  }
  for (const [id, rest] of pending) out += `${id}> ${rest}\n`;
  return out;
}

/** The raw text of chunks (one instance). */
export function rawText(chunks: OutputChunk[]): string {
  return chunks.map((c) => c.text).join('');
}
