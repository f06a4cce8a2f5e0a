/**
 * Where the runner keeps its files: results.jsonl, spec.json, per-run metric streams and
 * checkpoints, all under one output folder, addressed by relative paths with '/' separators.
 *
 * The runner only needs the few operations below, so the same runner works under Node (nodeStore:
 * the file system, durable writes) and in a browser page (the headless command's --browser mode
 * forwards each call to Node, see src/cli/lab-browser.ts).
 */

export interface RunStore {
  /** The folder, for messages. */
  readonly root: string;
  /** The file's text, or null when it does not exist. */
  readText(path: string): Promise<string | null>;
  /** The file's bytes, or null when it does not exist. */
  readBytes(path: string): Promise<Uint8Array | null>;
  /** Replaces the file atomically (temp file, flushed to disk, renamed): never half a file. */
  write(path: string, data: string | Uint8Array): Promise<void>;
  /** Appends text and flushes it to disk before returning. */
  append(path: string, text: string): Promise<void>;
  /** Removes the file if it exists. */
  remove(path: string): Promise<void>;
}

/**
 * Checks a store path: relative, '/'-separated, each part a plain name (not empty, '.' or '..',
 * no backslash, colon or NUL), so that no name, whatever it is, reaches outside the store's folder.
 */
export function checkStorePath(root: string, path: unknown): string[] {
  const bad = (why: string) => new Error(`store ${root}: refusing the path ${JSON.stringify(path)}: ${why} (paths are relative, '/'-separated names inside the folder)`);
  if (typeof path !== 'string' || path.length === 0) throw bad('not a non-empty string');
  const parts = path.split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..') throw bad(part === '..' ? "'..' would leave the folder" : 'an empty or "." part');
    if (/[\\:\0]/.test(part)) throw bad('a backslash, colon or NUL in a name');
  }
  return parts;
}

/** The store of a folder on disk (Node). Parent folders are made as needed; nothing is written outside it. */
export async function nodeStore(root: string): Promise<RunStore> {
  const fs = await import('node:fs/promises');
  const { dirname, join, resolve, sep } = await import('node:path');
  const base = resolve(root);
  const inside = base.endsWith(sep) ? base : base + sep;
  const full = (p: string) => {
    const target = join(base, ...checkStorePath(root, p));
    // Belt and braces: the joined path must still lie inside the folder.
    if (!target.startsWith(inside)) throw new Error(`store ${root}: refusing the path ${JSON.stringify(p)}: it resolves outside the folder`);
    return target;
  };
  const missing = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'ENOENT';
  const ensureDir = (p: string) => fs.mkdir(dirname(p), { recursive: true });
  let counter = 0;
  return {
    root,
    async readText(path) {
      try {
        return await fs.readFile(full(path), 'utf8');
      } catch (e) {
        if (missing(e)) return null;
        throw e;
      }
    },
    async readBytes(path) {
      try {
        return new Uint8Array(await fs.readFile(full(path)));
      } catch (e) {
        if (missing(e)) return null;
        throw e;
      }
    },
    async write(path, data) {
      const target = full(path);
      await ensureDir(target);
      const tmp = `${target}.tmp-${process.pid}-${counter++}`;
      const fh = await fs.open(tmp, 'w');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.rename(tmp, target);
    },
    async append(path, text) {
      const target = full(path);
      await ensureDir(target);
      const fh = await fs.open(target, 'a');
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
    async remove(path) {
      await fs.rm(full(path), { force: true });
    },
  };
}
