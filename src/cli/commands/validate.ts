// `hearth validate`: checks the physics against published validation cases; `validate vdi6007 FILE.json` runs one
// VDI 6007-1 room-model case and prints its hourly means and deviation as one JSON object.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ParseError } from '../../physics/errors.ts';
import { parseVdi6007Case, runVdi6007Case } from '../../physics/vdi6007.ts';

/** Parses JSON text; a syntax error becomes a ParseError with the 1-based line of the failure. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ');
    const at = jsonErrorOffset(text);
    const line = text.slice(0, at).split('\n').length;
    throw new ParseError(source, line, `invalid JSON: ${msg}`);
  }
}

/** Offset of the first JSON syntax error in `text` (a small recursive-descent scanner; text.length if none found). */
export function jsonErrorOffset(text: string): number {
  class At extends Error {
    constructor(readonly offset: number) {
      super(`JSON syntax error at ${offset}`);
    }
  }
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const fail = (): never => {
    throw new At(i);
  };
  const lit = (w: string): void => {
    if (text.startsWith(w, i)) i += w.length;
    else fail();
  };
  const str = (): void => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      i += text[i] === '\\' ? 2 : 1;
    }
    if (i >= text.length) fail();
    i++;
  };
  const num = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail();
    else i += m[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else fail();
      }
    } else if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else num();
  };
  try {
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (e) {
    if (e instanceof At) return Math.min(e.offset, text.length);
    throw e;
  }
}

/**
 * Runs one VDI 6007 case file: returns the JSON line printed by `hearth validate vdi6007` (series of
 * [time s, hourly mean °C or W] at the reference times, then the max deviation, threshold and verdict) and the verdict.
 */
export function validateVdi6007File(path: string): { line: string; pass: boolean } {
  const json = parseJsonText(readFileSync(path, 'utf8'), path);
  const r = runVdi6007Case(parseVdi6007Case(json));
  const line = JSON.stringify({
    case: r.case,
    quantity: r.quantity,
    unit: r.unit,
    series: r.series,
    maxAbsDeviation: r.maxAbsDeviation,
    maxAbsDeviationHours1to23: r.maxAbsDeviationHours1to23,
    threshold: r.threshold,
    pass: r.pass,
  });
  return { line, pass: r.pass };
}

/** Registers the `validate` command on the program. */
export function registerValidate(program: Command): void {
  const validate = program.command('validate').description('check the physics against published validation cases');
  validate
    .command('vdi6007')
    .description('run a VDI 6007-1 room-model case file and print its hourly means vs the reference as JSON')
    .argument('<file>', 'case file (JSON, format vdi6007-ibpsa-testcase/1)')
    .action((file: string) => {
      const { line, pass } = validateVdi6007File(file);
      process.stdout.write(`${line}\n`);
      // The JSON is printed either way; a case outside its threshold makes the command fail (exit 1).
      if (!pass) process.exitCode = 1;
    });
}
