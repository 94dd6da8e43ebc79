import { useState } from "react";
import { Address } from "../lib/ui.tsx";
import { downloadText, type KeyStore } from "./keys.ts";

/**
 * The marketplace keys kept in this browser: the buyer's encryption public key, how many content keys (as a seller),
 * and export / import of the key file (`triad.web-keys/v1`).
 */
export function KeysPanel({ store, onImported }: { store: KeyStore; onImported?: () => void }) {
  const [version, setVersion] = useState(0);
  const [message, setMessage] = useState<{ ok: boolean; text: string }>();
  const file = store.read();
  void version;
  const latest = file.buyerKeys[file.buyerKeys.length - 1];
  return (
    <details className="keys" data-testid="keys-panel">
      <summary>My marketplace keys (kept in this browser)</summary>
      <dl className="facts">
        <dt>Buyer encryption key</dt>
        <dd data-testid="keys-buyer">
          {latest ? (
            <>
              public key <Address value={latest.publicKey} />, made {latest.createdAt}
              {file.buyerKeys.length > 1 && ` (and ${file.buyerKeys.length - 1} older)`}
            </>
          ) : (
            "none yet: one is made when you buy"
          )}
        </dd>
        <dt>Content keys of my listings</dt>
        <dd data-testid="keys-content">{file.contentKeys.length}</dd>
      </dl>
      <div className="row">
        <button
          type="button"
          onClick={() => downloadText(`triad-keys-${store.chainId}-${store.account}.json`, store.exportFile())}
          data-testid="keys-export"
        >
          Export keys
        </button>
        <label>
          Import a key file{" "}
          <input
            type="file"
            accept="application/json,.json"
            data-testid="keys-import"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (!f) return;
              void f.text().then((text) => {
                try {
                  const added = store.importFile(text);
                  setMessage({ ok: true, text: `${added} key${added === 1 ? "" : "s"} added` });
                  setVersion((v) => v + 1);
                  onImported?.();
                } catch (err) {
                  setMessage({ ok: false, text: (err as Error).message });
                }
              });
            }}
          />
        </label>
      </div>
      {message && (
        <p className={message.ok ? "ok" : "error"} role={message.ok ? "status" : "alert"}>
          {message.text}
        </p>
      )}
      <p className="muted">
        Whoever holds these keys can read what you bought and deliver (or read) what you listed: keep the exported file safe.
      </p>
    </details>
  );
}
