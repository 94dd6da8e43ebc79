import { lazy, Suspense, type ComponentType, type LazyExoticComponent } from "react";
import { ChainInfoProvider } from "./lib/contracts.tsx";
import { Link, matchPath, useRoute, type Route } from "./lib/router.ts";
import { Loading } from "./lib/ui.tsx";
import { WalletMenu } from "./lib/WalletMenu.tsx";

/** What a page gets: the route's ":name" parameters and the route itself (query string). */
export interface PageProps {
  params: Record<string, string>;
  route: Route;
}

type Page = LazyExoticComponent<ComponentType<PageProps>>;

// Every page is its own chunk, loaded when first opened: the initial JavaScript is this shell and the wallet.
const DevicesPage = lazy(() => import("./devices/DevicesPage.tsx"));
const DevicePage = lazy(() => import("./devices/DevicePage.tsx"));
// Insurance and marketplace (W2).
const MyInsurancePage = lazy(() => import("./insurance/MyInsurancePage.tsx"));
const PoolPage = lazy(() => import("./insurance/PoolPage.tsx"));
const ProductsPage = lazy(() => import("./insurance/ProductsPage.tsx"));
const FileClaimPage = lazy(() => import("./insurance/FileClaimPage.tsx"));
const ClaimPage = lazy(() => import("./insurance/ClaimPage.tsx"));
const ListingsPage = lazy(() => import("./market/ListingsPage.tsx"));
const ListingPage = lazy(() => import("./market/ListingPage.tsx"));
const PurchasesPage = lazy(() => import("./market/PurchasesPage.tsx"));
const StreamPage = lazy(() => import("./market/StreamPage.tsx"));
const SellPage = lazy(() => import("./market/SellPage.tsx"));

/** The routes, first match wins. Insurance and market routes (W2) are added to this list. */
const ROUTES: { pattern: string; page: Page }[] = [
  { pattern: "/", page: DevicesPage },
  { pattern: "/devices", page: DevicesPage },
  { pattern: "/devices/:address", page: DevicePage },
  { pattern: "/insurance", page: MyInsurancePage },
  { pattern: "/insurance/pool", page: PoolPage },
  { pattern: "/insurance/products", page: ProductsPage },
  { pattern: "/insurance/claims/new", page: FileClaimPage },
  { pattern: "/insurance/claims/:id", page: ClaimPage },
  { pattern: "/market", page: ListingsPage },
  { pattern: "/market/listings/:id", page: ListingPage },
  { pattern: "/market/purchases", page: PurchasesPage },
  { pattern: "/market/streams/:id", page: StreamPage },
  { pattern: "/market/sell", page: SellPage },
];

const NAV = [
  { to: "/devices", label: "Devices", section: "devices" },
  { to: "/insurance", label: "Insurance", section: "insurance" },
  { to: "/market", label: "Marketplace", section: "market" },
];

export function App() {
  const route = useRoute();
  const found = ROUTES.map((r) => ({ r, params: matchPath(r.pattern, route.path) })).find((m) => m.params);
  const section = route.parts[0] ?? "devices";
  const PageComponent = found?.r.page;
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <Link to="/" className="brand">
          Triad
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={section === n.section ? "page" : undefined} data-testid={`nav-${n.section}`}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <WalletMenu />
      </header>
      <main id="main" tabIndex={-1}>
        <ChainInfoProvider>
          <Suspense fallback={<Loading what="Loading the page" />}>
            {PageComponent ? (
              <PageComponent params={found.params!} route={route} />
            ) : (
              <section data-testid="not-found">
                <h1>Page not found</h1>
                <p>
                  There is no page at <code>{route.path}</code>. <Link to="/">Go to your devices</Link>.
                </p>
              </section>
            )}
          </Suspense>
        </ChainInfoProvider>
      </main>
    </>
  );
}
