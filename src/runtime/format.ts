/** How error messages show values and shapes: one spelling everywhere. */

/** A value as an error message shows what it got: strings quoted (so '' and '3' read as strings), the rest as String(v). */
export function describeValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** A shape as "[2, 3]". */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
