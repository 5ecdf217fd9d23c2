/**
 * The lab supervisor's test-only drift (lab/images/infra/supervisor.py): with SUPERVISOR_DRIFT a
 * replacement comes back from the same image with a drifted launch configuration (the negative
 * control of the replacements suite); without it, exactly as it was; an unknown drift is refused
 * before anything is watched. Its pure part, run by the real python3.
 * (PYTHONDONTWRITEBYTECODE: no __pycache__ is left in lab/images/infra, the build context of the lab image.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../core/paths.ts';

const SCRIPT = path.join(REPO_ROOT, 'lab', 'images', 'infra', 'supervisor.py');
const CATTLE = { NetworkMode: 'host', ReadonlyRootfs: true, Tmpfs: { '/tmp': 'rw' }, SecurityOpt: ['no-new-privileges'], CapAdd: null, Privileged: false };

function drifted(drift: string | undefined, hc: unknown): { managed: string; hc: Record<string, unknown> } {
  const code = [
    'import importlib.util, json, sys',
    `spec = importlib.util.spec_from_file_location("supervisor", ${JSON.stringify(SCRIPT)})`,
    'm = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)',
    'print(json.dumps({"managed": m.MANAGED, "hc": m.drifted(json.loads(sys.argv[1]))}))',
  ].join('\n');
  const env = {
    PATH: process.env.PATH,
    PYTHONDONTWRITEBYTECODE: '1',
    ...(drift !== undefined ? { SUPERVISOR_DRIFT: drift, SUPERVISOR_MANAGED_LABEL: 'driftless.test.on-death' } : {}),
  };
  const r = spawnSync('python3', ['-c', code, JSON.stringify(hc)], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { managed: string; hc: Record<string, unknown> };
}

test('without SUPERVISOR_DRIFT a replacement is launched exactly as its predecessor, under the lab label', () => {
  const r = drifted(undefined, CATTLE);
  assert.equal(r.managed, 'driftless.lab.on-death');
  assert.deepEqual(r.hc, CATTLE);
});

test('with it: a writable root, no-new-privileges dropped, CAP_SYS_ADMIN added; the rest as it was', () => {
  const r = drifted('writable-root, new-privileges,cap-sys-admin', CATTLE);
  assert.equal(r.managed, 'driftless.test.on-death');
  assert.deepEqual(r.hc, { ...CATTLE, ReadonlyRootfs: false, SecurityOpt: [], CapAdd: ['SYS_ADMIN'] });
});

test('an unknown drift is refused before the engine is watched', () => {
  const r = spawnSync('python3', [SCRIPT], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, PYTHONDONTWRITEBYTECODE: '1', SUPERVISOR_DRIFT: 'writable-root,engine-sockt' },
    timeout: 10_000,
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /SUPERVISOR_DRIFT: unknown engine-sockt \(known: cap-sys-admin, new-privileges, writable-root\)/);
});
