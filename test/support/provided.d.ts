import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the dev server started by test/global-setup.ts. */
    temporalAddress: string;
    temporalNamespace: string;
  }
}
