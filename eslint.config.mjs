// One flat config for the workspace: typescript-eslint's recommended rules, Prettier owns
// formatting, and Nx's module-boundary rule keeps plugins from importing each other.
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**', '**/tmp/**', '**/.nx/**', '**/*.cjs', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          banTransitiveDependencies: false,
          depConstraints: [
            { sourceTag: 'scope:core', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'type:ordering', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'type:substrate', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'type:aaa', onlyDependOnLibsWithTags: ['scope:core'] },
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: ['scope:core', 'type:ordering', 'type:substrate', 'type:aaa'],
            },
            {
              sourceTag: 'type:tools',
              onlyDependOnLibsWithTags: ['scope:core', 'type:ordering', 'type:substrate', 'type:aaa', 'type:app'],
            },
          ],
        },
      ],
    },
  },
);
