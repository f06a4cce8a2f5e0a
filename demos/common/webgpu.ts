/**
 * What the pages say when WebGPU is missing: the reason, then what to do about it (browser
 * versions, flags, secure context), instead of a blank page or a console error.
 */

/** Why this page cannot use WebGPU before anything is tried, or null when navigator.gpu exists. */
export function webGpuMissing(): string | null {
  if (!window.isSecureContext) {
    return `This page is not a secure context (${location.protocol}//${location.host}), and browsers only offer WebGPU to secure pages.`;
  }
  if (!('gpu' in navigator) || !navigator.gpu) return 'This browser does not offer WebGPU (navigator.gpu is undefined).';
  return null;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function item(parts: (string | [string])[]): HTMLLIElement {
  // Plain strings are text, one-element arrays are code.
  const li = el('li');
  for (const p of parts) li.append(typeof p === 'string' ? document.createTextNode(p) : el('code', p[0]));
  return li;
}

/**
 * Fills `target` with the explanation. `detail` is the reason (webGpuMissing(), or the message of
 * the engine's WebGPUUnavailableError when an adapter or device could not be had).
 */
export function showWebGpuHelp(target: HTMLElement, detail: string, what = 'This page'): void {
  target.replaceChildren();
  target.className = 'notice error';
  target.setAttribute('role', 'alert');
  target.dataset.webgpu = 'unavailable';
  target.append(
    el('h2', 'WebGPU is not available here'),
    el('p', `${what} runs wgtrain's kernels on your GPU through WebGPU, so it cannot run in this browser as it is. Nothing was started.`),
    el('p', detail, 'small'),
    el('p', 'What to do:'),
  );
  const list = el('ol');
  list.append(
    item(['Use a browser with WebGPU: Chrome or Edge 113 or newer (Windows, macOS, ChromeOS; Android 121+), Safari 26+, or Firefox 141+ on Windows.']),
    item(['On Linux, start Chrome or Chromium with ', ['--enable-unsafe-webgpu --enable-features=Vulkan'], ', or enable ', ['chrome://flags/#enable-unsafe-webgpu'], ' and restart the browser.']),
    item(['Open ', ['chrome://gpu'], ' and look for “WebGPU: Hardware accelerated”. A blocklisted GPU can be tried anyway with ', ['--ignore-gpu-blocklist'], '.']),
    item(['Serve the page over https, or from ', ['http://localhost'], ' / ', ['http://127.0.0.1'], ' (', ['npm run demo'], ' does): WebGPU needs a secure context.']),
    item(['No GPU at all? Chromium’s software adapter works (slowly): ', ['--enable-unsafe-webgpu --use-vulkan=swiftshader --use-webgpu-adapter=swiftshader'], '.']),
  );
  target.append(list, el('p', `Your browser: ${navigator.userAgent}`, 'small muted'));
}

/** The header's adapter badge ("nvidia / hopper", "google / swiftshader (software)"). */
export function setAdapterBadge(text: string): void {
  const badge = document.getElementById('adapter-badge');
  if (badge) badge.textContent = text;
}
