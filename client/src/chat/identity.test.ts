import { describe, expect, it } from "vitest";

import {
  EXPORT_PREFIX,
  PASSWORD_SALT,
  exportText,
  isIdentityKey,
  keyFromPassword,
  keyFromPasswordWithoutWebCrypto,
  loadIdentity,
  parseImport,
  randomIdentity,
  saveIdentity,
  splitNickname,
} from "./identity";

// Computed with Python: hashlib.pbkdf2_hmac("sha256", password, salt, 600_000, 32),
// base64url without padding. Pinned: a change would give everyone a new trip.
const SECRET_KEY = "P8T8ymCVny1pyl3c0rLCRNUBWjw033_kgJX0k-EQNI4";
const UNICODE_KEY = "zm1JlsUtCg5tCacPMmKJdnIWvz-ckiyORnnveHrdRRo";

describe("identity keys", () => {
  it("makes random keys the server accepts", () => {
    const keys = new Set(Array.from({ length: 200 }, () => randomIdentity().key));
    expect(keys.size).toBe(200);
    for (const key of keys) expect(isIdentityKey(key)).toBe(true);
  });

  it("keeps the identity across loads, and makes one when there is none", () => {
    window.localStorage.clear();
    const first = loadIdentity();
    expect(first.origin).toBe("device");
    expect(loadIdentity()).toEqual(first);
    const imported = { key: SECRET_KEY, origin: "imported" as const };
    saveIdentity(imported);
    expect(loadIdentity()).toEqual(imported);
    window.localStorage.setItem("chat.identity", '{"key":"nope","origin":"device"}');
    expect(isIdentityKey(loadIdentity().key)).toBe(true);
  });

  it("exports and imports", () => {
    const identity = randomIdentity();
    expect(exportText(identity)).toBe(EXPORT_PREFIX + identity.key);
    expect(parseImport(`  ${exportText(identity)}\n`)).toBe(identity.key);
    expect(parseImport(identity.key)).toBe(identity.key);
    expect(parseImport(identity.key.slice(1))).toBeNull();
    expect(parseImport(`${EXPORT_PREFIX}not a key`)).toBeNull();
    expect(parseImport("")).toBeNull();
  });
});

describe("name#password", () => {
  it("splits at the first #", () => {
    expect(splitNickname("alice")).toEqual({ name: "alice", password: null });
    expect(splitNickname("alice#secret")).toEqual({ name: "alice", password: "secret" });
    expect(splitNickname("alice#se#cret")).toEqual({ name: "alice", password: "se#cret" });
    expect(splitNickname("alice#")).toEqual({ name: "alice", password: null });
  });

  it("derives the pinned key with Web Crypto and without it", async () => {
    expect(await keyFromPassword("secret")).toBe(SECRET_KEY);
    const encoder = new TextEncoder();
    const salt = encoder.encode(PASSWORD_SALT);
    expect(await keyFromPasswordWithoutWebCrypto(encoder.encode("secret"), salt)).toBe(SECRET_KEY);
    expect(await keyFromPassword("pässwörd 🙂")).toBe(UNICODE_KEY);
    // Typed decomposed (as some keyboards do), it is the same password.
    expect(await keyFromPassword("pässwörd 🙂".normalize("NFD"))).toBe(UNICODE_KEY);
  }, 30_000);
});
