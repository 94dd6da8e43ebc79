import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.tsx";
import { ConfigContext, loadConfig } from "./lib/config.ts";
import { WalletProvider } from "./lib/wallet.tsx";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);

loadConfig().then(
  (config) =>
    root.render(
      <StrictMode>
        <ConfigContext.Provider value={config}>
          <WalletProvider>
            <App />
          </WalletProvider>
        </ConfigContext.Provider>
      </StrictMode>,
    ),
  (err: unknown) =>
    root.render(
      <main id="main">
        <h1>Triad</h1>
        <p role="alert" className="error" data-testid="config-error">
          {(err as Error).message}
        </p>
      </main>,
    ),
);
