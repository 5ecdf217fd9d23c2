/**
 * The team's controls of this run: discovered from the check files, entered into the registry
 * (so the plan owes them like built-in ones), and the config's waivers and switched-off controls
 * checked against them (an id no check file declares is a config error, as for built-in ids).
 */
import type { Config } from '../../core/config.ts';
import { controlsOf, registerControls, unregisterControls } from '../../core/controls.ts';
import { ChecksLoadError } from '../../core/errors.ts';
import { controlOf, type FileDeclarations } from './declare.ts';
import { setDeclaredTests } from './custom-suite.ts';
import { discoverChecks } from './discover.ts';

export interface CustomControls {
  files: string[];
  declared: FileDeclarations[];
}

export async function loadCustomControls(config: Config): Promise<CustomControls> {
  const found = await discoverChecks(config);
  unregisterControls(controlsOf('custom').map((c) => c.id));
  registerControls(found.declared.flatMap((f) => f.controls.map((c) => controlOf(c.declaration, f.file))));
  setDeclaredTests(new Map(found.declared.flatMap((f) => f.controls.map((c) => [c.declaration.id, c.tests.length] as const))));
  const ids = new Set(found.declared.flatMap((f) => f.controls.map((c) => c.declaration.id)));
  const unknown = [
    ...config.policy.disabledControls.map((d, i) => ({ id: d.control, at: `${config.source.file}: /policy/disabledControls/${i}/control` })),
    ...(config.waiverList ?? []).map((w, i) => ({ id: w.control, at: `${config.waivers ?? 'waivers'}: /waivers/${i}/control` })),
  ].filter((x) => !x.id.startsWith('DL-') && !ids.has(x.id));
  if (unknown.length)
    throw new ChecksLoadError(
      unknown.map((u) => `${u.at}: unknown control "${u.id}": no check file declares it (declared: ${[...ids].join(', ') || 'none'})`).join('\n'),
    );
  return found;
}
