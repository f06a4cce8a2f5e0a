/**
 * Deterministic release of GPU memory: `tidy(fn)` disposes every tensor created inside `fn` except
 * the ones it returns (which move to the enclosing scope). Outside any scope, tensors live until
 * `dispose()` (or the end of a `using` block: tensors implement Symbol.dispose).
 */

/** What the scope stack needs to know about a tensor; Tensor implements it. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Set by keep(): scopes never dispose it. */
  kept: boolean;
}

type Scope = Set<Disposable> | null; // null: an untracked region (autograd's backward pass)
const stack: Scope[] = [];

export function track<T extends Disposable>(t: T): T {
  const top = stack[stack.length - 1];
  if (top) top.add(t);
  return t;
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (typeof (value as Disposable).dispose === 'function' && 'isDisposed' in (value as object)) {
    out.add(value as Disposable);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype || value instanceof Map) {
    const values = value instanceof Map ? value.values() : Object.values(value);
    for (const v of values) collect(v, out, depth + 1);
  }
}

/**
 * Runs `fn` and disposes the tensors it created, except those in its result (a tensor, or arrays,
 * plain objects and Maps holding tensors). If `fn` throws, every tensor it created is disposed and
 * the error is rethrown. `fn` must be synchronous: tensors created after an
 * `await` would land in whatever scope is open then.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    // Nothing is returned, so nothing made here can be reachable through the result: dispose all of
    // it (as TensorFlow.js does), then let the error go on. Nested scopes each dispose their own.
    stack.pop();
    disposeAll(scope, new Set());
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    disposeAll(scope, new Set());
    throw new Error('tidy() needs a synchronous function: tensors created after an await would escape the scope. Await outside tidy, or dispose() by hand.');
  }
  const keepers = new Set<Disposable>();
  collect(result, keepers);
  disposeAll(scope, keepers);
  return result;
}

/** Disposes the scope's tensors except `keepers`, which move to the enclosing scope. */
function disposeAll(scope: Set<Disposable>, keepers: Set<Disposable>): void {
  for (const t of scope) {
    if (keepers.has(t)) {
      track(t); // hand it to the enclosing scope
    } else if (!t.kept && !t.isDisposed) {
      t.dispose();
    }
  }
}

/** Marks a tensor so that no tidy() scope disposes it; the caller owns it. */
export function keep<T extends Disposable>(t: T): T {
  t.kept = true;
  return t;
}

/** Runs `fn` with tensor tracking suspended (tensors created inside belong to the caller). */
export function untracked<T>(fn: () => T): T {
  stack.push(null);
  try {
    return fn();
  } finally {
    stack.pop();
  }
}
