/**
 * A config that cannot be used. Every problem is reported at once, one per line, each naming the
 * file, where in it (a JSON pointer, or line:column for syntax errors) and what to write instead.
 */
import { ConfigInvalidError } from '../core/errors.ts';

export interface ConfigProblem {
  /** The file as the user named it (or as the config names it, for a release file). */
  file: string;
  /** JSON pointer into the document; '' is the whole document. */
  pointer: string;
  message: string;
  /** 1-based position, for syntax errors only. */
  line?: number;
  column?: number;
  /** The line printed for this problem. */
  text: string;
}

/** Builds a problem and its printed line: `file:line:col: msg`, `file: /ptr: msg` or `file: msg`. */
export function problem(file: string, pointer: string, message: string, pos?: { line: number; column: number }): ConfigProblem {
  const text = pos ? `${file}:${pos.line}:${pos.column}: ${message}` : `${file}: ${pointer === '' ? '/' : pointer}: ${message}`;
  return { file, pointer, message, ...(pos ? { line: pos.line, column: pos.column } : {}), text };
}

/** A problem that is about the file itself (cannot read it), printed without a pointer. */
export function fileProblem(file: string, message: string): ConfigProblem {
  return { file, pointer: '', message, text: message };
}

export class ConfigError extends ConfigInvalidError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(problems.map((p) => p.text).join('\n'));
    this.problems = problems;
  }
}
