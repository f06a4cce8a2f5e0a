declare module '*.wgsl' {
  const source: string;
  export default source;
}

// The package has no "main"/"exports": import its one file directly.
declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  /** Template tag: resolves `#if ${cond}` / `#elif` / `#else` / `#endif` and inlines other values. */
  export function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string;
}
