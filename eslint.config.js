// ESLint flat config: typescript-eslint strict type-checked, plus the house rule that
// src/protocol stays pure (no sockets, DNS, timers or logging — DESIGN.md rule 1).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const impure = [
  'net',
  'dgram',
  'dns',
  'dns/promises',
  'tls',
  'http',
  'https',
  'timers',
  'timers/promises',
  'fs',
  'fs/promises',
  'cluster',
  'child_process',
  'diagnostics_channel',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: impure.flatMap((m) => [
            { name: m, message: 'src/protocol is pure: no I/O, timers or logging.' },
            { name: `node:${m}`, message: 'src/protocol is pure: no I/O, timers or logging.' },
          ]),
          patterns: [
            {
              group: ['pino', 'pino/*', '../server/*', '../relay/*', '../dial/*'],
              message: 'src/protocol is pure.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'src/protocol is pure: time is passed in.' },
        { name: 'setInterval', message: 'src/protocol is pure: time is passed in.' },
        { name: 'setImmediate', message: 'src/protocol is pure.' },
        { name: 'console', message: 'src/protocol does not log.' },
        { name: 'process', message: 'src/protocol is pure.' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' },
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
);
