// @ts-check
/**
 * Lint: typescript-eslint's recommended rules, and the architecture held by rule: imports point
 * one way, down the layout table of ../shared/design.md (README, "Layout"); only probes/ (and the
 * lab, which builds containers) speak a protocol; no source file over 400 lines. Formatting is
 * prettier's (`npm run format`), checked by `npm run lint`.
 */
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

/** Who may import whom: every layer may also import itself. */
const LAYERS = {
  cli: ['core', 'config', 'providers', 'probes', 'audits', 'engine', 'fixtures', 'reports', 'lab'],
  engine: ['core', 'config', 'providers', 'audits', 'reports'],
  core: [],
  config: ['core'],
  providers: ['core', 'probes'],
  probes: ['core'],
  audits: ['core', 'probes', 'providers'],
  suites: ['fixtures', 'audits', 'core'],
  fixtures: ['core', 'audits'],
  reports: ['core'],
  lab: ['core', 'probes'],
};
/** The clients of the protocols the harness speaks: only probes/ (and lab/, for dockerode). */
const PROTOCOL_LIBRARIES = ['ssh2', 'dockerode', '@aws-sdk/*', 'undici'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'driftless-output/**', 'bench/results/**', 'bench/tmp/**', '.driftless/**', 'core/config.generated.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-empty-pattern': 'off', // Playwright fixtures take `{}` when they need nothing
      'max-lines': ['error', { max: 400, skipBlankLines: false, skipComments: false }],
    },
  },
  {
    files: Object.keys(LAYERS).map((layer) => `${layer}/**/*.ts`),
    plugins: { boundaries },
    settings: {
      'boundaries/elements': Object.keys(LAYERS).map((type) => ({ type, pattern: type })),
      'boundaries/include': Object.keys(LAYERS).map((layer) => `${layer}/**/*.ts`),
    },
    rules: {
      'boundaries/no-unknown-dependencies': 'error',
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          message: 'this import goes against the layers of the design (README, "Layout": who may import whom)',
          policies: Object.entries(LAYERS).map(([from, to]) => ({
            from: { element: { type: from } },
            allow: { to: { element: { types: { anyOf: [from, ...to] } } } },
          })),
        },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    ignores: ['probes/**', 'lab/**', 'test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: PROTOCOL_LIBRARIES, message: 'only probes/ speak a protocol: use or add a probe', allowTypeImports: false }] },
      ],
    },
  },
);
