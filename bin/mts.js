#!/usr/bin/env node
// The compiled CLI (npm run build); the bin never needs TypeScript tooling at run time.
import '../dist/services/cli/main.js';
