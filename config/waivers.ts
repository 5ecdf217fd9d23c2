/**
 * The waiver file the config names: schema-checked like the config, every control it names must
 * exist (a typo must not waive nothing, or something else), problems reported against the file.
 */
import { CONTROLS, isControlId } from '../core/controls.ts';
import type { Waiver } from '../core/waivers.ts';
import type { Ctx } from './context.ts';
import { ConfigError, problem } from './errors.ts';
import { translateErrors } from './messages.ts';
import { parseText, readFileBytes } from './parse.ts';
import { resolveLocal, unreadableFile } from './paths.ts';
import { validators } from './schema.ts';

export function readWaivers(written: string | undefined, ctx: Ctx, hasChecks = false): Waiver[] {
  if (!written) return [];
  const abs = resolveLocal(written, ctx.baseDir, ctx.home);
  const unreadable = unreadableFile('waiver file', written, abs);
  if (unreadable) {
    ctx.problems.push(problem(ctx.display, '/waivers', unreadable));
    return [];
  }
  try {
    const data = parseText(readFileBytes(abs, written).toString('utf8'), written);
    const validate = validators().waiverFile;
    const valid = validate(data);
    if (!valid) ctx.problems.push(...translateErrors(written, validate.errors ?? []));
    const waivers = Array.isArray((data as { waivers?: unknown })?.waivers) ? (data as { waivers: Waiver[] }).waivers : [];
    waivers.forEach((w, i) => {
      if (typeof w?.control === 'string' && !w.control.startsWith('DL-') && !hasChecks) {
        ctx.problems.push(
          problem(written, `/waivers/${i}/control`, `unknown control "${w.control}": no check files are configured (\`checks\`) to declare it`),
        );
      } else if (typeof w?.control === 'string' && /^DL-[A-Z]+-\d{3}$/.test(w.control) && !isControlId(w.control)) {
        ctx.problems.push(
          problem(
            written,
            `/waivers/${i}/control`,
            `unknown control "${w.control}": the controls are ${CONTROLS.map((c) => c.id).join(', ')} (docs/controls.md)`,
          ),
        );
      }
    });
    return valid ? waivers : [];
  } catch (err) {
    if (err instanceof ConfigError) {
      ctx.problems.push(...err.problems);
      return [];
    }
    throw err;
  }
}
