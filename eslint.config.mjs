// Lint for `npm run lint`: typescript-eslint's recommended rules with type information, the Temporal samples'
// safety rules (temporalio/samples-typescript .eslintrc.js), and the import boundaries STYLE.md promises.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

// Bare names (fs, fs/promises, child_process, …) and every `node:` specifier.
const nodeBuiltins = {
  paths: builtinModules.map((name) => ({ name, message: 'Node builtins are not allowed here.' })),
  patterns: [{ group: ['node:*'], message: 'Node builtins are not allowed here.' }],
};

export default tseslint.config(
  {
    ignores: ['node_modules/', '.tools/', '.data/', '.temporal/', 'dist/', 'test-artifacts/', 'coverage/', '**/*.cjs'],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    plugins: { '@stylistic': stylistic },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An un-awaited activity, workflow API or driver call loses its failure.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      // `const { skip: _s, ...rest } = opts` drops a key on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@stylistic/max-len': ['error', { code: 120, ignoreUrls: true }],
    },
  },
  {
    // Pure modules the workflow bundle pulls in: deterministic, no I/O.
    files: ['domain/**/*.ts', 'contracts/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', nodeBuiltins] },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox; anything heavier than types comes in as `import type`.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.paths,
          patterns: [
            ...nodeBuiltins.patterns,
            {
              group: [
                '@temporalio/activity',
                '@temporalio/worker',
                '@temporalio/client',
                'zod',
                'snowflake-sdk',
                '@duckdb/*',
                '**/activities',
                '**/warehouse',
                '**/worker',
                '**/client',
              ],
              allowTypeImports: true,
              message:
                'Workflow code may only `import type` from this module (it is not deterministic or not bundleable).',
            },
          ],
        },
      ],
    },
  },
);
