/** Argument checks shared by the layers and models: errors name the layer and the bad value. */

export function checkPositiveInt(where: string, field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`${where}: ${field} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

/** A drop rate (dropout, stochastic depth): in [0, 1), as F.dropout requires. */
export function checkRate(where: string, field: string, p: unknown): number {
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new Error(`${where}: ${field} must be in [0, 1), got ${String(p)}`);
  return p;
}
