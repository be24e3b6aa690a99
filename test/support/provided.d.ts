import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the dev server started by test/global-setup.ts (integration tier only). */
    temporalAddress: string;
    temporalNamespace: string;
    /**
     * The workflow bundle test/global-setup.ts built once for the run: a file of bundled code
     * (integration tier only).
     */
    workflowBundlePath: string;
  }
}
