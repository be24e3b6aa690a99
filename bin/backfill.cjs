#!/usr/bin/env node
// The CLI, bundled from the TypeScript sources (rebuilt when they change; see scripts/built.cjs).
require('../scripts/built.cjs').run('cli');
