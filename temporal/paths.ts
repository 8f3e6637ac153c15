import { fileURLToPath } from 'node:url';

/** The workflow entry the worker bundles (workflows only orchestrate; see workflows/index.ts). */
export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
