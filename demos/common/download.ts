/**
 * Downloads from the page (results JSON, reports, chart PNG / SVG): a temporary <a download> link. The last
 * download is also kept on window.__lastDownload so that an automated test can check its content
 * without a download folder.
 */

export interface DownloadRecord {
  name: string;
  type: string;
  /** The text of a text download; absent for a data URL. */
  text?: string;
  size: number;
}

declare global {
  interface Window {
    __lastDownload?: DownloadRecord;
  }
}

function clickLink(name: string, href: string): void {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
}

export function downloadText(name: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  window.__lastDownload = { name, type, text, size: text.length };
  clickLink(name, url);
  // The click has started the download by the time the next task runs.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function downloadDataUrl(name: string, dataUrl: string): void {
  const type = /^data:([^;,]+)/.exec(dataUrl)?.[1] ?? 'application/octet-stream';
  window.__lastDownload = { name, type, size: dataUrl.length };
  clickLink(name, dataUrl);
}

export function downloadBytes(name: string, bytes: Uint8Array, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  window.__lastDownload = { name, type, size: bytes.length };
  clickLink(name, url);
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
