/** The environment the engine runs in; browser-safe (reads `process` only where it exists). */

/** Node (not a browser page or worker, where bundlers may define a `process` shim). */
export const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/** An environment variable in Node; undefined in a browser. */
export function envVar(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}
