/**
 * The experiment's setup in the page's URL, so that a link reproduces it: the draft spec (all of
 * it, cells and margins included) and the two run options, as
 *
 *   lab.html#spec=<base64url of the spec's UTF-8 JSON>&quick=1&curve=0
 *
 * The fragment never reaches a server. Decoding checks only that it is a JSON object: the page
 * validates it like any other draft and marks its problems.
 */
import type { Draft } from './form.js';

export interface Setup {
  draft: Draft;
  quick: boolean;
  testCurve: boolean;
}

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/** The URL fragment (without '#') for a setup. */
export function encodeSetup(s: Setup): string {
  const params = new URLSearchParams();
  params.set('spec', toBase64Url(JSON.stringify(s.draft)));
  if (s.quick) params.set('quick', '1');
  if (!s.testCurve) params.set('curve', '0');
  return params.toString();
}

/** The setup in a URL fragment; null when the fragment has none; an error message when it is unreadable. */
export function decodeSetup(hash: string): Setup | { error: string } | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const encoded = params.get('spec');
  if (encoded === null) return null;
  let draft: unknown;
  try {
    draft = JSON.parse(fromBase64Url(encoded));
  } catch (e) {
    return { error: `The link's experiment spec could not be read (${(e as Error).message}); the page shows its default instead.` };
  }
  if (draft === null || typeof draft !== 'object' || Array.isArray(draft)) return { error: "The link's experiment spec is not a JSON object; the page shows its default instead." };
  return { draft: draft as Draft, quick: params.get('quick') === '1', testCurve: params.get('curve') !== '0' };
}
