/**
 * Who you are without an account: a random 32-byte identity key made in this
 * browser and kept in localStorage. It travels only in the socket's connect auth;
 * the server turns it into your trip (a short code others recognise you by) and
 * never keeps it. Typing `name#password` as your nickname makes the key from the
 * password instead (PBKDF2-SHA256, the fixed salt and cost below), so the same trip
 * follows you to any device; the password never leaves the browser.
 */

const STORAGE_KEY = "chat.identity";
/** The PBKDF2 salt and cost: changing either gives everyone using a password a new trip. */
export const PASSWORD_SALT = "murmur/identity/v1";
export const PASSWORD_ITERATIONS = 600_000;
/** How an exported key starts, so a pasted one is recognised as what it is. */
export const EXPORT_PREFIX = "murmur-identity-v1:";

/** 32 bytes in base64url without padding: 43 characters, the last one of 16. */
const KEY_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

export type IdentityOrigin = "device" | "password" | "imported";

export interface Identity {
  key: string;
  origin: IdentityOrigin;
}

export function isIdentityKey(text: string): boolean {
  return KEY_PATTERN.test(text);
}

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function randomIdentity(): Identity {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return { key: base64url(bytes), origin: "device" };
}

// Storage may be disabled (private mode): the identity then lives as long as the tab.
let unsaved: Identity | null = null;

export function loadIdentity(): Identity {
  try {
    const parsed: unknown = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "null");
    if (isStoredIdentity(parsed)) return parsed;
  } catch {
    // Unreadable or unavailable: make a new one below.
  }
  // Storage cleared or unavailable: keep who this tab already is, else a new person.
  const identity = unsaved ?? randomIdentity();
  saveIdentity(identity);
  return identity;
}

export function saveIdentity(identity: Identity): void {
  unsaved = identity;
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(identity));
  } catch {
    // Not remembered past this tab.
  }
}

function isStoredIdentity(value: unknown): value is Identity {
  if (typeof value !== "object" || value === null) return false;
  const { key, origin } = value as Partial<Identity>;
  return (
    typeof key === "string" &&
    isIdentityKey(key) &&
    (origin === "device" || origin === "password" || origin === "imported")
  );
}

/** The text to carry your identity to another browser (its "Import" takes it). */
export function exportText(identity: Identity): string {
  return `${EXPORT_PREFIX}${identity.key}`;
}

/** The key in what was pasted (an export, or the bare key), or null. */
export function parseImport(text: string): string | null {
  let candidate = text.trim();
  if (candidate.startsWith(EXPORT_PREFIX)) candidate = candidate.slice(EXPORT_PREFIX.length).trim();
  return isIdentityKey(candidate) ? candidate : null;
}

/**
 * hack.chat's habit: `alice#secret` is the name `alice` with the password `secret`.
 * The first `#` splits; an empty password is no password.
 */
export function splitNickname(typed: string): { name: string; password: string | null } {
  const at = typed.indexOf("#");
  if (at < 0) return { name: typed, password: null };
  const password = typed.slice(at + 1);
  return { name: typed.slice(0, at), password: password.length > 0 ? password : null };
}

/**
 * The identity key a password makes: PBKDF2-SHA256 of its UTF-8 (NFC), with the
 * fixed salt and cost above. Web Crypto where the page has it (HTTPS, localhost);
 * elsewhere (plain HTTP on a LAN address) the same function from @noble/hashes,
 * loaded only then.
 */
export async function keyFromPassword(password: string): Promise<string> {
  const encoder = new TextEncoder();
  const secret = encoder.encode(password.normalize("NFC"));
  const salt = encoder.encode(PASSWORD_SALT);
  const subtle = globalThis.crypto?.subtle;
  if (subtle) {
    const material = await subtle.importKey("raw", secret, "PBKDF2", false, ["deriveBits"]);
    const bits = await subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations: PASSWORD_ITERATIONS },
      material,
      256,
    );
    return base64url(new Uint8Array(bits));
  }
  return keyFromPasswordWithoutWebCrypto(secret, salt);
}

export async function keyFromPasswordWithoutWebCrypto(secret: Uint8Array, salt: Uint8Array): Promise<string> {
  const [{ pbkdf2Async }, { sha256 }] = await Promise.all([
    import("@noble/hashes/pbkdf2.js"),
    import("@noble/hashes/sha2.js"),
  ]);
  const key = await pbkdf2Async(sha256, secret, salt, { c: PASSWORD_ITERATIONS, dkLen: 32 });
  return base64url(key);
}
