/**
 * Every command's help comes from its one declaration: `driftless <command> --help` exits 0 and
 * lists every option the parser accepts, and the overview lists every command. An unknown option
 * is a usage error (exit 2) that names the command's help.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMANDS } from '../../cli/commands.ts';
import { driftless } from '../helpers/cli.ts';

describe('help from the declarations', () => {
  for (const c of COMMANDS) {
    test(`driftless ${c.name} --help: exit 0, every option listed`, async () => {
      const r = await driftless([c.name, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: driftless ${c.name}`));
      for (const name of Object.keys(c.options)) assert.match(r.stdout, new RegExp(`--${name}\\b`), `${c.name} --help lists --${name}`);
    });
  }

  test('driftless --help lists every command; an unknown option names the help', async () => {
    const r = await driftless(['--help']);
    assert.equal(r.code, 0);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c.name} `, 'm'));
    const bad = await driftless(['run', '--nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^driftless: run: Unknown option '--nope'; run `driftless run --help` for its options\n$/);
  });
});
