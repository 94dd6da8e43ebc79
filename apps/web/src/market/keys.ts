import { getAddress, hexlify } from "ethers";
import { InvalidInputError, SECP256K1_N, encryptionPublicKey, generateContentKey, parsePrivateKey } from "@triad/sdk";

/**
 * The marketplace's secrets, made and kept in this browser (docs/market.md): the buyer's encryption key pair
 * (secp256k1; its public key goes into `purchase`, the seller's delivered content key is encrypted to it) and the
 * seller's content keys (AES-256 of each listed file, needed to deliver). They live in localStorage, per chain and
 * account, and are exported as a JSON file the user keeps: whoever holds a buyer key reads what was bought with it,
 * whoever holds a content key can deliver (or read) the listing. A dedicated key, never the wallet's.
 */

export const KEY_FILE_SCHEMA = "triad.web-keys/v1";

export interface BuyerKey {
  privateKey: string;
  publicKey: string;
  createdAt: string;
}

/** The content key of a listing (or of a file prepared for one, before the listing exists). */
export interface ContentKeyEntry {
  /** The listing id once listed (decimal string). */
  listingId?: string;
  contentHash: string;
  key: string;
  createdAt: string;
}

export interface KeyFile {
  schema: typeof KEY_FILE_SCHEMA;
  chainId: number;
  account: string;
  buyerKeys: BuyerKey[];
  contentKeys: ContentKeyEntry[];
}

/** Where the keys live; tests and non-browser callers pass their own. */
export interface KeyStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const storageKey = (chainId: number, account: string) => `triad.keys.${chainId}.${getAddress(account)}`;

export class KeyStore {
  constructor(
    readonly chainId: number,
    readonly account: string,
    private readonly storage: KeyStorage = globalThis.localStorage,
  ) {}

  /** Everything stored for this chain and account. */
  read(): KeyFile {
    const raw = this.storage.getItem(storageKey(this.chainId, this.account));
    const empty: KeyFile = {
      schema: KEY_FILE_SCHEMA,
      chainId: this.chainId,
      account: getAddress(this.account),
      buyerKeys: [],
      contentKeys: [],
    };
    if (!raw) return empty;
    try {
      const parsed = JSON.parse(raw) as KeyFile;
      return { ...empty, buyerKeys: parsed.buyerKeys ?? [], contentKeys: parsed.contentKeys ?? [] };
    } catch {
      return empty;
    }
  }

  private write(file: KeyFile): void {
    this.storage.setItem(storageKey(this.chainId, this.account), JSON.stringify(file));
  }

  /** The newest buyer key, made now when there is none. */
  buyerKey(): BuyerKey {
    const file = this.read();
    if (file.buyerKeys.length > 0) return file.buyerKeys[file.buyerKeys.length - 1];
    let privateKey = hexlify(generateContentKey()); // 32 random bytes from WebCrypto
    // A value of 0 or ≥ the curve order is no key (probability ~2^-128): draw again.
    while (BigInt(privateKey) === 0n || BigInt(privateKey) >= SECP256K1_N) privateKey = hexlify(generateContentKey());
    const key: BuyerKey = { privateKey, publicKey: encryptionPublicKey(privateKey), createdAt: new Date().toISOString() };
    this.write({ ...file, buyerKeys: [key] });
    return key;
  }

  /** The buyer key whose public key is `publicKey` (the one a purchase recorded), if this browser holds it. */
  buyerKeyFor(publicKey: string): BuyerKey | undefined {
    return this.read().buyerKeys.find((k) => k.publicKey.toLowerCase() === publicKey.toLowerCase());
  }

  /** Records a content key made for a file (before its listing exists). */
  addContentKey(contentHash: string, key: Uint8Array): ContentKeyEntry {
    const file = this.read();
    const entry: ContentKeyEntry = { contentHash: contentHash.toLowerCase(), key: hexlify(key), createdAt: new Date().toISOString() };
    this.write({ ...file, contentKeys: [...file.contentKeys, entry] });
    return entry;
  }

  /** Names the listing a content key was used for, once it is mined. */
  setListing(contentHash: string, key: string, listingId: bigint): void {
    const file = this.read();
    const contentKeys = file.contentKeys.map((e) =>
      e.contentHash === contentHash.toLowerCase() && e.key === key ? { ...e, listingId: listingId.toString() } : e,
    );
    this.write({ ...file, contentKeys });
  }

  /** The content key of a listing: by its id, else by its content hash. */
  contentKeyFor(listingId: bigint, contentHash: string): string | undefined {
    const keys = this.read().contentKeys;
    return (
      keys.find((e) => e.listingId === listingId.toString())?.key ??
      keys.filter((e) => e.contentHash === contentHash.toLowerCase()).pop()?.key
    );
  }

  /** The key file to download (JSON, pretty-printed). */
  exportFile(): string {
    return JSON.stringify(this.read(), null, 2);
  }

  /** Merges a key file exported earlier (this chain only); returns how many keys were new. */
  importFile(text: string): number {
    let parsed: KeyFile;
    try {
      parsed = JSON.parse(text) as KeyFile;
    } catch {
      throw new InvalidInputError("the key file is not JSON");
    }
    if (parsed?.schema !== KEY_FILE_SCHEMA) throw new InvalidInputError(`not a ${KEY_FILE_SCHEMA} key file`);
    if (parsed.chainId !== this.chainId)
      throw new InvalidInputError(`the key file is for chain ${parsed.chainId}, this is chain ${this.chainId}`);
    const file = this.read();
    let added = 0;
    for (const k of parsed.buyerKeys ?? []) {
      const privateKey = parsePrivateKey(k.privateKey, "a buyer key of the file");
      const publicKey = encryptionPublicKey(privateKey);
      if (!file.buyerKeys.some((b) => b.publicKey === publicKey)) {
        file.buyerKeys.push({ privateKey, publicKey, createdAt: k.createdAt ?? new Date().toISOString() });
        added++;
      }
    }
    for (const c of parsed.contentKeys ?? []) {
      if (!/^0x[0-9a-fA-F]{64}$/.test(c.key)) throw new InvalidInputError("a content key of the file is not 32 bytes of hex");
      if (!file.contentKeys.some((e) => e.key === c.key && e.contentHash === c.contentHash)) {
        file.contentKeys.push(c);
        added++;
      }
    }
    this.write(file);
    return added;
  }
}

/** Offers `text` as a file download (the browser's save dialog). */
export function downloadText(name: string, text: string, type = "application/json"): void {
  downloadBytes(name, new TextEncoder().encode(text), type);
}

export function downloadBytes(name: string, bytes: Uint8Array, type = "application/octet-stream"): void {
  const url = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1_000);
}
