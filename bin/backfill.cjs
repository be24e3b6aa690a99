#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so there is no build step between a change and `npx backfill`.
require('tsx/cjs');
require('../client/cli.ts');
