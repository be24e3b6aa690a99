/** Types of scripts/built.cjs (plain JavaScript: it loads before any TypeScript can). */
export declare const ENTRIES: Record<string, string>;
/** Whether a source file is newer than the last build. */
export declare function stale(): boolean;
/** Bundles every entry into dist/. */
export declare function build(): void;
/** Runs dist/<name>.cjs, rebuilding first if stale. */
export declare function run(name: string, opts?: { sourceMaps?: boolean }): void;
