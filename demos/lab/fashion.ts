/**
 * Fashion-MNIST for the lab page: the four IDX .gz files chosen by the user (file picker or drag
 * and drop) or, under `npm run demo`, fetched from the dev server (vite.config.ts serves the Debian
 * dataset at the URL its <meta name="wgtrain-fashion-mnist"> gives). The worker decodes them with
 * the library's loader (src/lab/data/fashion-mnist.ts); a wrong or corrupted file is reported on
 * the page with the loader's own message.
 */
import { FASHION_MNIST_FILES } from '../../src/lab/data/fashion-mnist.js';
import type { FashionFileKey, FromWorker, ToWorker } from './protocol.js';

const KEYS: FashionFileKey[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];

/** Which of the four files a name is (train/t10k × images/labels), or null. */
export function fashionKeyOf(name: string): FashionFileKey | null {
  const n = name.toLowerCase();
  const train = n.includes('train');
  const test = n.includes('t10k') || n.includes('test');
  const images = n.includes('images') || n.includes('idx3');
  const labels = n.includes('labels') || n.includes('idx1');
  if (train === test || images === labels) return null;
  return train ? (images ? 'trainImages' : 'trainLabels') : images ? 'testImages' : 'testLabels';
}

type FileState = { state: 'missing' } | { state: 'ok'; name: string; summary: string } | { state: 'error'; name: string; message: string };

export class FashionLoader {
  private readonly files = new Map<FashionFileKey, FileState>(KEYS.map((k) => [k, { state: 'missing' }]));
  /** Problems not tied to one of the four files (an unknown file name, the assembled set). */
  private readonly otherErrors: string[] = [];
  private ready: { train: number; test: number; source: string } | null = null;
  private waiters: ((ok: boolean) => void)[] = [];
  private loading = false;
  /** Files sent to the worker whose verdict has not come back yet. */
  private pendingFiles = 0;
  readonly serverUrl: string | null;

  constructor(
    private readonly post: (m: ToWorker, transfer?: Transferable[]) => void,
    private readonly el: { status: HTMLElement; list: HTMLElement; errors: HTMLElement; input: HTMLInputElement; drop: HTMLElement; server: HTMLButtonElement },
  ) {
    this.serverUrl = document.querySelector<HTMLMetaElement>('meta[name="wgtrain-fashion-mnist"]')?.content || null;
    el.input.addEventListener('change', () => {
      void this.addFiles(Array.from(el.input.files ?? []));
      el.input.value = '';
    });
    el.drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      el.drop.classList.add('over');
    });
    el.drop.addEventListener('dragleave', () => el.drop.classList.remove('over'));
    el.drop.addEventListener('drop', (e) => {
      e.preventDefault();
      el.drop.classList.remove('over');
      void this.addFiles(Array.from(e.dataTransfer?.files ?? []));
    });
    el.server.hidden = this.serverUrl === null;
    el.server.addEventListener('click', () => void this.loadFromServer());
    this.render();
  }

  get loaded(): boolean {
    return this.ready !== null;
  }

  async addFiles(files: File[]): Promise<void> {
    this.otherErrors.length = 0;
    const batch: { key: FashionFileKey; name: string; bytes: ArrayBuffer }[] = [];
    for (const f of files) {
      const key = fashionKeyOf(f.name);
      if (!key) {
        this.otherErrors.push(`“${f.name}” is not one of the Fashion-MNIST files (expected ${Object.values(FASHION_MNIST_FILES).join(', ')}).`);
        continue;
      }
      batch.push({ key, name: f.name, bytes: await f.arrayBuffer() });
    }
    if (batch.length > 0) {
      this.ready = null;
      this.pendingFiles += batch.length;
      this.setLoading(true);
      this.post({ type: 'fashion-files', files: batch }, batch.map((b) => b.bytes));
    }
    this.render();
  }

  /** Fetches the files from the dev server; resolves with whether Fashion-MNIST is loaded. */
  loadFromServer(): Promise<boolean> {
    if (!this.serverUrl) return Promise.resolve(false);
    this.otherErrors.length = 0;
    this.setLoading(true);
    this.post({ type: 'fashion-url', url: new URL(this.serverUrl, location.href).href });
    this.render();
    return this.whenSettled();
  }

  /** Resolves when the current load finishes (true: loaded). */
  whenSettled(): Promise<boolean> {
    if (!this.loading) return Promise.resolve(this.loaded);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private setLoading(on: boolean): void {
    this.loading = on;
    if (!on) {
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w(this.loaded);
    }
  }

  /** Handles the worker's fashion-* messages; false for other messages. */
  handle(m: FromWorker): boolean {
    switch (m.type) {
      case 'fashion-file':
        this.files.set(m.key, m.ok ? { state: 'ok', name: m.name, summary: m.summary } : { state: 'error', name: m.name, message: m.message });
        this.pendingFiles = Math.max(0, this.pendingFiles - 1);
        // The worker goes on to assemble the set only when all four are good.
        if (this.pendingFiles === 0 && ![...this.files.values()].every((f) => f.state === 'ok')) this.setLoading(false);
        break;
      case 'fashion-ready':
        this.ready = { train: m.train, test: m.test, source: m.source };
        for (const k of KEYS) if (this.files.get(k)!.state !== 'ok') this.files.set(k, { state: 'ok', name: FASHION_MNIST_FILES[k], summary: 'from the server' });
        this.setLoading(false);
        break;
      case 'fashion-error':
        this.ready = null;
        this.otherErrors.push(m.message);
        this.setLoading(false);
        break;
      default:
        return false;
    }
    this.render();
    return true;
  }

  private render(): void {
    const { status, list, errors } = this.el;
    status.dataset.loaded = String(this.loaded);
    status.textContent = this.ready
      ? `Fashion-MNIST loaded from ${this.ready.source}: ${this.ready.train} training and ${this.ready.test} test images.`
      : this.loading
        ? 'Fashion-MNIST: reading…'
        : 'Fashion-MNIST: not loaded (the synthetic dataset needs no files).';
    list.replaceChildren(
      ...KEYS.map((k) => {
        const f = this.files.get(k)!;
        const li = document.createElement('li');
        li.dataset.file = k;
        li.className = f.state;
        li.textContent = f.state === 'ok' ? `${FASHION_MNIST_FILES[k]} — ${f.summary}` : f.state === 'error' ? `${FASHION_MNIST_FILES[k]} — not usable (${f.name})` : FASHION_MNIST_FILES[k];
        return li;
      }),
    );
    const messages = [...[...this.files.values()].flatMap((f) => (f.state === 'error' ? [f.message] : [])), ...this.otherErrors];
    errors.replaceChildren();
    if (messages.length) {
      const p = document.createElement('p');
      p.style.margin = '0 0 .3rem';
      p.textContent = messages.length === 1 ? 'This file could not be read:' : 'These files could not be read:';
      const ul = document.createElement('ul');
      for (const msg of messages) {
        const li = document.createElement('li');
        li.textContent = msg;
        ul.append(li);
      }
      const hint = document.createElement('p');
      hint.className = 'small';
      hint.style.margin = '.3rem 0 0';
      hint.textContent =
        'The files come from github.com/zalandoresearch/fashion-mnist (data/fashion) or, on Debian, the dataset-fashion-mnist package. “bad gzip data” usually means a download that stopped early: fetch the file again.';
      errors.append(p, ul, hint);
    }
  }
}
